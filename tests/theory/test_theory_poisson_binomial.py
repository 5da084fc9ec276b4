"""Exact Poisson-binomial pmf: hand cases, binomial limit, brute-force enumeration."""

from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from deltahall.theory import poisson_binomial_pmf, poisson_binomial_pmf_batch

probs_lists = st.lists(st.floats(0.0, 1.0), min_size=0, max_size=8)


def brute_force_pmf(probs: list[float]) -> np.ndarray:
    """Sum the probability of each of the 2^n head/tail outcomes into its head count."""
    pmf = np.zeros(len(probs) + 1)
    for outcome in product((0, 1), repeat=len(probs)):
        pmf[sum(outcome)] += np.prod([q if h else 1 - q for q, h in zip(probs, outcome)])
    return pmf


def test_hand_cases() -> None:
    np.testing.assert_allclose(poisson_binomial_pmf([0.5, 0.5]), [0.25, 0.5, 0.25])
    # P(0) = .75·.25, P(2) = .25·.75, P(1) = .25² + .75² = .625
    np.testing.assert_allclose(poisson_binomial_pmf([0.25, 0.75]), [0.1875, 0.625, 0.1875])
    np.testing.assert_allclose(poisson_binomial_pmf([0.2]), [0.8, 0.2])
    np.testing.assert_array_equal(poisson_binomial_pmf([]), [1.0])
    np.testing.assert_array_equal(poisson_binomial_pmf([1.0, 1.0, 0.0]), [0, 0, 1, 0])


@pytest.mark.parametrize("n", [1, 3, 10, 25])
@pytest.mark.parametrize("q", [0.0, 0.13, 0.5, 0.9])
def test_equal_probs_is_binomial(n: int, q: float) -> None:
    expected = binom.pmf(np.arange(n + 1), n, q)
    np.testing.assert_allclose(poisson_binomial_pmf(np.full(n, q)), expected, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(probs_lists)
def test_matches_brute_force_and_moments(probs: list[float]) -> None:
    pmf = poisson_binomial_pmf(probs)
    np.testing.assert_allclose(pmf, brute_force_pmf(probs), atol=1e-12)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    k = np.arange(pmf.size)
    p = np.asarray(probs)
    assert pmf @ k == pytest.approx(p.sum(), abs=1e-10)
    assert pmf @ (k - p.sum()) ** 2 == pytest.approx(np.sum(p * (1 - p)), abs=1e-10)


def test_batch_matches_rows() -> None:
    rng = np.random.default_rng(3)
    rows = rng.uniform(size=(10_000, 5))
    batch = poisson_binomial_pmf_batch(rows)
    assert batch.shape == (10_000, 6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-12)
    for i in (0, 17, 9_999):
        np.testing.assert_allclose(batch[i], brute_force_pmf(list(rows[i])), atol=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([0.5, 1.2], r"\[0, 1\]"),
        ([-0.1], r"\[0, 1\]"),
        ([np.nan], "finite"),
        ([[0.5, 0.5]], "1-D"),
        (0.5, "1-D"),
    ],
)
def test_rejects_bad_probs(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        poisson_binomial_pmf(bad)


def test_batch_rejects_1d() -> None:
    with pytest.raises(ValueError, match="2-D"):
        poisson_binomial_pmf_batch([0.5, 0.5])
