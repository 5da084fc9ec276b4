"""Gaussian states: log-pdf, the HCDR ball radius, validation, sampling."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deltahall.theory import GaussianStates, gaussian_hcdr_radius, gaussian_log_pdf


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_log_pdf_matches_scipy(dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, dim))
    cov = a @ a.T + 0.1 * np.eye(dim)
    mean = rng.normal(size=dim)
    pts = rng.normal(size=(2, 3, dim)) * 2
    want = stats.multivariate_normal(mean, cov).logpdf(pts.reshape(-1, dim)).reshape(2, 3)
    np.testing.assert_allclose(gaussian_log_pdf(pts, mean, cov), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sigma, dim, delta", [(1.0, 1, 0.1), (0.5, 3, 0.2), (2.0, 2, 1e-4)])
def test_hcdr_radius_is_the_delta_level_set(sigma: float, dim: int, delta: float) -> None:
    rho = gaussian_hcdr_radius(sigma, dim, delta)
    edge = np.zeros(dim)
    edge[0] = rho
    dens = np.exp(gaussian_log_pdf(edge, np.zeros(dim), sigma**2 * np.eye(dim)))
    assert dens == pytest.approx(delta, rel=1e-10)


def test_hcdr_radius_hand_and_empty() -> None:
    # σ = 1, d = 1: ρ² = −2 ln(δ √(2π))
    assert gaussian_hcdr_radius(1.0, 1, 0.1) == pytest.approx(
        np.sqrt(-2 * np.log(0.1 * np.sqrt(2 * np.pi)))
    )
    assert gaussian_hcdr_radius(1.0, 1, 0.5) == 0.0  # peak 0.399 ≤ δ: U^δ is empty


def test_states_density_peak_and_optimum() -> None:
    s = GaussianStates(
        probs=[0.25, 0.75], means=[[0.0, 4.0], [4.0, 0.0]], covariances=[np.eye(2), 4 * np.eye(2)]
    )
    np.testing.assert_allclose(s.optimal_estimate(), [3.0, 1.0])
    np.testing.assert_allclose(s.peak_densities(), [1 / (2 * np.pi), 1 / (8 * np.pi)])
    np.testing.assert_allclose(s.density(s.means)[[0, 1], [0, 1]], s.peak_densities())
    assert s.density(np.zeros((5, 3, 2))).shape == (5, 3, 2)
    assert not s.means.flags.writeable


def test_states_sample_mean_converges() -> None:
    s = GaussianStates(probs=[0.2, 0.8], means=[[-5.0], [5.0]], covariances=[[[1.0]], [[4.0]]])
    draws, states = s.sample(np.random.default_rng(1), 40_000)
    assert draws.shape == (40_000, 1) and set(np.unique(states)) == {0, 1}
    assert draws.mean() == pytest.approx(s.optimal_estimate()[0], abs=0.05)
    assert draws[states == 1].std() == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"probs": [0.5, 0.6]}, "sum to 1"),
        ({"covariances": [np.eye(2), -np.eye(2)]}, "positive definite"),
        ({"means": [[0.0, 0.0]]}, "number of states"),
    ],
)
def test_states_validate(kwargs: dict, match: str) -> None:
    base = {
        "probs": [0.5, 0.5],
        "means": [[0.0, 0.0], [1.0, 1.0]],
        "covariances": [np.eye(2), np.eye(2)],
    }
    with pytest.raises(ValueError, match=match):
        GaussianStates(**{**base, **kwargs})
