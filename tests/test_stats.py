"""The one bootstrap every experiment's CIs come from."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.stats import bootstrap_ci


def test_seeded_and_matches_the_normal_approximation():
    flags = np.array([1] * 30 + [0] * 70, dtype=float)
    est, low, high = bootstrap_ci(flags, n_boot=2000, seed=3)
    assert (est, low, high) == bootstrap_ci(flags, n_boot=2000, seed=3)
    # 0.3 ± 1.96·sqrt(0.21/100) ≈ [0.21, 0.39]
    assert est == 0.3
    assert low == pytest.approx(0.21, abs=0.03) and high == pytest.approx(0.39, abs=0.03)


def test_constant_values_give_a_zero_width_interval():
    assert bootstrap_ci(np.array([1.0, 1.0, 1.0])) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "values, level, match",
    [([], 0.95, "at least one"), ([0.5], 1.0, "level"), ([np.nan, 1.0], 0.95, "finite")],
)
def test_bad_input_is_named(values, level, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(np.array(values), level=level)


def _mean_if_at_least_a_fifth(rows, axis):
    """Mean of 0/1 flags, undefined (NaN) below 0.2: a statistic that can be undefined."""
    means = np.asarray(rows).mean(axis=axis)
    return np.where(means >= 0.2, means, np.nan)


def test_drop_undefined_leaves_out_nan_resamples_or_gives_nan_bounds():
    half = np.array([0.0, 1.0] * 10)  # resample means ~0.5 ± 0.11: never undefined
    assert bootstrap_ci(
        half, n_boot=500, seed=1, statistic=_mean_if_at_least_a_fifth, drop_undefined=True
    ) == bootstrap_ci(half, n_boot=500, seed=1)
    some = np.array([1.0] * 6 + [0.0] * 14)  # ~16 % of resample means fall below 0.2
    est, low, high = bootstrap_ci(
        some, n_boot=500, seed=1, drop_undefined=True, statistic=_mean_if_at_least_a_fifth
    )
    assert est == 0.3 and 0.2 <= low < 0.3 < high  # the undefined ones left out, not NaN
    assert np.isnan(bootstrap_ci(some, n_boot=500, seed=1, statistic=_mean_if_at_least_a_fifth)[1])
    rare = np.array([0.0] * 19 + [1.0])  # resample means ~0.05: nearly all undefined
    est, low, high = bootstrap_ci(
        rare, n_boot=500, seed=1, drop_undefined=True, statistic=_mean_if_at_least_a_fifth
    )
    assert np.isnan(est) and np.isnan(low) and np.isnan(high)  # too few defined: no interval
