"""The paper's existence constructions for the L2 loss (Theorems 4.1, 4.2, 4.3; App. C.1-C.4).

Each returns concrete GaussianStates whose L2-optimal estimate Σ p_i μ_i = 0 (Lemma C.1) lies
where every state's density is ≤ δ, i.e. the optimal estimator δ-hallucinates (Def. 3.2).
Where the paper's formulas do not deliver that, the fix is documented at the spot.
"""

from __future__ import annotations

import math

import numpy as np

from deltahall.theory._checks import (
    as_finite_array,
    check_count,
    check_covariance,
    check_delta,
    check_distribution,
    check_positive,
)
from deltahall.theory.gaussian import GaussianStates


def _positive_probs(probs: np.ndarray, n_states: int) -> np.ndarray:
    p = check_distribution(probs, "probs")
    if p.size != n_states:
        raise ValueError(f"probs must have n_states = {n_states} entries, got {p.size}")
    if np.any(p <= 0):
        raise ValueError("probs must be strictly positive (the constructions divide by p_i)")
    return p


def theorem_4_1_construction(
    n_states: int, dim: int, delta: float, probs: np.ndarray, covariances: np.ndarray | None = None
) -> GaussianStates:
    """Appendix C.1: N Gaussian states whose L2-optimal estimate 0 δ-hallucinates.

    States 1..N−1: N(m_i 1, Σ_i) (Σ_i from `covariances`, shape (N−1, d, d), default I) with
    m_i² = (−2 ln δ − ln det Σ_i) / (1ᵀ Σ_i⁻¹ 1), clipped at 0, so f_i(0) = (2π)^(-d/2) δ ≤ δ.
    State N: mean −Σ_{i<N} (p_i/p_N) μ_i (forcing Σ p_i μ_i = 0) and covariance δ^(-2/d) I.
    """
    n, d = check_count(n_states, "n_states"), check_count(dim, "dim")
    delta = check_delta(delta)
    p = _positive_probs(probs, n)
    if covariances is None:
        covs = np.broadcast_to(np.eye(d), (n - 1, d, d)).copy()
    else:
        covs = as_finite_array(covariances, "covariances", ndim=3)
        if covs.shape != (n - 1, d, d):
            raise ValueError(f"covariances must have shape ({n - 1}, {d}, {d}), got {covs.shape}")
    ones = np.ones(d)
    means = np.zeros((n, d))
    for i in range(n - 1):
        cov = check_covariance(covs[i], d, f"covariances[{i}]")
        # The paper divides by 1ᵀ Σ_i 1, but f_i(0) contains μ_iᵀ Σ_i⁻¹ μ_i = m_i² 1ᵀ Σ_i⁻¹ 1;
        # the two agree only for Σ_i = I. Σ⁻¹ is what makes f_i(0) ≤ δ true for any Σ_i.
        # A negative numerator means det Σ_i^(-1/2) < δ already, so m_i = 0 suffices.
        num = -2.0 * math.log(delta) - np.linalg.slogdet(cov)[1]
        m_sq = max(num, 0.0) / float(ones @ np.linalg.solve(cov, ones))
        means[i] = math.sqrt(m_sq) * ones
    means[n - 1] = -(p[: n - 1] @ means[: n - 1]) / p[n - 1]
    # The paper sets Σ_N = (1/m_N) I with m_N = δ^(-2/d), i.e. Σ_N = δ^(2/d) I; then
    # det(Σ_N)^(-1/2) = δ^(-1), not δ (sign slip in (C.6)), and f_N(0) can exceed δ when μ_N is
    # short (e.g. N=2, d=1, δ=0.5, p=(0.1, 0.9) gives f_N(0) ≈ 0.77). Σ_N = m_N I = δ^(-2/d) I
    # gives det(Σ_N)^(-1/2) = δ and hence f_N(0) ≤ (2π)^(-d/2) δ ≤ δ for every μ_N.
    covs_all = np.concatenate([covs, (delta ** (-2.0 / d) * np.eye(d))[None]], axis=0)
    return GaussianStates(probs=p, means=means, covariances=covs_all)


def theorem_4_2_construction(
    n_states: int, dim: int, delta: float, epsilon: float, probs: np.ndarray, scale_c: float = 2.0
) -> GaussianStates:
    """Appendix C.3: N (even) unit-covariance states; every estimate within ε of 0 hallucinates.

    Needs Σ p_i μ_i = 0 and ‖μ_i‖ ≥ R := √(−2 ln δ) + ε, since then for ‖a‖ ≤ ε
    f_i(a) ≤ exp(−½(‖μ_i‖ − ε)²) ≤ δ. The paper pairs i with N − i (1-based), which reaches the
    non-existent index 0 at i = N and pairs N/2 with itself (forcing μ_{N/2} = 0); its example
    also gives μ_N = 0. We pair i with N + 1 − i and, with w = max(p_i, p_j), set
    μ_i = c R (w/p_i) u and μ_j = −c R (w/p_j) u (u = 1/√d): p_i μ_i + p_j μ_j = 0 and both
    norms are ≥ c R > R.
    """
    n, d = check_count(n_states, "n_states", minimum=2), check_count(dim, "dim")
    if n % 2:
        raise ValueError(f"n_states must be even (states are paired), got {n}")
    delta = check_delta(delta)
    eps = float(epsilon)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"epsilon must be finite and >= 0, got {epsilon!r}")
    if check_positive(scale_c, "scale_c") <= 1.0:
        raise ValueError(f"scale_c must be > 1, got {scale_c!r}")
    p = _positive_probs(probs, n)
    # For δ > 1 the bound f_i ≤ 1 < δ holds anywhere, so the log term is clipped at 0.
    radius = math.sqrt(max(-2.0 * math.log(delta), 0.0)) + eps
    u = np.ones(d) / math.sqrt(d)
    means = np.zeros((n, d))
    for i in range(n // 2):
        j = n - 1 - i
        w = max(p[i], p[j])
        means[i] = scale_c * radius * (w / p[i]) * u
        means[j] = -scale_c * radius * (w / p[j]) * u
    covs = np.broadcast_to(np.eye(d), (n, d, d)).copy()
    return GaussianStates(probs=p, means=means, covariances=covs)


def theorem_4_3_construction(
    n_states: int,
    dim: int,
    delta: float,
    lipschitz: float,
    hint_bound: float,
    probs: np.ndarray,
    scale_c: float = 2.0,
) -> GaussianStates:
    """Appendix C.4: an L-Lipschitz estimator, optimal at X, δ-hallucinates at every X + δ_i.

    ‖A*(X + δ_i) − A*(X)‖ ≤ L ‖δ_i‖ ≤ L B_δ (C.8), so Theorem 4.2's construction with
    ε = L · B_δ applies to every hinted input.
    """
    eps = check_positive(lipschitz, "lipschitz") * float(hint_bound)
    if not math.isfinite(eps) or hint_bound < 0:
        raise ValueError(f"hint_bound must be finite and >= 0, got {hint_bound!r}")
    return theorem_4_2_construction(n_states, dim, delta, eps, probs, scale_c)
