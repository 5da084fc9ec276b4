"""The dashboard's figures: matplotlib PNGs returned as data URIs (no file, no CDN)."""

from __future__ import annotations

import numpy as np

from deltahall.dashboard.data import ExperimentView
from deltahall.figures import pyplot, to_data_uri

MAX_CURVES = 6  # trials drawn in the per-epoch panel: the Pareto front first, then by loss


def curve_trials(view: ExperimentView) -> list[int]:
    """Trials whose per-epoch curves are drawn: Pareto front, then lowest loss, at most 6."""
    ranked = sorted(view.trials, key=lambda t: (not t["pareto"], t["loss"], t["number"]))
    return [t["number"] for t in ranked if t["number"] in view.curves][:MAX_CURVES]


def curves_figure(view: ExperimentView) -> str:
    """Loss and rate per epoch: the seed mean of each drawn trial, its seeds' range shaded."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    for i, trial in enumerate(curve_trials(view)):
        seeds = view.curves[trial]
        n = min(len(c["epoch"]) for c in seeds.values())
        epochs = next(iter(seeds.values()))["epoch"][:n]
        for ax, key in zip(axes, ("loss", "rate")):
            values = np.array([c[key][:n] for c in seeds.values() if key in c])
            if not values.size:
                continue
            ax.plot(
                epochs,
                values.mean(axis=0),
                "o-",
                ms=3,
                color=f"C{i}",
                label=f"trial {trial}: mean of {len(values)} seed{'s' * (len(values) > 1)}, "
                "band min–max over seeds",
            )
            ax.fill_between(
                epochs, values.min(axis=0), values.max(axis=0), color=f"C{i}", alpha=0.18, lw=0
            )
    from matplotlib.ticker import MaxNLocator

    for ax, label in zip(axes, (view.loss_key, view.rate_key)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{view.name}: per-epoch curves (band = range over seeds)", fontsize=10)
    fig.tight_layout()
    return to_data_uri(fig)


def scatter_figure(view: ExperimentView) -> str:
    """Final loss against final rate of every trial; the Pareto front joined as a staircase."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    loss = np.array([t["loss"] for t in view.trials])
    rate = np.array([t["rate"] for t in view.trials])
    front = np.array([t["pareto"] for t in view.trials], dtype=bool)
    ax.scatter(loss[~front], rate[~front], s=24, color="C0", alpha=0.7, label="trial")
    order = np.argsort(loss[front])
    ax.step(loss[front][order], rate[front][order], where="post", color="C3", lw=1.2)
    ax.scatter(loss[front], rate[front], s=40, color="C3", label="Pareto front", zorder=3)
    for t in view.trials:
        ax.annotate(
            str(t["number"]),
            (t["loss"], t["rate"]),
            fontsize=6,
            alpha=0.6,
            xytext=(3, 2),
            textcoords="offset points",
        )
    if view.analysis and "across_trials/spearman" in view.analysis["metrics"]:
        m = view.analysis["metrics"]
        ax.set_title(
            f"Spearman {m['across_trials/spearman']:+.2f}, 95 % bootstrap CI "
            f"[{m.get('across_trials/spearman_low', np.nan):+.2f}, "
            f"{m.get('across_trials/spearman_high', np.nan):+.2f}]",
            fontsize=9,
        )
    ax.set_xlabel(f"final {view.loss_key}")
    ax.set_ylabel(f"final {view.rate_key}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="points: final values of one trial (seed mean)", title_fontsize=7)
    fig.tight_layout()
    return to_data_uri(fig)


def detector_trials(view: ExperimentView) -> list[int]:
    """The lowest-loss and the highest-loss trial that carry detector scores."""
    scored = sorted(
        (t for t in view.trials if t["number"] in view.detector),
        key=lambda t: (t["loss"], t["number"]),
    )
    return [t["number"] for t in ([scored[0], scored[-1]] if len(scored) > 1 else scored)]


def detector_figure(view: ExperimentView) -> str:
    """Histograms of what the δ-detector scores (last epoch, first seed) with its threshold:
    outputs at or left of the line δ-hallucinate."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    trials = detector_trials(view)
    scores = [np.asarray(view.detector[t]["scores"], dtype=float) for t in trials]
    threshold = view.detector[trials[0]]["threshold"] if trials else None
    pooled = np.concatenate([*scores, [threshold] if threshold is not None else []])
    edges = np.histogram_bin_edges(pooled, bins=25) if pooled.size else 25
    for i, (trial, values, label) in enumerate(
        zip(trials, scores, ("lowest loss", "highest loss"))
    ):
        ax.hist(
            values,
            bins=edges,
            color=f"C{2 * i}",
            label=f"trial {trial} ({label}), n={values.size}",
            **({"alpha": 0.45} if i == 0 else {"histtype": "step", "lw": 1.8}),
        )
    if threshold is not None:
        ax.axvline(
            threshold,
            color="k",
            ls="--",
            lw=1,
            label=f"threshold {threshold:g}: at or left = hallucinated (no interval: counts)",
        )
    score = view.detector[trials[0]]["score"] if trials else ""
    ax.set_xlabel(score, fontsize=8)
    ax.set_ylabel("outputs")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_data_uri(fig)
