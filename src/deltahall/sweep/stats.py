"""Pure statistics of the sweeps (numpy/scipy, no I/O): rank correlations between loss and
δ-hallucination rate, their bootstrap CIs, the verdict rule and the Pareto front.

Every correlation takes its pairs as an array of shape (..., n, 2) (column 0 = loss, column 1 =
rate) and reduces the n axis, so the same code scores one sample or a stack of bootstrap
resamples at once. Their CIs are deltahall.stats.bootstrap_ci's seeded percentile bootstrap,
with degenerate resamples left out (drop_undefined).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from deltahall.stats import bootstrap_ci

LOWERS = "lower loss lowers the rate"
DOES_NOT = "lower loss does not lower the rate"
INCONCLUSIVE = "inconclusive"


def _pairs(pairs: np.ndarray) -> np.ndarray:
    data = np.asarray(pairs, dtype=np.float64)
    if data.ndim < 2 or data.shape[-1] != 2:
        raise ValueError(f"pairs must have shape (..., n, 2), got {data.shape}")
    return data


def spearman_rows(pairs: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson correlation of average ranks, so ties are handled); NaN where
    either column has no variation."""
    data = _pairs(pairs)
    ranks = rankdata(data, axis=-2)  # average ranks of loss and of rate, separately
    centred = ranks - ranks.mean(axis=-2, keepdims=True)
    cov = (centred[..., 0] * centred[..., 1]).sum(axis=-1)
    norm = np.sqrt((centred[..., 0] ** 2).sum(axis=-1) * (centred[..., 1] ** 2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), np.nan)


def kendall_rows(pairs: np.ndarray) -> np.ndarray:
    """Kendall's tau-b: (concordant − discordant) / sqrt(pairs untied in loss × in rate);
    NaN where either column has no variation."""
    data = _pairs(pairs)
    sx = np.sign(data[..., :, None, 0] - data[..., None, :, 0])
    sy = np.sign(data[..., :, None, 1] - data[..., None, :, 1])
    num = (sx * sy).sum(axis=(-2, -1))  # every pair counted twice, here and below
    norm = np.sqrt((sx**2).sum(axis=(-2, -1)) * (sy**2).sum(axis=(-2, -1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, num / np.where(norm > 0, norm, 1.0), np.nan)


def spearman(loss, rate) -> float:
    return float(spearman_rows(np.column_stack([loss, rate])))


def kendall(loss, rate) -> float:
    return float(kendall_rows(np.column_stack([loss, rate])))


CORRELATIONS = {"spearman": spearman_rows, "kendall": kendall_rows}


def association_rows(pairs: np.ndarray, method: str = "spearman") -> np.ndarray:
    """The correlation, except that a rate that never moves while the loss does counts as no
    association (0) rather than undefined: that sweep or run lowered its loss, not its rate.
    Still NaN when the loss does not move."""
    if method not in CORRELATIONS:
        raise ValueError(f"unknown correlation {method!r}; known: {', '.join(CORRELATIONS)}")
    data = _pairs(pairs)
    loss_moves = np.ptp(data[..., 0], axis=-1) > 0
    rate_still = np.ptp(data[..., 1], axis=-1) == 0
    return np.where(loss_moves & rate_still, 0.0, CORRELATIONS[method](data))


def association(loss, rate, method: str = "spearman") -> float:
    return float(association_rows(np.column_stack([loss, rate]), method))


def correlation_ci(
    loss, rate, method: str = "spearman", n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, low, high): percentile bootstrap CI of the association (correlation, with a
    rate that never moves counting as 0, see association_rows) over resampled pairs.

    Resamples in which the loss takes a single value say nothing and are left out. NaN
    everywhere with fewer than 3 pairs or a loss that never moves; NaN bounds when more than
    half of the resamples are left out (too few distinct values to say anything).
    """
    if method not in CORRELATIONS:
        raise ValueError(f"unknown correlation {method!r}; known: {', '.join(CORRELATIONS)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    pairs = np.column_stack([np.asarray(loss, float), np.asarray(rate, float)])
    if not np.all(np.isfinite(pairs)):
        raise ValueError("correlation_ci needs finite losses and rates (got NaN or inf)")
    estimate = float(association_rows(pairs, method)) if len(pairs) >= 3 else float("nan")
    if not np.isfinite(estimate):
        return float("nan"), float("nan"), float("nan")
    return bootstrap_ci(
        pairs,
        n_boot,
        level,
        seed,
        drop_undefined=True,
        statistic=lambda rows, axis: association_rows(rows, method),
    )


def verdict(low: float, high: float, min_effect: float = 0.3) -> str:
    """The rule deciding the design card's claim from the CI of corr(loss, rate), symmetric:
    each answer needs its own evidence of the same strength.

    A positive correlation means runs with lower loss have lower rates. "lowers" iff the whole
    CI lies above +min_effect; "does not" iff it lies inside (-min_effect, +min_effect) (no
    effect that large either way) or wholly below -min_effect (lower loss raises the rate);
    anything else, e.g. a wide CI straddling ±min_effect, is "inconclusive".
    """
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        return INCONCLUSIVE
    if low > min_effect:
        return LOWERS
    if -min_effect < low and high < min_effect or high < -min_effect:
        return DOES_NOT
    return INCONCLUSIVE


def cluster_mean_ci(
    values, clusters, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Bootstrap CI of the mean of the finite `values`, resampling whole clusters (e.g. the
    seeds of one trial share its knobs, so they are not independent). NaN when fewer than 2
    clusters have a finite value."""
    values = np.asarray(values, dtype=np.float64)
    clusters = np.asarray(clusters)
    keep = np.isfinite(values)
    values, clusters = values[keep], clusters[keep]
    labels = np.unique(clusters)
    if labels.size < 2:
        return float("nan"), float("nan"), float("nan")
    # One row per cluster, (sum, count): the shared bootstrap resamples whole rows, and the
    # statistic pools them back into a mean over runs.
    rows = np.array([[values[clusters == c].sum(), (clusters == c).sum()] for c in labels])

    def pooled_mean(x: np.ndarray, axis: int) -> np.ndarray:
        return x[..., 0].sum(axis=axis) / x[..., 1].sum(axis=axis)

    return bootstrap_ci(rows, n_boot, level, seed, statistic=pooled_mean)


def pareto_front(points) -> np.ndarray:
    """Boolean mask of the non-dominated rows of (n, k) objectives, all minimised.

    Row i is dominated iff some row j is <= in every objective and < in at least one;
    duplicates of a front point are all on the front.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2:
        raise ValueError(f"points must have shape (n, k), got {pts.shape}")
    le = (pts[None, :, :] <= pts[:, None, :]).all(axis=-1)  # [i, j]: j <= i everywhere
    lt = (pts[None, :, :] < pts[:, None, :]).any(axis=-1)  # [i, j]: j < i somewhere
    return ~(le & lt).any(axis=1)
