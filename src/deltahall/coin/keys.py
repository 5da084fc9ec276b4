"""The coin experiment's metric names (paper §6.1), declared once: the trainer emits them, the
stage writes them (history CSV columns, MLflow keys), the report, the sweep and the dashboard
read them. A new per-epoch metric: compute it in train.py and name it here."""

from __future__ import annotations

TRAIN_LOSS, VAL_LOSS = "train/loss", "val/loss"
COND_PROB, DELTA_RATE = "val/cond_prob", "val/delta_hall_rate"
EPOCH_TIME = "time/epoch_s"
# What every epoch of a coin training reports, in the history CSV's column order.
EPOCH_KEYS = (TRAIN_LOSS, VAL_LOSS, COND_PROB, DELTA_RATE, EPOCH_TIME)
SHOWN = (TRAIN_LOSS, VAL_LOSS, COND_PROB, DELTA_RATE)  # printed each epoch


def val_key(score: str) -> str:
    """The per-epoch name of a validation score of coin/metrics.py (cond_prob -> val/cond_prob)."""
    return f"val/{score}"


def ref_key(line: str) -> str:
    """An exact reference line of coin/metrics.population_reference (optimal_loss -> ref/...)."""
    return f"ref/{line}"
