"""The facts experiment's three figures: error rate by mentions beside the singleton rate,
score and abstention against the confidence target t, and the reliability diagram."""

from __future__ import annotations

from pathlib import Path

from deltahall.figures import pyplot, save_figure


def _error_by_mentions(ax, summary: dict) -> None:
    rows = [(b, r) for b, r in summary["error_rate_by_mentions"].items() if r["n"]]
    xs = range(len(rows))
    rates = [r["rate"] for _, r in rows]
    err = [[r["rate"] - r["low"] for _, r in rows], [r["high"] - r["rate"] for _, r in rows]]
    ax.bar(xs, rates, yerr=err, capsize=3, color="C3", alpha=0.8, label="error rate (CI)")
    ax.set_xticks(list(xs), [f"{b}\n(n={r['n']})" for b, r in rows])
    ax.axhline(
        summary["share_stated_once"], color="C0", ls="--", label="share of facts stated once"
    )
    ax.axhline(summary["singleton_rate"], color="C0", ls=":", label="singleton rate |S|/N")
    ax.set(xlabel="statements of the fact in the corpus", ylabel="wrong answers", ylim=(0, 1.02))
    ax.set_title("Arbitrary facts: errors by mentions", fontsize=9)
    ax.legend(fontsize=7)


def _targets(ax, summary: dict) -> None:
    ts = sorted(summary["confidence_targets"], key=float)
    ax.plot(
        [float(t) for t in ts],
        [summary["confidence_targets"][t]["score"] for t in ts],
        "o-",
        color="C2",
        label="score",
    )
    ax.plot(
        [float(t) for t in ts],
        [summary["confidence_targets"][t]["abstain_rate"] for t in ts],
        "s--",
        color="C1",
        label="abstention rate",
    )
    ax.axhline(0, color="0.5", lw=1)
    ax.set(xlabel="confidence target t (wrong answers cost t/(1−t))", ylabel="per question")
    ax.set_title("Confidence targets (t = 0: binary grading)", fontsize=9)
    ax.legend(fontsize=7)


def _reliability(ax, summary: dict) -> None:
    bins = summary["reliability"]
    ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls=":")
    ax.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=[b["high"] - b["low"] for b in bins],
        alpha=0.6,
        edgecolor="k",
        color="C0",
    )
    ax.set(xlabel="answer probability", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"Reliability of the base (ECE {summary['ece_base']:.3f})", fontsize=9)


def write_figures(summary: dict, folder: Path) -> list[Path]:
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, draw in (
        ("error_by_mentions", _error_by_mentions),
        ("confidence_targets", _targets),
        ("reliability", _reliability),
    ):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        draw(ax, summary)
        out.append(save_figure(fig, folder / f"{name}.png"))
    return out
