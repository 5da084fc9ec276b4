"""HCDR calibration (Appendix B, §6.3) and its agreement with Definition 3.2."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deltahall.theory import (
    delta_hallucinates,
    hcdr_membership,
    hcdr_thresholds,
    outside_hcdr_union,
)


def test_threshold_and_coverage_on_gaussians() -> None:
    rng = np.random.default_rng(7)
    laws = [stats.norm(0, 1), stats.norm(10, 2)]
    held_out = [law.logpdf(law.rvs(size=40_000, random_state=rng)) for law in laws]
    thr = hcdr_thresholds(held_out, 0.10)
    # the 90% HDR of a normal is |x − μ| ≤ 1.645 σ: its log-density edge is known in closed form
    for law, t, sd in zip(laws, thr, (1, 2)):
        assert t == pytest.approx(law.logpdf(law.mean() + stats.norm.ppf(0.95) * sd), abs=0.02)
    fresh = np.stack([law.rvs(size=40_000, random_state=rng) for law in laws])
    for i in range(len(laws)):
        logd = np.stack([lw.logpdf(fresh[i]) for lw in laws], axis=-1)
        coverage = hcdr_membership(logd, thr)[:, i].mean()
        assert coverage == pytest.approx(0.90, abs=4 * np.sqrt(0.09 / 40_000) + 0.005)


def test_membership_by_hand() -> None:
    logd = np.array([[-1.0, -5.0], [-3.0, -3.0], [-10.0, -0.5], [-2.0, -1.0]])
    thr = np.array([-2.0, -1.0])
    inside = hcdr_membership(logd, thr)
    np.testing.assert_array_equal(inside, [[1, 0], [0, 0], [0, 1], [0, 0]])  # strict >
    np.testing.assert_array_equal(outside_hcdr_union(logd, thr), [False, True, False, True])


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 2.0))
def test_union_with_log_delta_is_definition_3_2(seed: int, delta: float) -> None:
    dens = np.random.default_rng(seed).exponential(0.5, size=(64, 3))
    thr = np.full(3, np.log(delta))
    with np.errstate(divide="ignore"):
        out = outside_hcdr_union(np.log(dens), thr)
    np.testing.assert_array_equal(out, delta_hallucinates(dens, delta))


@pytest.mark.parametrize(
    "args, match",
    [
        (([np.zeros(5)], 0.0), "quantile"),
        (([np.zeros(5)], 1.0), "quantile"),
        (([np.array([])], 0.1), "non-empty"),
        (([np.array([np.nan, 1.0])], 0.1), "NaN"),
        (([], 0.1), "at least one"),
    ],
)
def test_thresholds_validate(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hcdr_thresholds(*args)


def test_membership_validates_shapes() -> None:
    with pytest.raises(ValueError, match="disagree"):
        hcdr_membership(np.zeros((4, 3)), np.zeros(2))
