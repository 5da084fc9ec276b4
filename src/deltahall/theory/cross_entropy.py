"""Theorem D.1 (Appendix D): the cross-entropy optimum δ-hallucinates too.

C = N classes, P(Z_i) = 1/N, and under state i the target probability vector is N(e_i, v I_C).
Cross-entropy is a proper scoring rule, so its optimum is p_X = E[q] = (1/N) Σ e_i (Gibbs), the
uniform vector, at squared distance (N − 1)/N from every e_i. (The Gaussian targets are not
themselves probability vectors; that modelling shortcut is the paper's.)

The paper evaluates the density of the C-dimensional point p_X with a 1-D normal formula and
concludes that every v ≤ −(N − 1)/(N ln δ²) works. With the exact isotropic C-dim density
    f_i(p_X) = (2π v)^(-C/2) exp(−(N − 1)/(2 v N))
that is false in general (N = 2, δ = 0.01: f_i(p_X) ≈ 2.9 δ at the paper's v). Here v is chosen
from the exact formula; the paper's value stays available for comparison.
"""

from __future__ import annotations

import math

import numpy as np

from deltahall.theory._checks import check_count, check_positive
from deltahall.theory.gaussian import GaussianStates


def _check_inputs(n_classes: int, delta: float) -> tuple[int, float]:
    n = check_count(n_classes, "n_classes", minimum=2)
    d = check_positive(delta, "delta")
    if d >= 1.0:  # the paper's bound has ln δ² in a denominator: it needs δ < 1
        raise ValueError(f"delta must lie in (0, 1) for Theorem D.1, got {delta!r}")
    return n, d


def theorem_d1_log_density_at_optimum(n_classes: int, variance: float) -> float:
    """Exact log f_i(p_X) = −(C/2) ln(2π v) − (N − 1)/(2 v N), the same for every state i."""
    n = check_count(n_classes, "n_classes", minimum=2)
    v = check_positive(variance, "variance")
    return -0.5 * n * math.log(2.0 * math.pi * v) - (n - 1) / (2.0 * v * n)


def theorem_d1_paper_variance(n_classes: int, delta: float) -> float:
    """The paper's bound on the variance: v ≤ −(N − 1)/(N ln δ²) (not sufficient in general)."""
    n, d = _check_inputs(n_classes, delta)
    return -(n - 1) / (n * math.log(d**2))


def theorem_d1_max_variance(n_classes: int, delta: float) -> float:
    """Largest v such that every variance in (0, v] gives f_i(p_X) ≤ δ; +inf if all v do.

    The log-density g(v) rises from −∞ (v → 0) to its peak at v* = (N − 1)/N² and then falls,
    so the valid small-variance range — the one the paper's "v ≤ ..." describes — ends at the
    root of g(v) = ln δ in (0, v*]. Bisection keeps g(lo) ≤ ln δ, and lo is returned, so the
    answer is on the safe side of the root.
    """
    n, d = _check_inputs(n_classes, delta)
    log_delta, peak_v = math.log(d), (n - 1) / n**2

    def g(v: float) -> float:
        return theorem_d1_log_density_at_optimum(n, v)

    if g(peak_v) <= log_delta:
        return math.inf
    lo, hi = peak_v, peak_v
    while g(lo) > log_delta:  # g → −∞ as v → 0, so halving terminates
        hi, lo = lo, lo / 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        lo, hi = (mid, hi) if g(mid) <= log_delta else (lo, mid)
    return lo


def theorem_d1_construction(
    n_classes: int, delta: float, variance: float | None = None
) -> GaussianStates:
    """States N(e_i, v I_C), i = 1..C, with uniform probabilities (Appendix D).

    Default v: 0.99 × theorem_d1_max_variance (1% inside the exact boundary so that float
    rounding cannot flip f_i(p_X) ≤ δ). When every v is valid, the paper's value, capped at
    0.99 × the largest v whose peak density (2π v)^(-C/2) still exceeds δ (else every HCDR is
    empty and the claim vacuous). A given `variance` is used as is but must keep that peak > δ.
    """
    n, d = _check_inputs(n_classes, delta)
    peak_limit = d ** (-2.0 / n) / (2.0 * math.pi)  # (2π v)^(-C/2) > δ ⇔ v < peak_limit
    if variance is None:
        v_max = theorem_d1_max_variance(n, d)
        paper = min(theorem_d1_paper_variance(n, d), 0.99 * peak_limit)
        variance = 0.99 * v_max if math.isfinite(v_max) else paper
    v = check_positive(variance, "variance")
    if v >= peak_limit:
        raise ValueError(
            f"variance {v:.6g} gives peak density (2π v)^(-C/2) <= delta = {d:.6g}: every HCDR "
            f"would be empty; use a variance below {peak_limit:.6g}"
        )
    return GaussianStates(
        probs=np.full(n, 1.0 / n),
        means=np.eye(n),
        covariances=np.broadcast_to(v * np.eye(n), (n, n, n)).copy(),
    )
