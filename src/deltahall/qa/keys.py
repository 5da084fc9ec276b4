"""The QA experiment's metric names (paper §6.2, Table 1), declared once: training and scoring
emit them, the stage writes them, the report, the sweep and the dashboard read them. A new
per-epoch rate: compute it in metrics.py and name it here."""

from __future__ import annotations

TRAIN_LOSS, VAL_LOSS = "train/loss", "val/loss"
DELTA_RATE = "val/delta_hall_rate"  # held-out answers matching neither valid answer
ACCURACY = "val/accuracy"  # held-out answers that ARE one of the valid answers
BLEND_RATE = "val/blend_rate"  # ... that join one valid answer's start to the other's end
CONFIDENCE = "val/confidence"  # mean probability of the answer (product of its tokens')
ECE = "val/ece"  # expected calibration error of that probability (correct: not δ-flagged)
EPOCH_TIME, EVAL_TIME = "time/epoch_s", "time/eval_s"
RESEMBLANCE_INCORRECT, RESEMBLANCE_CORRECT = "resemblance/incorrect", "resemblance/correct"
RESEMBLANCE_DIFF, TRUTHFUL_ACC = "resemblance/diff", "truthful/acc"
TQA_RATES = (RESEMBLANCE_INCORRECT, RESEMBLANCE_CORRECT, RESEMBLANCE_DIFF, TRUTHFUL_ACC)
HEADLINE = (TRAIN_LOSS, VAL_LOSS, DELTA_RATE, *TQA_RATES)  # printed, and in train.json


def confidence_target(kind: str, target: float) -> str:
    """Kalai et al.'s penalised score or abstention rate at confidence target t."""
    return f"val/{kind}_{target:g}"


def rates(targets: list[float]) -> list[str]:
    """The per-epoch rates, each logged with a bootstrap CI (`_low`, `_high`)."""
    return [
        DELTA_RATE,
        ACCURACY,
        BLEND_RATE,
        *[confidence_target(kind, t) for t in targets for kind in ("score", "abstain")],
        *TQA_RATES,
    ]


def epoch_keys(targets: list[float]) -> list[str]:
    """Every key of one evaluated epoch, in the history CSV's column order."""
    every = rates(targets)
    return [
        TRAIN_LOSS,
        VAL_LOSS,
        *every,
        *[f"{r}_{end}" for r in every for end in ("low", "high")],
        CONFIDENCE,
        ECE,
        EPOCH_TIME,
        EVAL_TIME,
    ]
