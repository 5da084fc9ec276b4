"""`deltahall t2i-report`: Figures 5 and 6 of the paper from the tracked history, and the
measured claim "the loss falls while the δ-hallucination rate does not converge".

Reads plots/t2i/history.csv, the file mirror of the per-seed MLflow runs (same metric names,
step = epoch). Error bars are bootstrap CIs across seeds (deltahall.stats.bootstrap_ci): the
seed-to-seed spread, which is what "not one curve" asks for.
Figure 5: hallucination rate (green, left axis) and training loss (blue, right axis) per epoch.
Figure 6: per prompt, the per-image rate and the estimator-level verdict per epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from deltahall import paths
from deltahall.config import Params
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


def figure5(history: pd.DataFrame, path: Path, n_boot: int, level: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for _, seed_rows in history.groupby("seed"):
        ax.plot(seed_rows["epoch"], seed_rows[keys.HALL_RATE], color="C2", alpha=0.25, lw=1)
    _errorbar(ax, seed_band(history, keys.HALL_RATE, n_boot, level), "C2", "hallucination rate")
    ax.set(xlabel="epoch", ylabel="share outside every HCDR", ylim=(-0.02, 1.02))
    right = ax.twinx()
    _errorbar(right, seed_band(history, keys.TRAIN_LOSS, n_boot, level), "C0", "training loss")
    right.set_ylabel("training loss (ε-MSE)")
    n = history["seed"].nunique()
    ax.set_title(
        f"Figure 5: rate and loss per epoch ({n} seeds, {level:.0%} CI across seeds)", fontsize=9
    )
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="center right", fontsize=8)
    return _save(fig, path)


def figure6(
    history: pd.DataFrame, prompts: dict[str, str], path: Path, n_boot: int, level: float
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(prompts), figsize=(4 * len(prompts), 3.4), squeeze=False)
    for ax, (name, text) in zip(axes[0], prompts.items()):
        _errorbar(
            ax,
            seed_band(history, keys.per_prompt(keys.HALL_RATE, name), n_boot, level),
            "C2",
            "per-image rate",
        )
        verdict = history.groupby("epoch")[keys.per_prompt(keys.MEAN_HALL, name)].mean()
        ax.plot(
            verdict.index,
            verdict.to_numpy(),
            "s--",
            color="C3",
            ms=4,
            label="mean embedding outside\n(share of seeds)",
        )
        ax.set(title=f"{name}: \u201c{text}\u201d", xlabel="epoch", ylim=(-0.02, 1.02))
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("share outside every HCDR")
    fig.suptitle("Figure 6: hallucination rate per prompt", fontsize=10)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def claim(history: pd.DataFrame, n_boot: int, level: float) -> dict:
    """First/last epoch and change, mean over seeds with a CI across seeds, for loss and rate."""
    first, last = history["epoch"].min(), history["epoch"].max()
    by_seed = history.set_index(["seed", "epoch"])
    out: dict = {}
    for metric in keys.SHOWN:
        a = by_seed[metric].xs(first, level="epoch")
        b = by_seed[metric].xs(last, level="epoch")
        out[metric] = {
            k: list(bootstrap_ci(v.to_numpy(), n_boot, level, seed=i))
            for i, (k, v) in enumerate({"first": a, "last": b, "change": b - a}.items())
        }
    half = history[history["epoch"] > (first + last) / 2]
    # epoch-to-epoch fluctuation late in training (population std: 0, not NaN, for one epoch)
    out[keys.HALL_RATE]["std_last_half"] = float(
        half.groupby("seed")[keys.HALL_RATE].std(ddof=0).mean()
    )
    out["loss_falls"] = out[keys.TRAIN_LOSS]["change"][2] < 0.0
    out["rate_stays_above_zero"] = out[keys.HALL_RATE]["last"][1] > 0.0
    return out


def run_t2i_report(params: Params) -> dict:
    cfg = params.t2i
    if not paths.T2I_HISTORY.exists():
        raise FileNotFoundError(f"{paths.T2I_HISTORY} missing: run the t2i_train stage first")
    history = pd.read_csv(paths.T2I_HISTORY)
    prompts = {p.name: p.text for p in cfg.prompts}
    figure5(history, paths.T2I_PLOTS / "figures" / "figure5.png", cfg.eval.n_boot, cfg.eval.level)
    figure6(
        history,
        prompts,
        paths.T2I_PLOTS / "figures" / "figure6.png",
        cfg.eval.n_boot,
        cfg.eval.level,
    )
    summary = {
        "seeds": int(history["seed"].nunique()),
        "epochs": int(history["epoch"].max()),
        "level": cfg.eval.level,
        **claim(history, cfg.eval.n_boot, cfg.eval.level),
    }
    (paths.T2I_METRICS / "summary.json").parent.mkdir(parents=True, exist_ok=True)
    (paths.T2I_METRICS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for metric in (keys.TRAIN_LOSS, keys.HALL_RATE):
        first, last, c = (summary[metric][k] for k in ("first", "last", "change"))
        print(
            f"[t2i-report] {metric}: epoch 1 {first[0]:.4f} [{first[1]:.4f}, {first[2]:.4f}] "
            f"-> last {last[0]:.4f} [{last[1]:.4f}, {last[2]:.4f}], change {c[0]:+.4f} "
            f"[{c[1]:+.4f}, {c[2]:+.4f}]"
        )
    print(
        f"[t2i-report] loss falls: {summary['loss_falls']}; rate stays above zero: "
        f"{summary['rate_stays_above_zero']}"
    )
    return summary
