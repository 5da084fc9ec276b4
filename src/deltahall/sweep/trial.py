"""What every experiment's sweep objective returns, and how a trial's seeds are combined."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from deltahall.config import Params

EpochCallback = Callable[[int, dict[str, float]], None]
# The experiments a study can sweep: name -> the module that answers the Experiment protocol.
EXPERIMENTS = {
    "coin": "deltahall.sweep.coin",
    "qa": "deltahall.sweep.qa",
    "t2i": "deltahall.sweep.t2i",
}
TRAIN_LOSS = "train/loss"  # every experiment's training loss, reported beside objective 1
VAL_LOSS = "val/loss"  # held-out loss, where an experiment has one (coin, QA)


@dataclass
class SeedRun:
    """One training of one trial's knobs from one seed."""

    history: list[dict[str, float]]  # one dict per epoch: {"epoch": e, "train/loss": ..., ...}
    # The δ-hallucination detector's per-output score at the last epoch (what it thresholds)
    # and its threshold: hallucinated iff score <= threshold.
    scores: list[float] = field(default_factory=list)
    threshold: float = float("nan")


class Experiment(Protocol):
    """A module in deltahall.sweep that the stage can sweep (see EXPERIMENTS)."""

    LOSS: str  # metric minimised by training whose final value is objective 1
    RATE: str  # the δ-hallucination rate: objective 2
    SCORE: str  # what the detector scores, for the dashboard's histograms

    def check(self, params: Params) -> None: ...

    def base_params(self, params: Params) -> dict[str, Any]:
        """The experiment's own params that the knobs override (JSON-able): two workers share
        a study only if these match."""
        ...

    def train(
        self, params: Params, knobs: dict[str, Any], seed: int, on_epoch: EpochCallback
    ) -> SeedRun: ...


def mean_curve(runs: list[SeedRun], keys: list[str]) -> list[dict[str, float]]:
    """Per epoch, the mean over seeds of each key (epochs every seed reached)."""
    n = min(len(r.history) for r in runs)
    return [
        {
            "epoch": runs[0].history[i]["epoch"],
            **{k: float(np.mean([r.history[i][k] for r in runs])) for k in keys},
        }
        for i in range(n)
    ]


def objectives(runs: list[SeedRun], loss: str, rate: str) -> tuple[float, float]:
    """(final loss, final rate): last-epoch values, averaged over the trial's seeds."""
    return (
        float(np.mean([r.history[-1][loss] for r in runs])),
        float(np.mean([r.history[-1][rate] for r in runs])),
    )
