"""Definition 3.2 and the density helpers that feed it."""

import numpy as np
import pytest
from scipy import stats

from deltahall.theory import (
    delta_hallucinates,
    densities_from_gaussian_mixtures,
    densities_from_pmfs,
    densities_from_scipy,
    gaussian_mixture_log_densities,
)


def test_delta_hallucinates_by_hand() -> None:
    dens = np.array([[0.1, 0.2], [0.1, 0.6], [0.5, 0.5], [0.0, 0.0]])
    # ≤ δ in every state (equality included) -> hallucinated
    np.testing.assert_array_equal(delta_hallucinates(dens, 0.5), [True, False, True, True])
    np.testing.assert_array_equal(delta_hallucinates(dens, 0.05), [False, False, False, True])


def test_delta_hallucinates_keeps_leading_axes_and_accepts_delta_above_one() -> None:
    dens = np.full((2, 3, 4), 1.5)
    dens[1, 2, 0] = 3.0
    out = delta_hallucinates(dens, 2.0)  # continuous densities can exceed 1
    assert out.shape == (2, 3)
    assert out.sum() == 5 and not out[1, 2]


@pytest.mark.parametrize(
    "dens, delta, match",
    [
        ([0.1, -0.1], 0.5, "non-negative"),
        ([np.nan, 0.1], 0.5, "NaN"),
        ([0.1], 0.0, "delta"),
        ([0.1], -1.0, "delta"),
        ([0.1], float("nan"), "delta"),
        (np.zeros((3, 0)), 0.5, "last axis"),
    ],
)
def test_delta_hallucinates_rejects(dens: object, delta: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        delta_hallucinates(dens, delta)


def test_densities_from_scipy_continuous_and_discrete() -> None:
    x = np.array([0.0, 1.0, 3.0])
    cont = densities_from_scipy([stats.norm(0, 1), stats.norm(3, 2)], x)
    np.testing.assert_allclose(cont[:, 0], np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi))
    np.testing.assert_allclose(cont[:, 1], np.exp(-((x - 3) ** 2) / 8) / np.sqrt(8 * np.pi))
    disc = densities_from_scipy([stats.binom(3, 0.5), stats.poisson(2.0)], np.array([0, 1, 1.5]))
    np.testing.assert_allclose(disc[:, 0], [1 / 8, 3 / 8, 0.0])  # pmf, 0 off the lattice
    np.testing.assert_allclose(disc[:, 1], [np.exp(-2), 2 * np.exp(-2), 0.0])


def test_densities_from_scipy_multivariate_single_estimate() -> None:
    dists = [stats.multivariate_normal(np.zeros(2)), stats.multivariate_normal(np.ones(2))]
    out = densities_from_scipy(dists, np.zeros((1, 2)))
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out[0], [1 / (2 * np.pi), np.exp(-1) / (2 * np.pi)])


def _mixtures() -> tuple[list, list, list]:
    weights = [np.array([0.3, 0.7]), np.array([1.0])]
    means = [np.array([[0.0, 0.0], [2.0, -1.0]]), np.array([[5.0, 5.0]])]
    full = [np.array([[[1.0, 0.3], [0.3, 2.0]], np.diag([0.5, 0.5])]), np.eye(2)[None] * 3]
    return weights, means, full


def test_gaussian_mixtures_match_scipy() -> None:
    weights, means, covs = _mixtures()
    pts = np.random.default_rng(0).normal(size=(20, 2)) * 3
    got = densities_from_gaussian_mixtures(weights, means, covs, pts)
    want0 = sum(
        w * stats.multivariate_normal(m, c).pdf(pts)
        for w, m, c in zip(weights[0], means[0], covs[0])
    )
    np.testing.assert_allclose(got[:, 0], want0, rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], stats.multivariate_normal(means[1][0], 3).pdf(pts))


def test_gaussian_mixtures_diagonal_equals_full_and_log_is_finite_far_away() -> None:
    weights, means, _ = _mixtures()
    diag = [np.array([[1.0, 2.0], [0.5, 0.5]]), np.array([[3.0, 3.0]])]
    full = [np.stack([np.diag(r) for r in d]) for d in diag]
    pts = np.array([[0.5, 0.5], [1e3, -1e3]])
    a = gaussian_mixture_log_densities(weights, means, diag, pts)
    np.testing.assert_allclose(a, gaussian_mixture_log_densities(weights, means, full, pts))
    assert np.all(np.isfinite(a))  # log-sum-exp: no underflow to -inf 1000σ away
    assert a[1, 1] == pytest.approx(-np.log(6 * np.pi) - ((995**2) + (1005**2)) / 6, rel=1e-12)


def test_gaussian_mixtures_validate() -> None:
    weights, means, covs = _mixtures()
    with pytest.raises(ValueError, match="sum to 1"):
        densities_from_gaussian_mixtures(
            [np.array([0.5, 0.6]), weights[1]], means, covs, np.zeros((1, 2))
        )
    with pytest.raises(ValueError, match="same N"):
        densities_from_gaussian_mixtures(weights[:1], means, covs, np.zeros((1, 2)))


def test_densities_from_pmfs() -> None:
    pmfs = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    out = densities_from_pmfs(pmfs, np.array([0, 2, 3, -1]))
    np.testing.assert_allclose(out, [[0.5, 0.1], [0.0, 0.7], [0.0, 0.0], [0.0, 0.0]])
    assert densities_from_pmfs(pmfs, np.array([[1.0, 2.0]])).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="integers"):
        densities_from_pmfs(pmfs, np.array([0.5]))
    with pytest.raises(ValueError, match="non-negative"):
        densities_from_pmfs(-pmfs, np.array([0]))
