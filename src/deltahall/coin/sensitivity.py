"""The δ-sensitivity of the coin experiment (the curve the paper lacks): the δ-hallucination
rate as a function of δ ∈ (0, 1) for the trained models, the Bayes-optimal L2 estimator and
the mode, under both roundings. Pure numpy: the stage and the report do the I/O."""

from __future__ import annotations

import numpy as np

from deltahall.coin.data import CoinData
from deltahall.coin.keys import DELTA_GRID, ROUNDINGS
from deltahall.coin.metrics import delta_curve, pmf_at, reference_curves, state_pmfs
from deltahall.stats import bootstrap_ci
from deltahall.theory import round_total


def trained_rows(estimates: np.ndarray, val: CoinData, seed: int) -> list[dict]:
    """One seed's final validation estimates: a row per (rounding, δ)."""
    pmfs = state_pmfs(val.state_probs)
    deltas = np.array(DELTA_GRID)
    rows = []
    for rule in ROUNDINGS:
        rates = delta_curve(pmf_at(pmfs, round_total(estimates, rule)), deltas)
        rows += [
            {"seed": seed, "estimator": "trained", "rounding": rule, "delta": d, "rate": r}
            for d, r in zip(DELTA_GRID, rates)
        ]
    return rows


def reference_rows(table: np.ndarray, weights: np.ndarray, n_choose: int) -> list[dict]:
    """Exact population curves of the Bayes-optimal L2 estimator and the mode (seed "")."""
    curves = reference_curves(table, weights, n_choose, np.array(DELTA_GRID))
    return [
        {"seed": "", "estimator": est, "rounding": rule, "delta": d, "rate": r}
        for (est, rule), rates in curves.items()
        for d, r in zip(DELTA_GRID, rates)
    ]


def summarise_curves(rows: list[dict], n_choose: int, n_boot: int, level: float) -> list[dict]:
    """Per (estimator, rounding, δ): the trained models' mean over seeds with a bootstrap CI
    across seeds; the exact reference curves with a zero-width interval."""
    groups: dict[tuple[str, str, float], list[float]] = {}
    for row in rows:
        groups.setdefault((row["estimator"], row["rounding"], float(row["delta"])), []).append(
            float(row["rate"])
        )
    out = []
    for (estimator, rule, delta), rates in sorted(groups.items()):
        if estimator == "trained":
            rate, low, high = bootstrap_ci(np.array(rates), n_boot, level, seed=0)
        else:
            rate = low = high = rates[0]
        out.append(
            {
                "n_choose": n_choose,
                "estimator": estimator,
                "rounding": rule,
                "delta": delta,
                "rate": rate,
                "rate_low": low,
                "rate_high": high,
            }
        )
    return out
