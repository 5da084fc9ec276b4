"""Figures 5 and 6 of §6.3 from the t2i history and the measured claim (t2i/report.py).

Figure 5: hallucination rate (green, left axis) with the real floor (grey band) and training
loss (blue, right axis) per epoch; below, the excess over the floor with its CI.
Figure 6: per prompt, the same rate, floor and excess, and the estimator-level verdict.
Error bars are bootstrap CIs across seeds (deltahall.stats.bootstrap_ci).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deltahall.figures import pyplot, save_figure
from deltahall.stats import bootstrap_ci
from deltahall.t2i import keys


def seed_band(history: pd.DataFrame, metric: str, n_boot: int, level: float) -> pd.DataFrame:
    """Per epoch: mean over seeds and its bootstrap CI across seeds."""
    rows = []
    for epoch, group in history.groupby("epoch"):
        est, low, high = bootstrap_ci(group[metric].to_numpy(), n_boot, level, seed=int(epoch))
        rows.append({"epoch": epoch, "mean": est, "low": low, "high": high})
    return pd.DataFrame(rows)


def _errorbar(ax, band: pd.DataFrame, color: str, label: str, **kw) -> None:
    yerr = np.vstack([band["mean"] - band["low"], band["high"] - band["mean"]]).clip(min=0)
    ax.errorbar(band["epoch"], band["mean"], yerr=yerr, color=color, capsize=3, label=label, **kw)


def _floor_band(ax, floor: dict) -> None:
    ax.axhspan(floor["low"], floor["high"], color="0.6", alpha=0.3, lw=0)
    ax.axhline(floor["rate"], color="0.4", lw=1, ls=":", label="real held-out images")


def _excess_panel(ax, by_epoch: list[dict]) -> None:
    band = pd.DataFrame(
        [
            {"epoch": r["epoch"], "mean": r["excess"], "low": r["low"], "high": r["high"]}
            for r in by_epoch
        ]
    )
    _errorbar(ax, band, "C3", "generated − real")
    ax.axhline(0.0, color="0.4", lw=1)
    ax.set(xlabel="epoch", ylabel="excess rate", ylim=(-1.02, 1.02))
    ax.legend(fontsize=7, loc="upper right")


def figure5(history: pd.DataFrame, measured: dict, path: Path, n_boot: int, level: float) -> Path:
    plt = pyplot()

    fig, (ax, low) = plt.subplots(
        2, 1, figsize=(6, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    for _, seed_rows in history.groupby("seed"):
        ax.plot(seed_rows["epoch"], seed_rows[keys.HALL_RATE], color="C2", alpha=0.25, lw=1)
    _errorbar(ax, seed_band(history, keys.HALL_RATE, n_boot, level), "C2", "hallucination rate")
    _floor_band(ax, measured["real_heldout"])
    ax.set(ylabel="share outside every HCDR", ylim=(-0.02, 1.02))
    right = ax.twinx()
    _errorbar(right, seed_band(history, keys.TRAIN_LOSS, n_boot, level), "C0", "training loss")
    right.set_ylabel("training loss (ε-MSE)")
    n = history["seed"].nunique()
    ax.set_title(
        f"Figure 5: rate and loss per epoch, epoch 0 = pretrained base ({n} seeds, {level:.0%} CI)",
        fontsize=9,
    )
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="center right", fontsize=7)
    _excess_panel(low, measured["excess_rate_by_epoch"])
    return _save(fig, path)


def figure6(
    history: pd.DataFrame,
    prompts: dict[str, str],
    measured: dict,
    path: Path,
    n_boot: int,
    level: float,
) -> Path:
    plt = pyplot()

    fig, axes = plt.subplots(
        2,
        len(prompts),
        figsize=(4 * len(prompts), 5),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": [2, 1]},
    )
    for column, (name, text) in enumerate(prompts.items()):
        ax, per = axes[0][column], measured["by_prompt"][name]
        _errorbar(
            ax,
            seed_band(history, keys.per_prompt(keys.HALL_RATE, name), n_boot, level),
            "C2",
            "per-image rate",
        )
        _floor_band(ax, per["real_heldout"])
        verdict = history.groupby("epoch")[keys.per_prompt(keys.MEAN_HALL, name)].mean()
        ax.plot(
            verdict.index,
            verdict.to_numpy(),
            "s--",
            color="C1",
            ms=4,
            label="mean embedding outside\n(share of seeds)",
        )
        ax.set(title=f"{name}: \u201c{text}\u201d", ylim=(-0.02, 1.02))
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6)
        _excess_panel(axes[1][column], per["excess_rate_by_epoch"])
    axes[0][0].set_ylabel("share outside every HCDR")
    fig.suptitle("Figure 6: hallucination rate per prompt, against the real floor", fontsize=10)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    return save_figure(fig, path)
