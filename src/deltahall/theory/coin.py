"""Exact reference values of the coin-aggregation experiment (§6.1).

2N coins, coin i (0-based) lands heads with probability (i + 1)/(2N); an example draws N distinct
coins uniformly among the C(2N, N) subsets, flips them, and the target is the number of heads K.
Given the subset, K is Poisson-binomial, so every reference value is an exact finite average.
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import numpy as np

from deltahall.theory._checks import check_count
from deltahall.theory.poisson_binomial import poisson_binomial_pmf_batch

Rounding = Literal["ceil", "round"]


def coin_head_probs(n_choose: int) -> np.ndarray:
    """Head probabilities of the 2N coins: coin i (0-based) has (i + 1)/(2N); shape (2N,)."""
    n = check_count(n_choose, "n_choose")
    return np.arange(1, 2 * n + 1, dtype=np.float64) / (2 * n)


def round_total(estimates: np.ndarray, rounding: Rounding) -> np.ndarray:
    """Integer totals from real-valued estimates: "ceil", or "round" = floor(x + 0.5) (half up).

    Rounded to 9 decimals first: float sums of head probabilities land an ulp off exact
    integers and halves (for N = 6 a subset summing to exactly 3 gives 3.0000000000000004,
    which a bare ceil sends to 4). Half-to-even rounding is not used.
    """
    clean = np.round(np.asarray(estimates, dtype=np.float64), 9)
    if rounding == "ceil":
        return np.ceil(clean).astype(np.int64)
    if rounding == "round":
        return np.floor(clean + 0.5).astype(np.int64)
    raise ValueError(f"rounding must be 'ceil' or 'round', got {rounding!r}")


def coin_reference_values(n_choose: int, rounding: Rounding) -> dict[str, float]:
    """Population reference lines, averaged over all C(2N, N) equally likely coin subsets.

    - optimal_loss: expected irreducible MSE of the Bayes-optimal L2 estimator Σp (Lemma C.1),
      i.e. the mean of Var(K | subset) = Σ p(1 − p).
    - optimal_cond_prob: mean of P(K = r(Σp) | subset), r the rounding rule.
    - mode_cond_prob: mean of max_k P(K = k | subset), the mode-seeking estimator's score.
    """
    probs = coin_head_probs(n_choose)
    subsets = np.array(list(combinations(range(probs.size), n_choose)), dtype=np.int64)
    chosen = probs[subsets]  # (C(2N, N), N)
    pmfs = poisson_binomial_pmf_batch(chosen)
    totals = round_total(chosen.sum(axis=1), rounding)
    rows = np.arange(len(subsets))
    # A rounded total can never leave 0..N here (0 < Σp ≤ N), but guard the lookup anyway.
    inside = (totals >= 0) & (totals <= n_choose)
    cond = np.where(inside, pmfs[rows, np.clip(totals, 0, n_choose)], 0.0)
    return {
        "optimal_loss": float(np.mean(np.sum(chosen * (1.0 - chosen), axis=1))),
        "optimal_cond_prob": float(cond.mean()),
        "mode_cond_prob": float(pmfs.max(axis=1).mean()),
    }


def pmf_atoms(table: np.ndarray, n_choose: int) -> np.ndarray:
    """Every distinct value P(K = k | subset, state) can take: the atoms of the pmfs.

    table: (S, 2N) head probability of each coin under each latent state. A δ equal to an atom
    makes "P ≤ δ" (Definition 3.2) hinge on float rounding at that atom, so the coin δ is
    chosen away from all of them. Sorted, deduplicated to 12 decimals.
    """
    n_coins = table.shape[1]
    subsets = np.array(list(combinations(range(n_coins), n_choose)), dtype=np.int64)
    chosen = np.asarray(table, dtype=np.float64)[:, subsets]  # (S, C, N)
    pmfs = poisson_binomial_pmf_batch(chosen.reshape(-1, n_choose))
    return np.unique(np.round(pmfs.ravel(), 12))
