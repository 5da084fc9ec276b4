"""Theorems 4.1-4.3 (Appendix C.1-C.4): the L2-optimal estimate δ-hallucinates."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deltahall.theory import (
    corollary_4_2_1_construction,
    delta_hallucinates,
    theorem_4_1_construction,
    theorem_4_2_construction,
    theorem_4_3_construction,
)

# δ as a fraction of the unit Gaussian's peak (2π)^(-d/2): every HCDR stays non-empty
fractions = st.floats(1e-6, 0.999)
seeds = st.integers(0, 2**31 - 1)
# no ε below 1e-6: ‖μ‖ of order 1e-165 would underflow in the norm, a test artefact
epsilons = st.one_of(st.just(0.0), st.floats(1e-6, 5.0))


def _probs(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(n)) * 0.9 + 0.1 / n  # all > 0


def _unit_peak(dim: int) -> float:
    return (2 * np.pi) ** (-dim / 2)


def assert_only_the_estimates_hallucinate(states, delta: float, estimates: np.ndarray) -> None:
    """The theorem's content: every state has a non-empty HCDR (its mean lies inside it and is
    not flagged), yet every estimate given is flagged. With an empty HCDR the check is vacuous."""
    assert np.all(states.peak_densities() > delta)
    for mean in states.means:
        assert not delta_hallucinates(states.density(mean), delta)
    assert np.all(delta_hallucinates(states.density(estimates), delta))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.integers(1, 5), fractions, seeds)
def test_4_1_optimum_hallucinates(n: int, dim: int, fraction: float, seed: int) -> None:
    delta = fraction * _unit_peak(dim)
    s = theorem_4_1_construction(n, dim, delta, _probs(seed, n))
    opt = s.optimal_estimate()
    assert np.linalg.norm(opt) <= 1e-9 * (1 + np.abs(s.means).max())
    # (C.4) and, for state N, the pushed-out mean: every f_i(0) ≤ (2π)^(-d/2) δ < δ
    assert np.all(s.density(np.zeros(dim)) <= _unit_peak(dim) * delta * (1 + 1e-9))
    assert_only_the_estimates_hallucinate(s, delta, opt)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5), st.integers(1, 4), fractions, seeds)
def test_4_1_with_general_covariances(n: int, dim: int, fraction: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, dim, dim)) * rng.uniform(0.1, 3)
    covs = a @ np.swapaxes(a, 1, 2) + 0.05 * np.eye(dim)
    peaks = _unit_peak(dim) / np.sqrt(np.linalg.det(covs))
    delta = fraction * peaks.min()
    s = theorem_4_1_construction(n, dim, delta, _probs(seed, n), covs)
    np.testing.assert_allclose(s.covariances, covs)
    assert_only_the_estimates_hallucinate(s, delta, s.optimal_estimate())


def test_4_1_by_hand() -> None:
    """N=2, d=1, δ=.1, p=(.1,.9): m_1 = √(−2 ln .1) = 2.14597, μ_2 = −m_1/9 reaches only
    q_2 = m_1²/81 of the needed −2 ln δ, so both means are scaled by c = 9."""
    s = theorem_4_1_construction(2, 1, 0.1, [0.1, 0.9])
    m_1 = math.sqrt(-2 * math.log(0.1))
    np.testing.assert_allclose(s.means[:, 0], [9 * m_1, -m_1])
    # f_i(0) = (2π)^(-1/2) exp(−c² m_i²/2): δ^81 for state 1 (c² = 81), δ for state 2
    np.testing.assert_allclose(
        s.density(np.zeros(1)), np.array([0.1**81, 0.1]) / math.sqrt(2 * math.pi)
    )


def test_4_1_paper_denominator_fails_without_the_inverse() -> None:
    """The paper's m² = (−2 ln δ − ln det Σ)/(1ᵀ Σ 1) breaks for Σ = 4 I; 1ᵀ Σ⁻¹ 1 does not."""
    delta, cov = 0.01, 4 * np.eye(2)
    m_paper = math.sqrt((-2 * math.log(delta) - math.log(16.0)) / 8.0)
    assert stats.multivariate_normal(-m_paper * np.ones(2), cov).pdf(np.zeros(2)) > delta
    s = theorem_4_1_construction(2, 2, delta, [0.5, 0.5], np.stack([cov, np.eye(2)]))
    assert s.density(np.zeros(2))[0] <= delta


def test_4_1_paper_sigma_n_fails_both_ways() -> None:
    """Σ_N = δ^(2/d) I (the paper's text) gives f_N(0) ≈ 0.771 > δ at N=2, d=1, δ=.5,
    p=(.1,.9); Σ_N = δ^(-2/d) I (its algebra) has peak (2π)^(-1/2) δ < δ: an empty HCDR."""
    delta = 0.5
    mu_n = -(0.1 / 0.9) * math.sqrt(-2 * math.log(delta))
    assert stats.norm(mu_n, delta).pdf(0.0) == pytest.approx(0.771, abs=1e-3)
    assert stats.norm(mu_n, 1 / delta).pdf(mu_n) < delta


def test_4_1_validates() -> None:
    with pytest.raises(ValueError, match="strictly positive"):
        theorem_4_1_construction(2, 1, 0.1, [1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        theorem_4_1_construction(3, 2, 0.1, [0.2, 0.3, 0.5], np.eye(2)[None])
    with pytest.raises(ValueError, match="state 0's peak density 0.398942 is <= delta"):
        theorem_4_1_construction(2, 1, 0.5, [0.5, 0.5])
    with pytest.raises(ValueError, match="n_states"):  # N = 1: the optimum is the mode
        theorem_4_1_construction(1, 1, 0.1, [1.0])


def test_corollary_4_2_1_a_fitted_l2_estimator_hallucinates_at_every_input() -> None:
    """S = 3 inputs (one-hot X_j), each A(X_j) from C.1. Least squares over samples of all
    inputs (the empirical L2 minimiser over linear maps, which contain the optimum) lands in
    no HCDR at any X_j, while every state's mean is inside its own."""
    rng = np.random.default_rng(0)
    delta, dim = 0.05, 2
    probs = np.array([[0.5, 0.5], [0.2, 0.8], [0.7, 0.3]])
    worlds = corollary_4_2_1_construction(dim, delta, probs)
    inputs, targets = [], []
    for j, world in enumerate(worlds):
        outputs, _ = world.sample(rng, 20_000)
        inputs.append(np.tile(np.eye(len(worlds))[j], (len(outputs), 1)))
        targets.append(outputs)
    weights, *_ = np.linalg.lstsq(np.concatenate(inputs), np.concatenate(targets), rcond=None)
    for j, world in enumerate(worlds):
        assert_only_the_estimates_hallucinate(world, delta, weights[j])
    with pytest.raises(ValueError, match="at least one input"):
        corollary_4_2_1_construction(dim, delta, np.zeros((0, 2)))


def _ball_points(rng: np.random.Generator, dim: int, eps: float, n: int) -> np.ndarray:
    """n points in the closed ε-ball, half of them on its boundary (the worst case)."""
    u = rng.normal(size=(n, dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    radii = np.where(np.arange(n) % 2 == 0, eps, eps * rng.uniform(size=n) ** (1 / dim))
    return u * radii[:, None]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 4, 6]), st.integers(1, 5), fractions, epsilons, seeds)
def test_4_2_every_estimate_in_the_eps_ball_hallucinates(
    n: int, dim: int, fraction: float, eps: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    delta = fraction * _unit_peak(dim)
    s = theorem_4_2_construction(n, dim, delta, eps, _probs(seed, n), scale_c=1.0 + 1e-6)
    assert np.linalg.norm(s.optimal_estimate()) <= 1e-9 * (1 + np.abs(s.means).max())
    assert np.all(np.linalg.norm(s.means, axis=1) >= math.sqrt(-2 * math.log(delta)) + eps)
    np.testing.assert_allclose(s.covariances, np.broadcast_to(np.eye(dim), (n, dim, dim)))
    pts = _ball_points(rng, dim, eps, 64)
    assert_only_the_estimates_hallucinate(s, delta, np.vstack([s.optimal_estimate(), pts]))


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
        ({"delta": 0.4}, "HCDR would be empty"),
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
    fractions,
    st.floats(0.1, 4.0),
    epsilons,
    seeds,
)
def test_4_3_lipschitz_estimator_hallucinates_at_every_hint(
    n: int, dim: int, dim_x: int, fraction: float, lip: float, bound: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    delta = fraction * _unit_peak(dim)
    s = theorem_4_3_construction(n, dim, delta, lip, bound, _probs(seed, n))
    w = rng.normal(size=(dim, dim_x))
    w *= lip / np.linalg.norm(w, 2)  # operator norm L: A* is exactly L-Lipschitz
    x = rng.normal(size=dim_x)

    def estimator(inputs: np.ndarray) -> np.ndarray:  # optimal at X: A*(X) = Σ p_i μ_i
        return (inputs - x) @ w.T + s.optimal_estimate()

    hints = rng.normal(size=(n, dim_x))
    hints *= bound * rng.uniform(0.5, 1.0, size=(n, 1)) / np.linalg.norm(hints, axis=1)[:, None]
    assert np.all(np.linalg.norm(hints, axis=1) <= bound + 1e-12)
    assert_only_the_estimates_hallucinate(s, delta, np.vstack([estimator(x), estimator(x + hints)]))
