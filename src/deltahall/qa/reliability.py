"""The reliability diagram of the QA experiment (Kalai et al.: pretraining calibrates,
post-training can break it): the held-out answers' probability against how often such answers
fit a valid answer, for the base (epoch 0) and the longest cell, seeds pooled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deltahall import paths
from deltahall.figures import pyplot, save_figure
from deltahall.qa.config import QAConfig
from deltahall.qa.keys import DELTA_RATE
from deltahall.theory.kalai import expected_calibration_error

plt = pyplot()  # Agg: no display on CI or servers


def _pooled(epoch: int, seeds: list[int]) -> pd.DataFrame:
    frames = []
    for seed in seeds:
        path = paths.qa_answers(epoch, seed)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no answers; rerun `deltahall qa-train`")
        table = pd.read_csv(path)
        frames.append(table[table["split"] == "val"])
    return pd.concat(frames, ignore_index=True)


def reliability_figure(cfg: QAConfig, seeds: list[int], last: int, path: Path) -> None:
    """Draw both curves, each labelled with the ECE of its pooled answers."""
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for epoch, label, color in ((0, "base (epoch 0)", "C0"), (last, f"{last} epochs", "C3")):
        table = _pooled(epoch, seeds)
        fits = table[DELTA_RATE].to_numpy() == 0.0  # correct: resembles a valid answer (Def 3.2)
        ece, bins = expected_calibration_error(
            np.clip(table["confidence"].to_numpy(), 0.0, 1.0), fits, cfg.eval.ece_bins
        )
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            color=color,
            label=f"{label}: ECE {ece:.3f}",
        )
    ax.set(
        xlabel="answer probability (product of its tokens')",
        ylabel="share fitting a valid answer",
        xlim=(0, 1),
        ylim=(0, 1),
        title="Calibration on held-out questions",
    )
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)
