"""`deltahall coin-report`: Figure 3 of the paper from the tracked histories, and a summary.

Figure 3 (paper §6.1): per N, the training loss and the validation conditional probability per
epoch, seeds as a band (min..max) around their mean, against the exact reference lines of the
Bayes-optimal L2 estimator and the mode. The hidden-regime figure shows loss beside the
δ-hallucination rate. Reads only files the coin_train stages wrote.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deltahall import paths
from deltahall.coin.keys import (
    BY_ROUNDING,
    COND_PROB,
    DELTA_RATE,
    SENSITIVITY_COLUMNS,
    TRAIN_LOSS,
    ref_key,
)
from deltahall.coin.sensitivity import summarise_curves
from deltahall.config import Params
from deltahall.figures import log_report, pyplot, save_figure
from deltahall.metrics_file import write_json

plt = pyplot()  # Agg: no display on CI or servers

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
    save_figure(fig, path)


def trend(history: pd.DataFrame, metric: str) -> float:
    """Change of the seed-mean from the first to the last epoch."""
    stats = band(history, metric)
    return float(stats["mean"].iloc[-1] - stats["mean"].iloc[0])


STYLES = {
    ("trained", "ceil"): ("C0", "-"),
    ("trained", "round"): ("C0", ":"),
    ("bayes_l2", "ceil"): ("C1", "-"),
    ("bayes_l2", "round"): ("C1", ":"),
    ("mode", "ceil"): ("C2", "--"),
}  # the mode is an integer: both roundings agree


def sensitivity(params: Params) -> pd.DataFrame:
    """plots/coin/delta_sensitivity.csv: every N's curves, the trained ones with CIs over seeds."""
    ev = params.coin.eval
    rows = []
    for n in params.coin.n_choose:
        per_seed = pd.read_csv(paths.coin_sensitivity("observed", n), keep_default_na=False)
        rows += summarise_curves(per_seed.to_dict("records"), n, ev.n_boot, ev.ci_level)
    table = pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
    paths.COIN_SENSITIVITY.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(paths.COIN_SENSITIVITY, index=False)
    return table


def sensitivity_figure(table: pd.DataFrame, delta: float, level: float, path: Path) -> None:
    ns = sorted(table["n_choose"].unique())
    fig, axes = plt.subplots(1, len(ns), squeeze=False, figsize=(4.5 * len(ns), 3.4))
    for ax, n in zip(axes[0], ns):
        for (est, rule), (color, ls) in STYLES.items():
            part = table[
                (table.n_choose == n) & (table.estimator == est) & (table.rounding == rule)
            ]
            label = f"{est} ({rule})" if est != "mode" else "mode"
            ax.plot(part["delta"], part["rate"], color=color, ls=ls, label=label)
            if est == "trained":
                ax.fill_between(
                    part["delta"],
                    part["rate_low"],
                    part["rate_high"],
                    color=color,
                    alpha=0.2,
                    label=f"{level:.0%} bootstrap CI over seeds" if rule == "ceil" else None,
                )
        ax.axvline(delta, color="grey", lw=0.8)
        ax.set(title=f"N={n}: δ-hallucination rate vs δ", xlabel="δ", ylabel="rate")
        ax.legend(fontsize=6, loc="upper left")
    save_figure(fig, path)


def run_coin_report(params: Params) -> dict:
    observed = {
        f"N={n}": pd.read_csv(paths.coin_history("observed", n)) for n in params.coin.n_choose
    }
    hidden_n = params.coin_hidden.n_choose
    hidden = {f"hidden N={hidden_n}": pd.read_csv(paths.coin_history("hidden", hidden_n))}
    figure(observed, paths.COIN_PLOTS / "figures" / "figure3.png", PANELS[:2])
    # The hidden variant demonstrates Theorem 4.1 by construction: two far-apart latent
    # regimes the input does not reveal, so the L2 optimum falls between the modes.
    labelled = {f"{k} (Thm 4.1 by construction)": h for k, h in hidden.items()}
    figure(labelled, paths.COIN_PLOTS / "figures" / "hidden.png", [PANELS[0], PANELS[2]])
    table = sensitivity(params)
    sensitivity_figure(
        table,
        params.coin.eval.delta,
        params.coin.eval.ci_level,
        paths.COIN_PLOTS / "figures" / "delta_sensitivity.png",
    )
    figures = paths.COIN_PLOTS / "figures"
    shown = [figures / f"{name}.png" for name in ("figure3", "hidden", "delta_sensitivity")]
    log_report(params, "coin_report", shown, {"delta_sensitivity": table})
    summary = {
        label: {
            f"{TRAIN_LOSS}_change": trend(h, TRAIN_LOSS),
            f"{COND_PROB}_change": trend(h, COND_PROB),
            f"{DELTA_RATE}_change": trend(h, DELTA_RATE),
            **{
                f"{k}_final": float(band(h, k)["mean"].iloc[-1]) for k in (DELTA_RATE, *BY_ROUNDING)
            },
        }
        for label, h in {**observed, **hidden}.items()
    }

    out = paths.COIN_METRICS / "summary.json"
    write_json(out, summary)
    for label, row in summary.items():
        print(
            f"[coin-report] {label}: "
            + ", ".join(f"{k} {v:+.4f}" for k, v in row.items() if isinstance(v, float))
        )
    return summary
