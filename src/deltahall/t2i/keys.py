"""The text-to-image experiment's metric names (paper §6.3), declared once: the run emits them,
the stage writes them, the report, the sweep and the dashboard read them. A new per-epoch
metric: compute it in run.py (or evaluate.py) and name it here."""

from __future__ import annotations

EXPERIMENT = "t2i"  # the MLflow experiment of t2i_pretrain and t2i_train
TRAIN_LOSS, FIXED_NOISE_LOSS = "train/loss", "train/loss_fixed_noise"
HALL_RATE, MEAN_HALL = "val/hall_rate", "val/mean_hall"  # per image; estimator-level test
EPOCH_TIME = "time/epoch_s"
LOSSES = (TRAIN_LOSS, FIXED_NOISE_LOSS)
SHOWN = (TRAIN_LOSS, FIXED_NOISE_LOSS, HALL_RATE, MEAN_HALL)  # printed each epoch


def per_prompt(base: str, prompt: str) -> str:
    """val/hall_rate -> val/hall_rate/<prompt>."""
    return f"{base}/{prompt}"


def low(key: str) -> str:
    return f"{key}_low"


def high(key: str) -> str:
    return f"{key}_high"


def judged_keys(prompts: list[str]) -> list[str]:
    """Every key the detector's judgement yields in an epoch, in a stable order."""
    names = []
    for base in (HALL_RATE, MEAN_HALL):
        for stem in [base] + [per_prompt(base, p) for p in prompts]:
            names += [stem, low(stem), high(stem)]
    return names


def epoch_keys(prompts: list[str]) -> list[str]:
    """Every key of one epoch's metrics, in the history CSV's column order."""
    return [*LOSSES, *judged_keys(prompts), EPOCH_TIME]
