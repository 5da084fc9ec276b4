"""Highest Conditional Density Regions (Definition 5.2, Appendix B) calibrated from samples.

U_i^δ = {a : f_i(a) > δ_i}. In practice δ_i is set per state as a low quantile q of the held-out
log-densities of that state's real samples (§6.3: q = 10%), so that U_i keeps ≈ 1 − q of them.
An estimate outside every U_i is a hallucination (Remark 5.1). §6.3's text says a sample is
outside if its log-likelihood "exceeds" the threshold; that is a slip: outside means below it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hcdr_thresholds(log_densities_per_state: Sequence[np.ndarray], quantile: float) -> np.ndarray:
    """Per-state log-density threshold log δ_i = the `quantile` quantile of held-out values.

    log_densities_per_state[i]: 1-D log f_i evaluated on held-out real samples of state i.
    Uses numpy's default (linear-interpolation) quantile. Returns shape (N,).
    """
    q = float(quantile)
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile!r}")
    if len(log_densities_per_state) == 0:
        raise ValueError("log_densities_per_state must hold at least one state")
    out = []
    for i, values in enumerate(log_densities_per_state):
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"log_densities_per_state[{i}] must be a non-empty 1-D array")
        if np.any(np.isnan(arr)) or np.any(arr == np.inf):
            raise ValueError(f"log_densities_per_state[{i}] must not contain NaN or +inf")
        out.append(np.quantile(arr, q))
    return np.array(out)


def hcdr_membership(log_densities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Inside flags (..., N): a ∈ U_i iff log f_i(a) > threshold_i (strict, as in Def. 5.2).

    With this convention a held-out calibration set keeps a fraction ≈ 1 − quantile inside, and
    thresholds = log δ reproduce Definition 3.2 exactly (see `outside_hcdr_union`).
    """
    logd = np.asarray(log_densities, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    if thr.ndim != 1 or logd.ndim < 1 or logd.shape[-1] != thr.size:
        raise ValueError(
            f"log_densities (..., N) and thresholds (N,) disagree: {logd.shape} vs {thr.shape}"
        )
    if np.any(np.isnan(logd)) or np.any(np.isnan(thr)):
        raise ValueError("log_densities and thresholds must not contain NaN")
    return logd > thr


def outside_hcdr_union(log_densities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """True = hallucinated: the estimate lies in no state's HCDR (Remark 5.1); (..., N) -> (...)."""
    return ~np.any(hcdr_membership(log_densities, thresholds), axis=-1)
