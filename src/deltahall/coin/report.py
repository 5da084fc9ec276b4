"""`deltahall coin-report`: Figure 3 of the paper from the tracked histories, and a summary.

Figure 3 (paper §6.1): per N, the training loss and the validation conditional probability per
epoch, seeds as a band (min..max) around their mean, against the exact reference lines of the
Bayes-optimal L2 estimator and the mode. The hidden-regime figure shows loss beside the
δ-hallucination rate. Reads only files the coin_train stages wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from deltahall import paths  # noqa: E402
from deltahall.coin.keys import COND_PROB, DELTA_RATE, TRAIN_LOSS, ref_key  # noqa: E402
from deltahall.config import Params  # noqa: E402

PANELS = [  # (metric, reference lines, y label)
    (TRAIN_LOSS, [(ref_key("optimal_loss"), "Bayes-optimal (irreducible)")], "MSE"),
    (
        COND_PROB,
        [(ref_key("optimal_cond_prob"), "Bayes-optimal L2"), (ref_key("mode_cond_prob"), "mode")],
        "P(K = k̂ | coins)",
    ),
    (
        DELTA_RATE,
        [
            (ref_key("optimal_delta_hall_rate"), "Bayes-optimal L2"),
            (ref_key("mode_delta_hall_rate"), "mode"),
        ],
        "δ-hallucination rate",
    ),
]


def band(history: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, min and max of a metric across seeds at each epoch."""
    return history.groupby("epoch")[metric].agg(["mean", "min", "max"]).reset_index()


def _draw(ax, history: pd.DataFrame, metric: str, refs, ylabel: str, title: str) -> None:
    stats = band(history, metric)
    ax.plot(stats["epoch"], stats["mean"], color="C0", label="trained (mean of seeds)")
    ax.fill_between(stats["epoch"], stats["min"], stats["max"], color="C0", alpha=0.25)
    for i, (ref, label) in enumerate(refs):
        ax.axhline(history[ref].iloc[0], color=f"C{i + 1}", ls="--", label=label)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.legend(fontsize=7)


def figure(histories: dict[str, pd.DataFrame], path: Path, panels=PANELS) -> None:
    fig, axes = plt.subplots(
        len(panels), len(histories), squeeze=False, figsize=(4 * len(histories), 3 * len(panels))
    )
    for col, (label, history) in enumerate(histories.items()):
        for row, (metric, refs, ylabel) in enumerate(panels):
            _draw(axes[row][col], history, metric, refs, ylabel, f"{label}: {metric}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def trend(history: pd.DataFrame, metric: str) -> float:
    """Change of the seed-mean from the first to the last epoch."""
    stats = band(history, metric)
    return float(stats["mean"].iloc[-1] - stats["mean"].iloc[0])


def run_coin_report(params: Params) -> dict:
    observed = {
        f"N={n}": pd.read_csv(paths.coin_history("observed", n)) for n in params.coin.n_choose
    }
    hidden_n = params.coin_hidden.n_choose
    hidden = {f"hidden N={hidden_n}": pd.read_csv(paths.coin_history("hidden", hidden_n))}
    figure(observed, paths.COIN_PLOTS / "figures" / "figure3.png", PANELS[:2])
    figure(hidden, paths.COIN_PLOTS / "figures" / "hidden.png", [PANELS[0], PANELS[2]])
    summary = {
        label: {
            f"{TRAIN_LOSS}_change": trend(h, TRAIN_LOSS),
            f"{COND_PROB}_change": trend(h, COND_PROB),
            f"{DELTA_RATE}_change": trend(h, DELTA_RATE),
            f"{DELTA_RATE}_final": float(band(h, DELTA_RATE)["mean"].iloc[-1]),
        }
        for label, h in {**observed, **hidden}.items()
    }
    out = paths.COIN_METRICS / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    for label, row in summary.items():
        print(f"[coin-report] {label}: " + ", ".join(f"{k} {v:+.4f}" for k, v in row.items()))
    return summary
