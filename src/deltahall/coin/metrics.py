"""Exact scoring of coin estimates (numpy only): conditional probability and δ-hallucination.

Every example carries the exact pmf of its total under each latent state (Poisson-binomial of
its chosen coins' head probabilities), so the scores involve no sampling.
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Literal

import numpy as np

from deltahall.coin.keys import ROUNDINGS
from deltahall.theory import delta_hallucinates, poisson_binomial_pmf_batch, round_total

Rounding = Literal["ceil", "round"]


def state_pmfs(state_probs: np.ndarray) -> np.ndarray:
    """(M, S, N) head probabilities -> (M, S, N+1) exact pmf of the total under each state."""
    m, s, n = state_probs.shape
    return poisson_binomial_pmf_batch(state_probs.reshape(m * s, n)).reshape(m, s, n + 1)


def pmf_at(pmfs: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """(M, S, K) pmfs and (M,) integer totals -> (M, S) probabilities; 0 outside 0..K-1."""
    k = pmfs.shape[-1]
    inside = (totals >= 0) & (totals < k)
    picked = np.take_along_axis(pmfs, np.clip(totals, 0, k - 1)[:, None, None], axis=2)[..., 0]
    return np.where(inside[:, None], picked, 0.0)


def score_totals(pmfs: np.ndarray, totals: np.ndarray, delta: float) -> dict[str, np.ndarray]:
    """Per example: P(K = total | best-matching state) and whether it δ-hallucinates (Def. 3.2)."""
    probs = pmf_at(pmfs, totals)
    return {"cond_prob": probs.max(axis=1), "hallucinated": delta_hallucinates(probs, delta)}


def score_estimates(
    estimates: np.ndarray, heads: np.ndarray, pmfs: np.ndarray, rounding: Rounding, delta: float
) -> dict[str, float]:
    """The per-epoch validation metrics of a model's real-valued estimates: under the
    configured `rounding`, and under each rounding by name (cond_prob_ceil, ...)."""
    out = {"loss": float(np.mean((np.asarray(estimates, dtype=np.float64) - heads) ** 2))}
    for rule in ROUNDINGS:
        scored = score_totals(pmfs, round_total(estimates, rule), delta)
        for name, values in (
            ("cond_prob", scored["cond_prob"]),
            ("delta_hall_rate", scored["hallucinated"]),
        ):
            out[f"{name}_{rule}"] = float(values.mean())
            if rule == rounding:
                out[name] = out[f"{name}_{rule}"]
    return out


def delta_curve(probs: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """δ-hallucination rate at each δ (Definition 3.2): the share of examples whose
    P(K = k̂ | state) is ≤ δ for every state. probs: (M, S); returns (len(deltas),)."""
    best = np.asarray(probs, dtype=np.float64).max(axis=1)
    return np.array([float(np.mean(best <= d)) for d in np.asarray(deltas, dtype=np.float64)])


def reference_estimators(pmfs: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """The estimators a trained model is measured against, from the exact mixture pmf.

    optimal: the Bayes-optimal L2 estimator E[K | coins] (Lemma C.1); its expected loss is
    the irreducible Var(K | coins). mode: arg-max of P(K | coins), the mode-seeking estimator.
    """
    mixture = np.einsum("msk,s->mk", pmfs, weights)
    support = np.arange(pmfs.shape[-1], dtype=np.float64)
    mean = mixture @ support
    return {
        "optimal": mean,
        "optimal_var": mixture @ support**2 - mean**2,
        "mode": mixture.argmax(axis=1).astype(np.float64),
    }


def _population(
    table: np.ndarray, weights: np.ndarray, n_choose: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Over all C(2N, N) equally likely subsets: their (C, S, N+1) pmfs and the reference
    estimators (reference_estimators) of each. table: (S, 2N) head probabilities."""
    n_coins = table.shape[1]
    subsets = np.array(list(combinations(range(n_coins), n_choose)), dtype=np.int64)
    assert len(subsets) == comb(n_coins, n_choose)
    pmfs = state_pmfs(np.transpose(table[:, subsets], (1, 0, 2)))
    return pmfs, reference_estimators(pmfs, weights)


def population_reference(
    table: np.ndarray, weights: np.ndarray, n_choose: int, rounding: Rounding, delta: float
) -> dict[str, float]:
    """Exact reference lines over all C(2N, N) equally likely coin subsets.

    table: (S, 2N) head probability of each coin under each latent state. Gives, e.g. for the
    observed variant with `ceil`: N=2 optimal loss 0.3125, cond_prob 0.5000, mode 0.6042.
    """
    pmfs, refs = _population(table, weights, n_choose)
    lines = {"optimal_loss": float(refs["optimal_var"].mean())}
    for name in ("optimal", "mode"):
        for rule in ROUNDINGS:
            scored = score_totals(pmfs, round_total(refs[name], rule), delta)
            suffixes = ("", f"_{rule}") if rule == rounding else (f"_{rule}",)
            for suffix in suffixes:
                lines[f"{name}_cond_prob{suffix}"] = float(scored["cond_prob"].mean())
                lines[f"{name}_delta_hall_rate{suffix}"] = float(scored["hallucinated"].mean())
    return lines


def reference_curves(
    table: np.ndarray, weights: np.ndarray, n_choose: int, deltas: np.ndarray
) -> dict[tuple[str, str], np.ndarray]:
    """Exact δ-sensitivity of the Bayes-optimal L2 estimator and the mode over all C(2N, N)
    equally likely subsets: {(estimator, rounding): rate at each δ}."""
    pmfs, refs = _population(table, weights, n_choose)
    return {
        (label, rule): delta_curve(pmf_at(pmfs, round_total(refs[name], rule)), deltas)
        for name, label in (("optimal", "bayes_l2"), ("mode", "mode"))
        for rule in ROUNDINGS
    }
