"""Gaussian latent states: the distributions every construction of §4 / Appendix C, D uses.

A(X; Z_i) ~ N(μ_i, Σ_i) with P(Z = Z_i) = p_i (Definition 3.1). The L2-optimal estimate is the
mixture mean Σ p_i μ_i (Lemma C.1); an estimate δ-hallucinates when every f_i(a) ≤ δ (Def. 3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from deltahall.theory._checks import (
    as_finite_array,
    check_count,
    check_covariance,
    check_delta,
    check_distribution,
    check_positive,
)

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_pdf(points: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(points; mean, cov) for points of shape (..., d); returns shape (...).

    Through the Cholesky factor L (cov = L Lᵀ): the quadratic form is ‖L⁻¹(a − μ)‖² and
    log det cov = 2 Σ log diag L, which stays accurate far in the tails where pdf underflows.
    """
    pts = np.asarray(points, dtype=np.float64)
    dim = mean.shape[-1]
    chol = np.linalg.cholesky(cov)
    centred = (pts - mean).reshape(-1, dim)
    solved = solve_triangular(chol, centred.T, lower=True)
    quad = np.sum(solved**2, axis=0).reshape(pts.shape[:-1])
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (dim * LOG_2PI + log_det + quad)


def gaussian_hcdr_radius(sigma: float, dim: int, delta: float) -> float:
    """Radius ρ of U^δ = {a : f(a) > δ} for f = N(μ, σ² I_dim) (Definition 5.2).

    f(a) = (2πσ²)^(-dim/2) exp(−‖a − μ‖²/(2σ²)) > δ  ⇔  ‖a − μ‖ < ρ with
    ρ² = −2σ² ln(δ (2πσ²)^(dim/2)); ρ = 0 (U^δ empty) when the peak density is already ≤ δ.
    It is also the minimal covering radius r_i of Definition 5.3 for such a state.
    """
    var = check_positive(sigma, "sigma") ** 2
    dim = check_count(dim, "dim")
    log_level = math.log(check_delta(delta)) + 0.5 * dim * math.log(2.0 * math.pi * var)
    return math.sqrt(-2.0 * var * log_level) if log_level < 0.0 else 0.0


@dataclass(frozen=True, eq=False)
class GaussianStates:
    """N Gaussian latent states: probs (N,), means (N, d), covariances (N, d, d).

    Arrays are validated, copied and made read-only so a frozen instance is really immutable.
    """

    probs: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self) -> None:
        probs = check_distribution(self.probs, "probs")
        means = as_finite_array(self.means, "means", ndim=2)
        covs = as_finite_array(self.covariances, "covariances", ndim=3)
        n_states, dim = means.shape
        if probs.size != n_states or covs.shape[0] != n_states:
            raise ValueError(
                f"probs {probs.shape}, means {means.shape} and covariances {covs.shape} "
                "must agree on the number of states"
            )
        for i in range(n_states):
            check_covariance(covs[i], dim, f"covariances[{i}]")
        for name, arr in (("probs", probs), ("means", means), ("covariances", covs)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_states(self) -> int:
        return int(self.probs.size)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """log f_i(a) for points (..., d) -> (..., N)."""
        pts = np.asarray(points, dtype=np.float64)
        if pts.shape[-1:] != (self.dim,):
            raise ValueError(f"points must end in dimension {self.dim}, got shape {pts.shape}")
        cols = [gaussian_log_pdf(pts, m, c) for m, c in zip(self.means, self.covariances)]
        return np.stack(cols, axis=-1)

    def density(self, points: np.ndarray) -> np.ndarray:
        """f_i(a) for every state i, points (..., d) -> (..., N): the input of Definition 3.2."""
        return np.exp(self.log_density(points))

    def peak_densities(self) -> np.ndarray:
        """max_a f_i(a) = f_i(μ_i) = (2π)^(-d/2) det(Σ_i)^(-1/2) for each state, shape (N,)."""
        return np.array(
            [np.exp(gaussian_log_pdf(m, m, c)) for m, c in zip(self.means, self.covariances)]
        )

    def optimal_estimate(self) -> np.ndarray:
        """The L2-optimal estimate E[A(X)] = Σ p_i μ_i (Lemma C.1), shape (d,)."""
        return self.probs @ self.means

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n draws of (A(X), Z): outputs (n, d) and state indices (n,)."""
        states = rng.choice(self.n_states, size=n, p=self.probs)
        chols = np.linalg.cholesky(self.covariances)[states]
        noise = np.einsum("nij,nj->ni", chols, rng.standard_normal((n, self.dim)))
        return self.means[states] + noise, states
