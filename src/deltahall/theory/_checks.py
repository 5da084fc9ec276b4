"""Argument validation shared by the theory modules.

Every check raises ValueError naming the argument and the problem, so that a bad config value
surfaces as a readable error instead of a silent NaN further down.
"""

from __future__ import annotations

import math

import numpy as np


def as_finite_array(values: object, name: str, ndim: int | None = None) -> np.ndarray:
    """Float64 copy of `values`; rejects NaN/inf and (optionally) the wrong number of axes."""
    arr = np.array(values, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def check_unit_interval(values: object, name: str, ndim: int | None = None) -> np.ndarray:
    """Probabilities: finite and inside [0, 1]."""
    arr = as_finite_array(values, name, ndim)
    if np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError(f"{name} must lie in [0, 1]")
    return arr


def check_distribution(values: object, name: str, atol: float = 1e-9) -> np.ndarray:
    """A probability vector: 1-D, non-empty, entries in [0, 1], summing to 1."""
    arr = check_unit_interval(values, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if abs(arr.sum() - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, sums to {arr.sum():.12g}")
    return arr


def check_positive(value: float, name: str) -> float:
    """A finite, strictly positive scalar."""
    val = float(value)
    if not math.isfinite(val) or val <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return val


def check_delta(delta: float) -> float:
    """The tolerance δ of Definition 3.2.

    The paper fixes δ ∈ (0, 1], which is natural for pmfs; a continuous density can exceed 1,
    so any finite δ > 0 is accepted here and the (0, 1] range is the caller's convention.
    """
    return check_positive(delta, "delta")


def check_count(value: int, name: str, minimum: int = 1) -> int:
    """An integer >= minimum (bools rejected: True is not a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_covariance(cov: object, dim: int, name: str) -> np.ndarray:
    """A symmetric positive-definite (dim, dim) matrix."""
    arr = as_finite_array(cov, name, ndim=2)
    if arr.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None
    return arr
