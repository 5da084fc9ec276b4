"""Exact Poisson-binomial pmf: the law of the number of heads of independent, unequal coins.

The coin experiment (§6.1) scores an estimate k̂ by P(K = k̂ | chosen coins), K = Σ Bernoulli(p_j).
The pmf is computed by the exact O(n²) dynamic-programming convolution, not by an FFT or a
normal approximation: the scores must be exact, and n is small (n ≤ 2N coins).
"""

from __future__ import annotations

import numpy as np

from deltahall.theory._checks import check_unit_interval


def poisson_binomial_pmf(probs: np.ndarray) -> np.ndarray:
    """pmf of K = Σ_j Bernoulli(probs[j]) on {0, …, n}, shape (n + 1,).

    Raises ValueError if `probs` is not 1-D or has entries outside [0, 1] (or NaN).
    """
    return poisson_binomial_pmf_batch(check_unit_interval(probs, "probs", ndim=1)[None, :])[0]


def poisson_binomial_pmf_batch(probs_2d: np.ndarray) -> np.ndarray:
    """Row-wise Poisson-binomial pmfs: (B, n) head probabilities -> (B, n + 1) pmfs.

    Vectorised over rows so that 10⁴ examples with n ≤ 5 coins cost n numpy operations.
    """
    probs = check_unit_interval(probs_2d, "probs_2d", ndim=2)
    n_rows, n_coins = probs.shape
    pmf = np.zeros((n_rows, n_coins + 1))
    pmf[:, 0] = 1.0
    for j in range(n_coins):
        q = probs[:, j : j + 1]
        # Adding coin j: P_new(k) = P(k)(1 − q) + P(k − 1) q. Only the first j + 2 entries can be
        # non-zero, and they are updated from a copy so that no entry is reused after overwrite.
        head = pmf[:, : j + 2].copy()
        pmf[:, : j + 2] = head * (1.0 - q)
        pmf[:, 1 : j + 2] += head[:, : j + 1] * q
    return pmf
