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


@pytest.mark.parametrize("values, level, match", [
    ([], 0.95, "at least one"), ([0.5], 1.0, "level"), ([np.nan, 1.0], 0.95, "finite")])
def test_bad_input_is_named(values, level, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(np.array(values), level=level)
