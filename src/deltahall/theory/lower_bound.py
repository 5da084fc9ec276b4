"""Theorem 5.1 (§5, proof in Appendix C.5): a lower bound on the probability P_H^δ that the
L2-optimal estimate A* = Σ p_i μ_i δ-hallucinates when the state means μ_i are random.

    d = (Σ_j p_j² σ_j^d)^(1/2),  θ_i(α) = (α d + r)² / σ_i^d,
    P_i = max_{α > 1, θ_i(α) ≤ 1} (1 − 1/α²)(1 − θ_i(α))²,  P_H^δ > Π_i P_i K_i.

Lemma C.5 bounds Pr[‖A* − μ_0‖ ≥ d_1] with (Σ p_i²) σ^d (Cauchy–Schwarz, σ^d = Σ σ_j^d) while
the theorem uses d² = Σ p_j² σ_j^d. Under Assumption 5.1 (independent μ_i, common mean μ_0) the
cross terms vanish and E‖A* − μ_0‖² = Σ p_j² σ_j^d exactly, so Chebyshev gives the theorem's
(smaller) d directly; we follow the theorem statement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from deltahall.theory._checks import as_finite_array, check_distribution


@dataclass(frozen=True, eq=False)
class BoundResult:
    """Per-state α_i, P_i, K_i and applicability, the scale d, and the bound Π P_i K_i."""

    alphas: np.ndarray  # NaN where no α > 1 has θ_i(α) ≤ 1
    P: np.ndarray
    K: np.ndarray
    applicable: np.ndarray  # bool per state
    d: float
    r: float
    bound: float

    @property
    def all_applicable(self) -> bool:
        """The theorem's hypothesis: every state admits some α_i > 1 with θ_i(α_i) ≤ 1."""
        return bool(np.all(self.applicable))


def best_alpha(d: float, r: float, sigma_i: float) -> tuple[float, float]:
    """(α_i, P_i) maximising (1 − 1/α²)(1 − θ_i(α))² over 1 < α ≤ α_max; (NaN, 0) if vacuous.

    α_max = (√σ_i − r)/d solves θ_i(α) = 1. The log of the objective is a sum of concave
    functions of α (log(1 − α⁻²) and log(1 − θ) with θ convex), so it is unimodal and bounded
    Brent search finds the global maximum.
    """
    alpha_max = (math.sqrt(sigma_i) - r) / d
    if not alpha_max > 1.0:
        return math.nan, 0.0

    def neg_p(alpha: float) -> float:
        theta = (alpha * d + r) ** 2 / sigma_i
        return -(1.0 - alpha**-2) * (1.0 - theta) ** 2

    res = minimize_scalar(
        neg_p, bounds=(1.0, alpha_max), method="bounded", options={"xatol": 1e-10 * alpha_max}
    )
    return float(res.x), float(-res.fun)


def theorem_5_1_lower_bound(
    p: np.ndarray, sigma_d: np.ndarray, kurtosis_ratio_K: np.ndarray, r: float
) -> BoundResult:
    """Theorem 5.1's bound from p_i, σ_i^d = E‖μ_i − μ_0‖², K_i = (E‖·‖²)²/E‖·‖⁴ and radius r.

    A state without an admissible α contributes P_i = 0 (applicable False), which makes the
    bound vacuous (0) rather than an error, so sweeps can show where the theorem applies.
    """
    probs = check_distribution(p, "p")
    sigma = as_finite_array(sigma_d, "sigma_d", ndim=1)
    kurt = as_finite_array(kurtosis_ratio_K, "kurtosis_ratio_K", ndim=1)
    if sigma.shape != probs.shape or kurt.shape != probs.shape:
        raise ValueError("p, sigma_d and kurtosis_ratio_K must have the same length N")
    if np.any(sigma <= 0):
        raise ValueError("sigma_d must be > 0 (θ_i divides by σ_i^d)")
    if np.any((kurt <= 0) | (kurt > 1 + 1e-12)):
        raise ValueError("kurtosis_ratio_K must lie in (0, 1] (Cauchy–Schwarz: (E T)² ≤ E T²)")
    r = float(r)
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"r must be finite and >= 0, got {r!r}")
    d = math.sqrt(float(np.sum(probs**2 * sigma)))
    pairs = [best_alpha(d, r, float(s)) for s in sigma]
    alphas = np.array([a for a, _ in pairs])
    P = np.array([pi for _, pi in pairs])
    return BoundResult(
        alphas=alphas,
        P=P,
        K=kurt,
        applicable=~np.isnan(alphas),
        d=d,
        r=r,
        bound=float(np.prod(P * kurt)),
    )
