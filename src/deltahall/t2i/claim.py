"""The measured claim of §6.3 against the right floor (pure numpy/pandas, no I/O).

A perfect generator is still flagged at the rate real held-out images are (the detector's
floor, ~quantile by design), so the claim is about the excess "generated rate − real rate",
per epoch, with a CI that resamples the runs (seeds) for the generated rate and the real
images for the floor, independently. And whether lower loss lowers the rate: the OLS slope of
rate on training loss over every (seed, epoch), with a bootstrap CI resampling whole runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deltahall.stats import bootstrap_ci
from deltahall.t2i import keys

ABOVE, BELOW, LEVEL_WITH = "above the real floor", "below the real floor", "at the real floor"
LOWERS, RAISES, FLAT = "lower loss lowers the rate", "lower loss raises the rate", "no clear slope"


def _tails(level: float) -> list[float]:
    tail = 100.0 * (1.0 - level) / 2.0
    return [tail, 100.0 - tail]


def floor_flags(floor: dict) -> np.ndarray:
    """The floor's per-image flags back from its counts (order does not matter to a bootstrap)."""
    return np.r_[np.ones(floor["flagged"]), np.zeros(floor["n"] - floor["flagged"])]


def excess(
    rates_by_seed: np.ndarray, floor: np.ndarray, n_boot: int, level: float, seed: int
) -> dict[str, float]:
    """Mean generated rate over seeds − floor rate, CI by independent resampling of both."""
    rates, floor = np.asarray(rates_by_seed, float), np.asarray(floor, float)
    rng = np.random.default_rng(seed)
    gen = rates[rng.integers(0, rates.size, (n_boot, rates.size))].mean(axis=1)
    real = floor[rng.integers(0, floor.size, (n_boot, floor.size))].mean(axis=1)
    low, high = np.percentile(gen - real, _tails(level))
    return {"excess": float(rates.mean() - floor.mean()), "low": float(low), "high": float(high)}


def slope_statistic(runs: np.ndarray, axis: int) -> np.ndarray:
    """OLS slope of rate on loss over every point of the runs; runs (..., R, E, 2) with the
    run axis at `axis` (a bootstrap_ci statistic: rows = runs)."""
    x = np.moveaxis(np.asarray(runs, float), axis, -3)
    points = x.reshape(*x.shape[:-3], -1, 2)
    loss = points[..., 0] - points[..., 0].mean(axis=-1, keepdims=True)
    rate = points[..., 1] - points[..., 1].mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (loss * rate).sum(axis=-1) / (loss**2).sum(axis=-1)


def rate_loss_slope(history: pd.DataFrame, n_boot: int, level: float, seed: int) -> dict:
    """Slope of val/hall_rate on train/loss across epochs and seeds; CI resamples runs."""
    runs = np.stack(
        [
            g.sort_values("epoch")[[keys.TRAIN_LOSS, keys.HALL_RATE]].to_numpy(float)
            for _, g in history.groupby("seed")
        ]
    )
    est, low, high = bootstrap_ci(runs, n_boot, level, seed, slope_statistic, drop_undefined=True)
    return {"slope": est, "low": low, "high": high, "n_runs": int(len(runs))}


def side(low: float, high: float, above: str, below: str, neither: str) -> str:
    if low > 0:
        return above
    if high < 0:
        return below
    return neither


def verdict(last_excess: dict, slope: dict, loss_falls: bool) -> str:
    """What the data support, whichever way: where the last epoch sits against the floor, and
    whether the rate moves with the loss."""
    where = side(last_excess["low"], last_excess["high"], ABOVE, BELOW, LEVEL_WITH)
    # a rate that rises with loss (positive slope) is one that falls as the loss falls
    trend = side(slope["low"], slope["high"], LOWERS, RAISES, FLAT)
    loss = "the loss falls" if loss_falls else "the loss does not fall"
    return f"{loss}; the last epoch's rate is {where}; {trend}"
