"""The paper's existence constructions for the L2 loss (Thms 4.1, 4.2, 4.3, Cor. 4.2.1; App. C).

Each returns concrete GaussianStates whose L2-optimal estimate Σ p_i μ_i = 0 (Lemma C.1) lies
where every state's density is ≤ δ, i.e. the optimal estimator δ-hallucinates (Def. 3.2).
Every state's HCDR {a : f_i(a) > δ} is kept non-empty (peak density > δ, refused otherwise):
with an empty HCDR every estimate "hallucinates" and the theorem says nothing.
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
from deltahall.theory.gaussian import LOG_2PI, GaussianStates


def _positive_probs(probs: np.ndarray, n_states: int) -> np.ndarray:
    p = check_distribution(probs, "probs")
    if p.size != n_states:
        raise ValueError(f"probs must have n_states = {n_states} entries, got {p.size}")
    if np.any(p <= 0):
        raise ValueError("probs must be strictly positive (the constructions divide by p_i)")
    return p


def _log_peak(cov: np.ndarray) -> float:
    """log max_a N(a; μ, Σ) = −(d/2) ln 2π − ½ ln det Σ."""
    return -0.5 * (cov.shape[0] * LOG_2PI + np.linalg.slogdet(cov)[1])


def _require_nonempty_hcdrs(covs: np.ndarray, delta: float) -> None:
    for i, cov in enumerate(covs):
        if _log_peak(cov) <= math.log(delta):
            raise ValueError(
                f"state {i}'s peak density {math.exp(_log_peak(cov)):.6g} is <= delta = "
                f"{delta:.6g}: its HCDR would be empty and the theorem vacuous; use a smaller "
                "delta or a smaller covariance"
            )


def _state_covariances(covariances: np.ndarray | None, n: int, d: int) -> np.ndarray:
    if covariances is None:
        return np.broadcast_to(np.eye(d), (n, d, d)).copy()
    covs = as_finite_array(covariances, "covariances", ndim=3)
    if covs.shape != (n, d, d):
        raise ValueError(f"covariances must have shape ({n}, {d}, {d}), got {covs.shape}")
    for i in range(n):
        check_covariance(covs[i], d, f"covariances[{i}]")
    return covs


def theorem_4_1_construction(
    n_states: int, dim: int, delta: float, probs: np.ndarray, covariances: np.ndarray | None = None
) -> GaussianStates:
    """Appendix C.1: N ≥ 2 Gaussian states, every HCDR non-empty, whose L2 optimum 0 hallucinates.

    States N(μ_i, Σ_i), Σ_i from `covariances` (shape (N, d, d), default I), each with peak
    density > δ. States 1..N−1: μ_i = m_i 1 with m_i² = (−2 ln δ − ln det Σ_i) / (1ᵀ Σ_i⁻¹ 1),
    so f_i(0) = (2π)^(-d/2) δ. State N: μ_N = −Σ_{i<N} (p_i/p_N) μ_i (forcing Σ p_i μ_i = 0);
    if that leaves f_N(0) above (2π)^(-d/2) δ, every mean is scaled by the same c > 1, which
    keeps Σ p_i μ_i = 0 and only lowers the other f_i(0).
    """
    n, d = check_count(n_states, "n_states", minimum=2), check_count(dim, "dim")
    delta = check_delta(delta)
    p = _positive_probs(probs, n)
    covs = _state_covariances(covariances, n, d)
    _require_nonempty_hcdrs(covs, delta)
    ones = np.ones(d)
    means = np.zeros((n, d))
    for i in range(n - 1):
        # The paper divides by 1ᵀ Σ_i 1, but f_i(0) contains μ_iᵀ Σ_i⁻¹ μ_i = m_i² 1ᵀ Σ_i⁻¹ 1;
        # the two agree only for Σ_i = I. Σ⁻¹ is what makes f_i(0) ≤ δ true for any Σ_i.
        # peak_i > δ makes the numerator exceed d ln 2π > 0.
        num = -2.0 * math.log(delta) - np.linalg.slogdet(covs[i])[1]
        means[i] = math.sqrt(num / float(ones @ np.linalg.solve(covs[i], ones))) * ones
    means[n - 1] = -(p[: n - 1] @ means[: n - 1]) / p[n - 1]
    # The paper sets Σ_N = δ^(2/d) I, whose f_N(0) can exceed δ (N=2, d=1, δ=.5, p=(.1,.9):
    # 0.77), and its algebra needs Σ_N = δ^(-2/d) I, whose peak (2π)^(-d/2) δ < δ leaves the
    # HCDR empty. Pushing μ_N out instead: f_N(0) = peak_N exp(−½ c² q_N) ≤ (2π)^(-d/2) δ.
    quad_n = float(means[n - 1] @ np.linalg.solve(covs[n - 1], means[n - 1]))
    quad_needed = 2.0 * (_log_peak(covs[n - 1]) - math.log(delta)) + d * LOG_2PI
    means *= math.sqrt(max(1.0, quad_needed / quad_n))
    return GaussianStates(probs=p, means=means, covariances=covs)


def corollary_4_2_1_construction(
    dim: int, delta: float, probs_per_input: np.ndarray
) -> list[GaussianStates]:
    """Appendix C.2: inputs X_1..X_S, each A(X_j) built as in C.1 (probs_per_input (S, N)).

    An estimator minimising the expected L2 loss over all inputs minimises it at each X_j
    (the loss is a sum over inputs), so it outputs 0 at every X_j and hallucinates at each.
    """
    table = as_finite_array(probs_per_input, "probs_per_input", ndim=2)
    if table.shape[0] == 0:
        raise ValueError("probs_per_input must list at least one input")
    return [theorem_4_1_construction(table.shape[1], dim, delta, row) for row in table]


def theorem_4_2_construction(
    n_states: int, dim: int, delta: float, epsilon: float, probs: np.ndarray, scale_c: float = 2.0
) -> GaussianStates:
    """Appendix C.3: N (even) unit-covariance states; every estimate within ε of 0 hallucinates.

    δ must lie below the unit Gaussian's peak (2π)^(-d/2), or every HCDR would be empty.

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
    covs = _state_covariances(None, n, d)
    _require_nonempty_hcdrs(covs, delta)  # δ < (2π)^(-d/2), hence −2 ln δ > 0
    radius = math.sqrt(-2.0 * math.log(delta)) + eps
    u = np.ones(d) / math.sqrt(d)
    means = np.zeros((n, d))
    for i in range(n // 2):
        j = n - 1 - i
        w = max(p[i], p[j])
        means[i] = scale_c * radius * (w / p[i]) * u
        means[j] = -scale_c * radius * (w / p[j]) * u
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
