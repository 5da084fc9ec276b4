"""`deltahall qa-report`: Table 1 and Figure 4 of the paper (§6.2) from the tracked history.

Reads only plots/qa/history.csv (what qa_train wrote and MLflow mirrors), never typed-in
numbers. Table 1: per epochs cell, resemblance of the answers to TruthfulQA's incorrect answers
per seed and mean ± sd over seeds, beside the δ-hallucination rate; "Original" is the base
model before fine-tuning (epoch 0). Figure 4: loss, resemblance and δ-rate per epoch, seeds
as a band (min..max) around their mean, each cell's final value as a point with its sd.
The reliability diagram sets the base's calibration beside the longest cell's (answer files).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from deltahall.config import Params
from deltahall.figures import log_report, pyplot, save_figure
from deltahall.metrics_file import write_json
from deltahall.paths import QA_HISTORY as HISTORY
from deltahall.paths import QA_METRICS
from deltahall.paths import QA_REPORT as REPORT
from deltahall.qa.keys import ACCURACY, BLEND_RATE, ECE, TRAIN_LOSS, VAL_LOSS
from deltahall.qa.keys import DELTA_RATE as DELTA
from deltahall.qa.keys import RESEMBLANCE_INCORRECT as RESEMBLANCE
from deltahall.qa.reliability import reliability_figure

plt = pyplot()  # Agg: no display on CI or servers

RATES = (DELTA, BLEND_RATE, ACCURACY, ECE)  # Table 1's columns beside the resemblance


def read_history(params: Params) -> pd.DataFrame:
    """The history, checked to hold every (epochs, seed) cell that params ask for."""
    if not HISTORY.exists():
        raise FileNotFoundError(f"{HISTORY}: no QA history; run `deltahall qa-train` first")
    history = pd.read_csv(HISTORY)
    done = set(zip(history["epochs"], history["seed"]))
    missing = [
        (e, s) for e in params.qa.grid.epochs for s in params.qa.grid.seeds if (e, s) not in done
    ]
    if missing:
        raise ValueError(
            f"{HISTORY}: no rows for (epochs, seed) cells {missing}; rerun `deltahall qa-train`"
        )
    return history


def mean_sd(values: pd.Series) -> dict[str, float | None]:
    """Mean and sample sd (ddof=1) over seeds; sd is None with a single seed."""
    v = values.to_numpy(dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None}


def table1(history: pd.DataFrame, cells: list[int]) -> list[dict]:
    """One row for the base ("original", epoch 0) and one per epochs cell (its last epoch)."""
    longest = history[history["epochs"] == max(cells)]
    frames = [("original", longest[longest["epoch"] == 0])]
    frames += [
        (cell, history[(history["epochs"] == cell) & (history["epoch"] == cell)]) for cell in cells
    ]
    return [
        {
            "epochs": label,
            "per_seed": {str(int(s)): float(v) for s, v in zip(f["seed"], f[RESEMBLANCE])},
            RESEMBLANCE: mean_sd(f[RESEMBLANCE]),
            **{rate: mean_sd(f[rate]) for rate in RATES},
            TRAIN_LOSS: mean_sd(f[TRAIN_LOSS]) if f[TRAIN_LOSS].notna().all() else None,
        }
        for label, f in frames
    ]


def _fmt(stat: dict | None) -> str:
    if stat is None:
        return "–"
    return f"{stat['mean']:.4f}" + ("" if stat["sd"] is None else f" ± {stat['sd']:.4f}")


def markdown(rows: list[dict], seeds: list[int], model: str) -> str:
    head = (
        f"Table 1 ({model}): resemblance of the answers to TruthfulQA's incorrect answers "
        f"(difflib ratio, max over incorrect answers, mean over questions).\n\n"
        f"| Epochs | "
        + " | ".join(f"Seed {s}" for s in seeds)
        + " | Mean ± sd | δ-hall rate (val) | blends (val) | accuracy (val) | ECE (val) "
        "| train/loss |\n|" + "---|" * (len(seeds) + 7)
    )
    lines = [
        f"| {str(r['epochs']).capitalize()} | "
        + " | ".join(f"{r['per_seed'].get(str(s), float('nan')):.4f}" for s in seeds)
        + f" | {_fmt(r[RESEMBLANCE])} | "
        + " | ".join(_fmt(r[rate]) for rate in RATES)
        + f" | {_fmt(r[TRAIN_LOSS])} |"
        for r in rows
    ]
    return "\n".join([head, *lines]) + "\n"


def _band(ax, trajectory: pd.DataFrame, metric: str, color: str, label: str) -> None:
    stats = trajectory.groupby("epoch")[metric].agg(["mean", "min", "max"]).dropna()
    ax.plot(stats.index, stats["mean"], color=color, marker="o", ms=3, label=label)
    ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.25)


def figure4(history: pd.DataFrame, rows: list[dict], cells: list[int], path: Path) -> None:
    trajectory = history[history["epochs"] == max(cells)]  # epochs 0..max of every seed
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    _band(axes[0], trajectory, TRAIN_LOSS, "C0", TRAIN_LOSS)
    _band(axes[0], trajectory, VAL_LOSS, "C1", VAL_LOSS)
    for ax, metric in ((axes[1], RESEMBLANCE), (axes[2], DELTA)):
        _band(ax, trajectory, metric, "C2", f"epoch by epoch ({max(cells)}-epoch run)")
        finals = [r for r in rows if r["epochs"] != "original"]
        ax.errorbar(
            [r["epochs"] for r in finals],
            [r[metric]["mean"] for r in finals],
            yerr=[r[metric]["sd"] or 0.0 for r in finals],
            fmt="s",
            color="C3",
            capsize=3,
            label="end of each cell (mean ± sd)",
        )
    titles = ("Loss", "Resemblance to incorrect answers", "δ-hallucination rate (val)")
    axes[0].set_yscale("log")  # val/loss of unseen answers sits far above train/loss
    for ax, title in zip(axes, titles):
        ax.set(title=title, xlabel="epoch (0 = base model)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    save_figure(fig, path)


def run_qa_report(params: Params) -> dict:
    cfg = params.qa
    history = read_history(params)
    cells, seeds = sorted(cfg.grid.epochs), list(cfg.grid.seeds)
    history = history[history["epochs"].isin(cells) & history["seed"].isin(seeds)]
    rows = table1(history, cells)
    model = cfg.model.pretrained or "tiny Qwen2 pretrained here"
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / "table1.md").write_text(markdown(rows, seeds, model))
    (REPORT / "table1.json").write_text(json.dumps({"model": model, "rows": rows}, indent=2) + "\n")
    figure4(history, rows, cells, REPORT / "figure4.png")
    reliability_figure(cfg, seeds, max(cells), REPORT / "reliability.png")
    table = pd.json_normalize(rows, sep=" ")  # one column per (rate, mean/low/high)
    log_report(
        params, "qa_report", [REPORT / "figure4.png", REPORT / "reliability.png"], {"table1": table}
    )
    original, last = rows[0], rows[-1]
    change = last[RESEMBLANCE]["mean"] - original[RESEMBLANCE]["mean"]
    summary = {
        f"{RESEMBLANCE}_original": original[RESEMBLANCE]["mean"],
        f"{RESEMBLANCE}_final": last[RESEMBLANCE]["mean"],
        f"{RESEMBLANCE}_change": change,
        **{f"{rate}_original": original[rate]["mean"] for rate in RATES},
        **{f"{rate}_final": last[rate]["mean"] for rate in RATES},
        f"{TRAIN_LOSS}_final": last[TRAIN_LOSS]["mean"],
    }
    out = QA_METRICS / "summary.json"
    write_json(out, summary)
    print(
        f"[qa-report] {len(seeds)} seeds: "
        + ", ".join(f"{k} {v:+.4f}" for k, v in summary.items()),
        flush=True,
    )
    return summary
