"""The coin experiment's metric names (paper §6.1), declared once: the trainer emits them, the
stage writes them (history CSV columns, MLflow keys), the report, the sweep and the dashboard
read them. A new per-epoch metric: compute it in train.py and name it here."""

from __future__ import annotations

TRAIN_LOSS, VAL_LOSS = "train/loss", "val/loss"
COND_PROB, DELTA_RATE = "val/cond_prob", "val/delta_hall_rate"  # under coin.eval.rounding
EPOCH_TIME = "time/epoch_s"
ROUNDINGS = ("ceil", "round")  # the rules of theory.round_total; both are always reported


def by_rounding(key: str, rounding: str) -> str:
    """The same score under a named rounding (val/cond_prob -> val/cond_prob_round)."""
    return f"{key}_{rounding}"


BY_ROUNDING = tuple(by_rounding(k, r) for r in ROUNDINGS for k in (COND_PROB, DELTA_RATE))
# What every epoch of a coin training reports, in the history CSV's column order.
EPOCH_KEYS = (TRAIN_LOSS, VAL_LOSS, COND_PROB, DELTA_RATE, *BY_ROUNDING, EPOCH_TIME)
# The δ grid of the δ-sensitivity curves (plots/coin/delta_sensitivity.csv): δ ∈ (0, 1).
DELTA_GRID = tuple(round(0.005 * i, 3) for i in range(1, 200))
SENSITIVITY_COLUMNS = (
    "n_choose",
    "estimator",
    "rounding",
    "delta",
    "rate",
    "rate_low",
    "rate_high",
)
SHOWN = (TRAIN_LOSS, VAL_LOSS, COND_PROB, DELTA_RATE)  # printed each epoch


def val_key(score: str) -> str:
    """The per-epoch name of a validation score of coin/metrics.py (cond_prob -> val/cond_prob)."""
    return f"val/{score}"


def ref_key(line: str) -> str:
    """An exact reference line of coin/metrics.population_reference (optimal_loss -> ref/...)."""
    return f"ref/{line}"


def chart_key(ref: str) -> str:
    """MLflow's name of a reference line, charted beside the metric it bounds (the UI groups
    charts by the part before "/" and sorts by name): ref/optimal_loss -> val/loss:optimal,
    ref/mode_delta_hall_rate_ceil -> val/delta_hall_rate_ceil:mode."""
    kind, _, metric = ref.removeprefix("ref/").partition("_")
    return f"val/{metric}:{kind}"
