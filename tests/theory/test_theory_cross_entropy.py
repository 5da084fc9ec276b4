"""Theorem D.1 (Appendix D): the cross-entropy optimum hallucinates (exact C-dim density)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltahall.theory import (
    delta_hallucinates,
    theorem_d1_construction,
    theorem_d1_log_density_at_optimum,
    theorem_d1_max_variance,
    theorem_d1_paper_variance,
)


def test_optimum_is_the_uniform_vector_at_known_distance() -> None:
    s = theorem_d1_construction(4, 0.1)
    opt = s.optimal_estimate()
    np.testing.assert_allclose(opt, np.full(4, 0.25))
    np.testing.assert_allclose(np.sum((s.means - opt) ** 2, axis=1), 3 / 4)  # (N − 1)/N
    v = s.covariances[0, 0, 0]
    np.testing.assert_allclose(s.log_density(opt), theorem_d1_log_density_at_optimum(4, v))


def test_log_density_by_hand() -> None:
    # N = 2, v = 1/(2π): (2πv)^(-1) · exp(−(1/2)/(2v)) = exp(−π/2)
    assert theorem_d1_log_density_at_optimum(2, 1 / (2 * math.pi)) == pytest.approx(-math.pi / 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.floats(1e-6, 0.999))
def test_default_construction_hallucinates_and_modes_do_not(n: int, delta: float) -> None:
    s = theorem_d1_construction(n, delta)
    assert delta_hallucinates(s.density(s.optimal_estimate()), delta)
    assert np.all(s.peak_densities() > delta)  # non-empty HCDRs: each e_i is not flagged
    for mean in s.means:
        assert not delta_hallucinates(s.density(mean), delta)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.floats(1e-6, 0.999))
def test_max_variance_is_the_exact_boundary(n: int, delta: float) -> None:
    v_max = theorem_d1_max_variance(n, delta)
    peak_v = (n - 1) / n**2
    grid = np.linspace(1e-4, 1.0, 50) * (v_max if math.isfinite(v_max) else 10 * peak_v)
    assert all(theorem_d1_log_density_at_optimum(n, v) <= math.log(delta) for v in grid)
    if math.isfinite(v_max):  # just above the boundary the claim fails
        assert v_max <= peak_v
        assert theorem_d1_log_density_at_optimum(n, v_max * (1 + 1e-6)) > math.log(delta)


def test_paper_variance_can_fail_and_can_hold() -> None:
    """N=2, δ=0.01: the paper's v gives f_i(p_X) ≈ 2.93 δ; N=2, δ=0.5 it gives ≈ 0.44 δ."""
    v_bad = theorem_d1_paper_variance(2, 0.01)
    assert v_bad == pytest.approx(-(1 / 2) / math.log(1e-4))
    ratio = math.exp(theorem_d1_log_density_at_optimum(2, v_bad)) / 0.01
    assert ratio == pytest.approx(2.93, abs=0.01)
    bad = theorem_d1_construction(2, 0.01, variance=v_bad)
    assert not delta_hallucinates(bad.density(bad.optimal_estimate()), 0.01)
    ok = math.exp(theorem_d1_log_density_at_optimum(2, theorem_d1_paper_variance(2, 0.5))) / 0.5
    assert ok == pytest.approx(0.441, abs=1e-3)
    assert theorem_d1_max_variance(2, 0.5) == math.inf  # peak over v is (πe)^(-1)·2 ≈ 0.23 ≤ δ
    # ... but there the paper's v leaves every HCDR empty: peak 1/(2π v) ≈ 0.441 < δ = 0.5
    with pytest.raises(ValueError, match="every HCDR would be empty"):
        theorem_d1_construction(2, 0.5, variance=theorem_d1_paper_variance(2, 0.5))
    assert theorem_d1_construction(2, 0.5).peak_densities()[0] > 0.5


@pytest.mark.parametrize(
    "n, delta, match", [(1, 0.1, "n_classes"), (3, 1.0, "delta"), (3, 0.0, "delta")]
)
def test_validates(n: int, delta: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        theorem_d1_construction(n, delta)


def _cross_entropy_argmin(targets: np.ndarray) -> np.ndarray:
    """argmin over the simplex of the mean cross-entropy −Σ_c q_c log p_c of sampled targets q,
    found numerically (softmax logits, BFGS), not from the Gibbs inequality."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax, softmax

    mean_q = targets.mean(axis=0)
    res = minimize(
        lambda z: -float(mean_q @ log_softmax(z)),
        np.zeros(targets.shape[1]),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    return softmax(res.x)


def test_the_cross_entropy_optimum_is_the_mixture_numerically() -> None:
    """App. D's step checked, not assumed: with states drawn by their priors and noisy targets
    around e_i, the numerical CE minimiser is the mixture Σ P(Z_i) e_i — and not the mode."""
    rng = np.random.default_rng(0)
    priors = np.array([0.6, 0.3, 0.1])
    states = rng.choice(3, size=200_000, p=priors)
    targets = np.eye(3)[states] + rng.normal(scale=0.05, size=(len(states), 3))
    found = _cross_entropy_argmin(targets)
    np.testing.assert_allclose(found, priors, atol=3e-3)
    assert not np.allclose(found, np.eye(3)[0], atol=0.1)  # the mode would be e_0
    # the construction's own optimum agrees with the numerical one
    s = theorem_d1_construction(4, 0.1)
    v = s.covariances[0, 0, 0]
    draws = s.means[rng.integers(0, 4, size=200_000)]
    draws = draws + rng.normal(scale=math.sqrt(v), size=draws.shape)
    np.testing.assert_allclose(_cross_entropy_argmin(draws), s.optimal_estimate(), atol=5e-3)
