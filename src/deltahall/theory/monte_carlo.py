"""Monte-Carlo estimate of P_H^δ (§5) beside the Theorem 5.1 bound, for a user model of the μ_i.

States are N(μ_i, σ² I); then U_i^δ is the open ball of radius ρ(σ, d, δ) around μ_i
(gaussian_hcdr_radius), so whether A* = Σ p_i μ_i hallucinates is decided exactly, and ρ is the
minimal covering radius r of Definition 5.3 that the bound uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from deltahall.theory._checks import as_finite_array, check_count, check_distribution
from deltahall.theory.gaussian import gaussian_hcdr_radius
from deltahall.theory.lower_bound import theorem_5_1_lower_bound

MuSampler = Callable[[np.random.Generator, int], np.ndarray]
_CHUNK = 50_000  # bounds memory at n × N × dim floats per call of the sampler


@dataclass(frozen=True)
class MonteCarloResult:
    """Estimated P_H^δ with a 95% Wilson interval."""

    estimate: float
    ci_low: float
    ci_high: float
    n_samples: int
    n_hallucinated: int
    radius: float


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sane at 0 and n successes)."""
    z = float(norm.ppf(0.5 + level / 2.0))
    phat, z2n = successes / n, z * z / n
    centre = (phat + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(phat * (1.0 - phat) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _draw(sample_mus: MuSampler, rng: np.random.Generator, n: int, n_states: int) -> np.ndarray:
    """Call the user sampler and normalise its output to (n, N, dim)."""
    mus = as_finite_array(sample_mus(rng, n), "sample_mus output")
    if mus.ndim == 2:  # scalar outputs: (n, N) -> (n, N, 1)
        mus = mus[..., None]
    if mus.ndim != 3 or mus.shape[:2] != (n, n_states):
        raise ValueError(f"sample_mus must return shape ({n}, {n_states}, dim), got {mus.shape}")
    return mus


def _radius(dim: int, sigma: float | None, delta: float | None, radius: float | None) -> float:
    if radius is not None:
        if sigma is not None or delta is not None:
            raise ValueError("give either radius or (sigma, delta), not both")
        if not math.isfinite(radius) or radius < 0:
            raise ValueError(f"radius must be finite and >= 0, got {radius!r}")
        return float(radius)
    if sigma is None or delta is None:
        raise ValueError("give either radius or both sigma and delta")
    return gaussian_hcdr_radius(sigma, dim, delta)


def monte_carlo_hallucination_probability(
    p: np.ndarray,
    sample_mus: MuSampler,
    n_samples: int,
    rng: np.random.Generator,
    *,
    sigma: float | None = None,
    delta: float | None = None,
    radius: float | None = None,
) -> MonteCarloResult:
    """Fraction of draws of (μ_1..μ_N) for which A* = Σ p_i μ_i lies in no U_i^δ.

    sample_mus(rng, n) -> (n, N, dim). U_i^δ is the open ball B(μ_i, ρ) with ρ from (sigma,
    delta) for N(μ_i, σ² I) states, or ρ = `radius` given directly; A* hallucinates iff
    ‖A* − μ_i‖ ≥ ρ for every i (Remark 5.1).
    """
    probs = check_distribution(p, "p")
    n_total = check_count(n_samples, "n_samples")
    hits, rho = 0, math.nan
    for start in range(0, n_total, _CHUNK):
        mus = _draw(sample_mus, rng, min(_CHUNK, n_total - start), probs.size)
        if math.isnan(rho):
            rho = _radius(mus.shape[2], sigma, delta, radius)
        optimal = np.einsum("i,nid->nd", probs, mus)
        dist = np.linalg.norm(mus - optimal[:, None, :], axis=2)
        hits += int(np.sum(np.all(dist >= rho, axis=1)))
    low, high = wilson_interval(hits, n_total)
    return MonteCarloResult(hits / n_total, low, high, n_total, hits, rho)


@dataclass(frozen=True, eq=False)
class MuMoments:
    """μ_0 (dim,), σ_i^d = E‖μ_i − μ_0‖² and K_i = (E‖μ_i − μ_0‖²)² / E‖μ_i − μ_0‖⁴ (Thm 5.1)."""

    mu0: np.ndarray
    sigma_d: np.ndarray
    kurtosis_ratio: np.ndarray


def moments_from_samples(mu_samples: np.ndarray, mu0: np.ndarray | None = None) -> MuMoments:
    """Plug-in moments of Definition 5.1 from samples (n, N, dim) (or (n, N) for dim 1).

    μ_0 defaults to the mean pooled over samples and states: Assumption 5.1 says all μ_i share it.
    """
    mus = as_finite_array(mu_samples, "mu_samples")
    mus = mus[..., None] if mus.ndim == 2 else mus
    if mus.ndim != 3 or mus.shape[0] < 2:
        raise ValueError(f"mu_samples must have shape (n >= 2, N, dim), got {mus.shape}")
    centre = mus.mean(axis=(0, 1)) if mu0 is None else as_finite_array(mu0, "mu0").reshape(-1)
    sq = np.sum((mus - centre) ** 2, axis=2)  # (n, N) squared distances ‖μ_i − μ_0‖²
    second, fourth = sq.mean(axis=0), (sq**2).mean(axis=0)
    if np.any(fourth <= 0):
        raise ValueError("some state's μ_i never moves from μ_0: σ_i^d = 0")
    return MuMoments(mu0=centre, sigma_d=second, kurtosis_ratio=second**2 / fourth)


def compare_bound_and_monte_carlo(
    p: np.ndarray,
    sample_mus: MuSampler,
    n_samples: int,
    rng: np.random.Generator,
    *,
    sigma: float | None = None,
    delta: float | None = None,
    radius: float | None = None,
    n_moment_samples: int | None = None,
    mu0: np.ndarray | None = None,
) -> dict[str, object]:
    """Theorem 5.1's bound (moments estimated from a separate draw) beside the MC estimate.

    `bound_holds` compares the bound with the upper end of the MC interval, so that it is False
    only when the data contradict the bound at 95% confidence.
    """
    probs = check_distribution(p, "p")
    n_mom = check_count(n_moment_samples or n_samples, "n_moment_samples", minimum=2)
    moments = moments_from_samples(_draw(sample_mus, rng, n_mom, probs.size), mu0)
    mc = monte_carlo_hallucination_probability(
        probs, sample_mus, n_samples, rng, sigma=sigma, delta=delta, radius=radius
    )
    res = theorem_5_1_lower_bound(probs, moments.sigma_d, moments.kurtosis_ratio, mc.radius)
    return {
        "bound": res.bound,
        "applicable": res.all_applicable,
        "d": res.d,
        "radius": mc.radius,
        "alphas": res.alphas.tolist(),
        "P": res.P.tolist(),
        "K": res.K.tolist(),
        "sigma_d": moments.sigma_d.tolist(),
        "mc_estimate": mc.estimate,
        "mc_ci_low": mc.ci_low,
        "mc_ci_high": mc.ci_high,
        "n_samples": mc.n_samples,
        "bound_holds": bool(mc.ci_high >= res.bound),
        "gap": mc.estimate - res.bound,
    }
