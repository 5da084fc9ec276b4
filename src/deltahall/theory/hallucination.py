"""δ-hallucination (Definition 3.2) and the per-state densities f_i(estimate) it is decided on.

An estimate a δ-hallucinates iff f_{A(X; Z_i)}(a) ≤ δ for every latent state i: it is not
attributable to any plausible cause. The helpers below produce the (..., N) density arrays from
scipy distributions, Gaussian mixtures (one per state) or pmf tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp
from scipy.stats import rv_discrete

from deltahall.theory._checks import as_finite_array, check_delta
from deltahall.theory.gaussian import gaussian_log_pdf


def delta_hallucinates(densities: np.ndarray, delta: float) -> np.ndarray:
    """True where every state's density is ≤ δ (Definition 3.2); (..., N) -> (...) bool.

    δ ∈ (0, 1] in the paper; any δ > 0 is accepted since continuous densities may exceed 1.
    Raises ValueError on NaN or negative densities (they are no densities), or bad δ.
    """
    dens = np.asarray(densities, dtype=np.float64)
    delta = check_delta(delta)
    if dens.ndim < 1 or dens.shape[-1] == 0:
        raise ValueError(f"densities must have a non-empty last axis of states, got {dens.shape}")
    if np.any(np.isnan(dens)):
        raise ValueError("densities must not contain NaN")
    if np.any(dens < 0.0):
        raise ValueError("densities must be non-negative")
    return np.all(dens <= delta, axis=-1)


def densities_from_scipy(dists: Sequence[object], estimates: np.ndarray) -> np.ndarray:
    """f_i(estimates) for a list of N frozen scipy.stats distributions -> (M, N).

    Discrete laws (frozen rv_discrete) are evaluated with .pmf, everything else with .pdf
    (falling back to .pmf for multivariate discrete laws such as multinomial). `estimates` is
    (M,) for univariate laws or (M, d) for multivariate ones.
    """
    if len(dists) == 0:
        raise ValueError("dists must contain at least one distribution")
    cols = []
    for i, dist in enumerate(dists):
        discrete = isinstance(getattr(dist, "dist", None), rv_discrete)
        fn = getattr(dist, "pmf" if discrete else "pdf", None) or getattr(dist, "pmf", None)
        if fn is None:
            raise ValueError(f"dists[{i}] has neither .pdf nor .pmf")
        # atleast_1d: multivariate frozen laws return a bare scalar for a single estimate.
        cols.append(np.atleast_1d(np.asarray(fn(estimates), dtype=np.float64)))
    return np.stack(cols, axis=-1)


def _mixture_log_pdf(
    points: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray, state: int
) -> np.ndarray:
    """log Σ_k w_k N(points; m_k, C_k) by log-sum-exp; covs (K, d) diagonal or (K, d, d) full."""
    w = as_finite_array(weights, f"weights[{state}]", ndim=1)
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(f"weights[{state}] must be non-negative and sum to 1")
    m = as_finite_array(means, f"means[{state}]", ndim=2)
    c = as_finite_array(covs, f"covariances[{state}]")
    if c.ndim == 2:  # diagonal variances -> full matrices; K and d are small in practice
        c = np.stack([np.diag(row) for row in c])
    if c.shape != (w.size, m.shape[1], m.shape[1]) or m.shape[0] != w.size:
        raise ValueError(f"state {state}: weights, means, covariances disagree in shape")
    with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf term
        comps = [np.log(wk) + gaussian_log_pdf(points, mk, ck) for wk, mk, ck in zip(w, m, c)]
    return logsumexp(np.stack(comps, axis=-1), axis=-1)


def gaussian_mixture_log_densities(
    weights: Sequence[np.ndarray],
    means: Sequence[np.ndarray],
    covariances: Sequence[np.ndarray],
    estimates: np.ndarray,
) -> np.ndarray:
    """log f_i(estimates) with f_i a Gaussian mixture per state: (M, d) -> (M, N).

    weights[i] (K_i,), means[i] (K_i, d), covariances[i] (K_i, d) diagonal or (K_i, d, d) full.
    Log-space is what the HCDR thresholds (Appendix B) are calibrated in.
    """
    pts = as_finite_array(estimates, "estimates", ndim=2)
    if not len(weights) == len(means) == len(covariances) or len(weights) == 0:
        raise ValueError("weights, means and covariances must list the same N >= 1 states")
    cols = [
        _mixture_log_pdf(pts, w, m, c, i)
        for i, (w, m, c) in enumerate(zip(weights, means, covariances))
    ]
    return np.stack(cols, axis=-1)


def densities_from_gaussian_mixtures(
    weights: Sequence[np.ndarray],
    means: Sequence[np.ndarray],
    covariances: Sequence[np.ndarray],
    estimates: np.ndarray,
) -> np.ndarray:
    """f_i(estimates) with one Gaussian mixture per latent state: (M, d) -> (M, N)."""
    return np.exp(gaussian_mixture_log_densities(weights, means, covariances, estimates))


def densities_from_pmfs(pmfs: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """P_i(K = estimate) from pmf tables (N, K) over support 0..K−1 -> (..., N).

    Estimates must be integer-valued (rounding is the caller's decision); values outside the
    support get probability 0, since the state can never produce them.
    """
    table = as_finite_array(pmfs, "pmfs", ndim=2)
    if np.any(table < 0):
        raise ValueError("pmfs must be non-negative")
    est = np.asarray(estimates)
    if not np.all(np.isfinite(est)) or np.any(est != np.round(est)):
        raise ValueError("estimates must be finite integers")
    est = est.astype(np.int64)
    inside = (est >= 0) & (est < table.shape[1])
    picked = table[:, np.clip(est, 0, table.shape[1] - 1)]  # (N, ...)
    return np.moveaxis(np.where(inside, picked, 0.0), 0, -1)
