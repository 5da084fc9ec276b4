"""Theorems 4.1-4.3 (Appendix C.1-C.4): the L2-optimal estimate δ-hallucinates."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deltahall.theory import (
    delta_hallucinates,
    theorem_4_1_construction,
    theorem_4_2_construction,
    theorem_4_3_construction,
)

deltas = st.floats(1e-6, 1.0)
seeds = st.integers(0, 2**31 - 1)
# no ε below 1e-6: ‖μ‖ of order 1e-165 would underflow in the norm, a test artefact
epsilons = st.one_of(st.just(0.0), st.floats(1e-6, 5.0))


def _probs(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(n)) * 0.9 + 0.1 / n  # all > 0


def _modes_where_peak_exceeds_delta_do_not_hallucinate(states, delta: float) -> None:
    peaks = states.peak_densities()
    for i in np.flatnonzero(peaks > delta):
        assert not delta_hallucinates(states.density(states.means[i]), delta)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), deltas, seeds)
def test_4_1_optimum_hallucinates(n: int, dim: int, delta: float, seed: int) -> None:
    s = theorem_4_1_construction(n, dim, delta, _probs(seed, n))
    opt = s.optimal_estimate()
    assert np.linalg.norm(opt) <= 1e-9 * (1 + np.abs(s.means).max())
    dens = s.density(np.zeros(dim))
    # (C.4) and the corrected (C.6): every f_i(0) ≤ (2π)^(-d/2) δ, which is ≤ δ
    assert np.all(dens <= (2 * np.pi) ** (-dim / 2) * delta * (1 + 1e-9))
    assert delta_hallucinates(s.density(opt), delta)
    _modes_where_peak_exceeds_delta_do_not_hallucinate(s, delta)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5), st.integers(1, 4), deltas, seeds)
def test_4_1_with_general_covariances(n: int, dim: int, delta: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n - 1, dim, dim)) * rng.uniform(0.1, 3)
    covs = a @ np.swapaxes(a, 1, 2) + 0.05 * np.eye(dim)
    s = theorem_4_1_construction(n, dim, delta, _probs(seed, n), covs)
    np.testing.assert_allclose(s.covariances[:-1], covs)
    assert delta_hallucinates(s.density(s.optimal_estimate()), delta)


def test_4_1_paper_denominator_fails_without_the_inverse() -> None:
    """The paper's m² = (−2 ln δ − ln det Σ)/(1ᵀ Σ 1) breaks for Σ = 4 I; 1ᵀ Σ⁻¹ 1 does not."""
    delta, cov = 0.01, 4 * np.eye(2)
    m_paper = math.sqrt((-2 * math.log(delta) - math.log(16.0)) / 8.0)
    assert stats.multivariate_normal(-m_paper * np.ones(2), cov).pdf(np.zeros(2)) > delta
    s = theorem_4_1_construction(2, 2, delta, [0.5, 0.5], cov[None])
    assert s.density(np.zeros(2))[0] <= delta


def test_4_1_paper_sigma_n_fails_and_ours_holds() -> None:
    """Paper: Σ_N = δ^(2/d) I. With N=2, d=1, δ=.5, p=(.1,.9), f_N(0) ≈ 0.771 > δ."""
    delta, p = 0.5, np.array([0.1, 0.9])
    s = theorem_4_1_construction(2, 1, delta, p)
    mu_n = s.means[1, 0]
    assert mu_n == pytest.approx(-(0.1 / 0.9) * math.sqrt(-2 * math.log(delta)))
    paper = stats.norm(mu_n, math.sqrt(delta**2)).pdf(0.0)
    assert paper == pytest.approx(0.771, abs=1e-3) and paper > delta
    assert s.covariances[1, 0, 0] == pytest.approx(delta**-2)
    assert s.density(np.zeros(1))[1] <= delta


def test_4_1_validates() -> None:
    with pytest.raises(ValueError, match="strictly positive"):
        theorem_4_1_construction(2, 1, 0.1, [1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        theorem_4_1_construction(3, 2, 0.1, [0.2, 0.3, 0.5], np.eye(2)[None])


def _ball_points(rng: np.random.Generator, dim: int, eps: float, n: int) -> np.ndarray:
    """n points in the closed ε-ball, half of them on its boundary (the worst case)."""
    u = rng.normal(size=(n, dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    radii = np.where(np.arange(n) % 2 == 0, eps, eps * rng.uniform(size=n) ** (1 / dim))
    return u * radii[:, None]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 4, 6]), st.integers(1, 5), deltas, epsilons, seeds)
def test_4_2_every_estimate_in_the_eps_ball_hallucinates(
    n: int, dim: int, delta: float, eps: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    s = theorem_4_2_construction(n, dim, delta, eps, _probs(seed, n), scale_c=1.0 + 1e-6)
    assert np.linalg.norm(s.optimal_estimate()) <= 1e-9 * (1 + np.abs(s.means).max())
    assert np.all(np.linalg.norm(s.means, axis=1) >= math.sqrt(-2 * math.log(delta)) + eps)
    np.testing.assert_allclose(s.covariances, np.broadcast_to(np.eye(dim), (n, dim, dim)))
    assert delta_hallucinates(s.density(s.optimal_estimate()), delta)
    pts = _ball_points(rng, dim, eps, 64)
    assert np.all(delta_hallucinates(s.density(pts), delta))
    _modes_where_peak_exceeds_delta_do_not_hallucinate(s, delta)


def test_4_2_pairing_by_hand() -> None:
    # N=2, d=1, δ=e^(-2): R = 2 + ε = 3; w = .75: μ_1 = 2·3·.75/.25 = 18, μ_2 = −2·3·.75/.75 = −6
    s = theorem_4_2_construction(2, 1, math.exp(-2), 1.0, [0.25, 0.75], scale_c=2.0)
    np.testing.assert_allclose(s.means[:, 0], [18.0, -6.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_states": 3, "probs": [0.2, 0.3, 0.5]}, "even"),
        ({"scale_c": 1.0}, "scale_c"),
        ({"epsilon": -1.0}, "epsilon"),
    ],
)
def test_4_2_validates(kwargs: dict, match: str) -> None:
    base = {"n_states": 2, "dim": 1, "delta": 0.1, "epsilon": 0.1, "probs": [0.5, 0.5]}
    with pytest.raises(ValueError, match=match):
        theorem_4_2_construction(**{**base, **kwargs})


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([2, 4]),
    st.integers(1, 4),
    st.integers(1, 5),
    deltas,
    st.floats(0.1, 4.0),
    epsilons,
    seeds,
)
def test_4_3_lipschitz_estimator_hallucinates_at_every_hint(
    n: int, dim: int, dim_x: int, delta: float, lip: float, bound: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    s = theorem_4_3_construction(n, dim, delta, lip, bound, _probs(seed, n))
    w = rng.normal(size=(dim, dim_x))
    w *= lip / np.linalg.norm(w, 2)  # operator norm L: A* is exactly L-Lipschitz
    x = rng.normal(size=dim_x)

    def estimator(inputs: np.ndarray) -> np.ndarray:  # optimal at X: A*(X) = Σ p_i μ_i
        return (inputs - x) @ w.T + s.optimal_estimate()

    hints = rng.normal(size=(n, dim_x))
    hints *= bound * rng.uniform(0.5, 1.0, size=(n, 1)) / np.linalg.norm(hints, axis=1)[:, None]
    assert np.all(np.linalg.norm(hints, axis=1) <= bound + 1e-12)
    assert delta_hallucinates(s.density(estimator(x)), delta)
    assert np.all(delta_hallucinates(s.density(estimator(x + hints)), delta))
