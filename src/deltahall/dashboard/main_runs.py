"""The main experiments on the dashboard (issue 16): every coin, QA and t2i run's per-epoch
loss and δ-rate from MLflow, coin's exact reference lines beside them, each run linked to its
page in the MLflow UI, the final rate with its 95 % bootstrap CI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

import numpy as np

from deltahall.coin import keys as coin_keys
from deltahall.config import Params
from deltahall.figures import pyplot, to_data_uri
from deltahall.qa import keys as qa_keys
from deltahall.t2i import keys as t2i_keys
from deltahall.tracking import read_runs

MAIN = {  # experiment -> (loss, δ-rate) as their training runs log them
    "coin": (coin_keys.VAL_LOSS, coin_keys.DELTA_RATE),
    "qa": (qa_keys.VAL_LOSS, qa_keys.DELTA_RATE),
    "t2i": (t2i_keys.TRAIN_LOSS, t2i_keys.HALL_RATE),
}
OPTIMAL = ":optimal"  # coin's exact Bayes-optimal value of a metric (coin/keys.chart_key)
CI = "95 % bootstrap CI"
RUNS_VIEW = "workflowType=machine_learning"


@dataclass
class RunCurve:
    name: str
    url: str | None
    loss: list[tuple[int, float]]
    rate: list[tuple[int, float]]
    rate_ci: tuple[float, float] | None = None  # of the last epoch
    optimal: dict[str, float] = field(default_factory=dict)  # "loss" / "rate" -> exact value

    @property
    def group(self) -> str:
        """The run's cell without its seed (observed-n2-seed3 -> observed-n2)."""
        return re.sub(r"-seed-?\d+$", "", self.name)


@dataclass
class MainView:
    name: str
    loss_key: str
    rate_key: str
    runs: list[RunCurve]


def run_url(ui: str | None, experiment_id: str, run_id: str) -> str | None:
    """The run's page; MLflow 3.17 shows GenAI pages unless asked for its Model-training view
    (a per-browser setting, not the experiment's kind: tests/test_mlflow_ui.py)."""
    if not ui:
        return None
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{RUNS_VIEW}"


def collect_main(params: Params, ui: str | None) -> list[MainView]:
    """The experiments of MAIN that have finished runs, their runs in name order."""
    views = []
    for experiment, (loss, rate) in MAIN.items():
        wanted = {loss, rate, f"{rate}_low", f"{rate}_high", loss + OPTIMAL, rate + OPTIMAL}
        runs = read_runs(params, experiment, wanted.__contains__)
        curves = [_curve(run, ui, loss, rate) for run in runs if rate in run["metrics"]]
        if curves:
            views.append(MainView(experiment, loss, rate, sorted(curves, key=lambda c: c.name)))
    return views


def _curve(run: dict, ui: str | None, loss: str, rate: str) -> RunCurve:
    metrics = run["metrics"]
    last = {key: history[-1][1] for key, history in metrics.items() if history}
    ci = (last[f"{rate}_low"], last[f"{rate}_high"]) if f"{rate}_high" in last else None
    optimal = {
        name: last[key + OPTIMAL]
        for name, key in (("loss", loss), ("rate", rate))
        if key + OPTIMAL in last
    }
    return RunCurve(
        run["name"],
        run_url(ui, run["experiment_id"], run["run_id"]),
        metrics.get(loss, []),
        metrics[rate],
        ci,
        optimal,
    )


def main_figure(view: MainView) -> str:
    """Loss and rate per epoch, one line per run, one colour per cell; dashed: the exact
    optimum of the cell (coin)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    groups = list(dict.fromkeys(c.group for c in view.runs))
    for run in view.runs:
        colour, first = f"C{groups.index(run.group) % 10}", _first_of_group(view, run)
        count = sum(c.group == run.group for c in view.runs)
        for ax, name, series in zip(axes, ("loss", "rate"), (run.loss, run.rate)):
            if series:
                steps, values = np.array(series).T
                label = f"{run.group} ({count} run{'s' * (count > 1)}, one line each)"
                ax.plot(
                    steps, values, lw=1, alpha=0.8, color=colour, label=label if first else None
                )
            if name in run.optimal and first:
                ax.axhline(
                    run.optimal[name],
                    color=colour,
                    ls="--",
                    lw=1,
                    label=f"{run.group}: exact Bayes optimum",
                )
    from matplotlib.ticker import MaxNLocator

    for ax, key in zip(axes, (view.loss_key, view.rate_key)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    # beside the axes, never over a curve or a reference line
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(
        f"{view.name}: the pipeline's runs (final rates with their {CI}: table)", fontsize=10
    )
    fig.tight_layout()
    return to_data_uri(fig)


def _first_of_group(view: MainView, run: RunCurve) -> bool:
    return next(c for c in view.runs if c.group == run.group) is run


def main_panel(view: MainView) -> str:
    rows = "".join(
        f"<tr><td>{_link(c)}</td><td data-value='{_last(c.loss)!r}'>{_last(c.loss):.4f}</td>"
        f"<td data-value='{_last(c.rate)!r}'>{_last(c.rate):.4f}</td><td>"
        + (f"[{c.rate_ci[0]:.3f}, {c.rate_ci[1]:.3f}]" if c.rate_ci else "none per run")
        + "</td><td>"
        + (f"{c.optimal['rate']:.4f}" if "rate" in c.optimal else "")
        + "</td></tr>"
        for c in view.runs
    )
    return (
        f"<section class='panel' data-panel='runs' data-experiment='{escape(view.name)}' "
        f"data-count='{len(view.runs)}'><h3>{escape(view.name)}: every run of the pipeline</h3>"
        f"<img alt='{escape(view.name)} runs' src='{main_figure(view)}'>"
        "<table class='sortable'><thead><tr><th>run (MLflow page)</th>"
        f"<th>final {escape(view.loss_key)}</th><th>final {escape(view.rate_key)}</th>"
        f"<th>{CI}</th><th>exact optimum of the rate</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p class='meta'>A run's CI is over its held-out "
        "examples; coin logs none per run: its CIs are across seeds, in coin_report.</p></section>"
    )


def _last(series: list[tuple[int, float]]) -> float:
    return series[-1][1] if series else float("nan")


def _link(run: RunCurve) -> str:
    name = escape(run.name)
    return f"<a href='{escape(run.url)}'>{name}</a>" if run.url else name
