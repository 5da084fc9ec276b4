"""Small statistics shared by every experiment (numpy only): bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(
    values: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    statistic=np.mean,
    drop_undefined: bool = False,
) -> tuple[float, float, float]:
    """(estimate, low, high): percentile bootstrap CI of `statistic` over the rows of `values`.

    Resamples rows with replacement `n_boot` times from a seeded generator, so the same
    seed gives the same interval. A single value gives a zero-width interval.
    `drop_undefined`: resamples whose statistic is NaN (e.g. a correlation of a resample
    whose x takes one value) say nothing and are left out; when more than half are left
    out the bounds are NaN (too few distinct values to say anything).
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not np.all(np.isfinite(data)):
        raise ValueError("bootstrap_ci needs finite values (got NaN or inf)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    estimate = float(statistic(data, axis=0))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(data), size=(n_boot, len(data)))
    stats = statistic(data[picks], axis=1)
    if drop_undefined:
        stats = stats[np.isfinite(stats)]
        if stats.size < n_boot / 2:
            return estimate, float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return estimate, float(low), float(high)
