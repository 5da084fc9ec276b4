"""One self-contained HTML page: inline CSS, inline JS (sortable tables), PNG data URIs.

Every panel is a <section class="panel" data-panel=KIND data-experiment=NAME data-count=N>,
N the number of data points it shows, so a browser test can check each has data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from deltahall.dashboard import figures
from deltahall.dashboard.data import ExperimentView
from deltahall.dashboard.main_runs import MainView, main_panel

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem 2vw;color:#222}
h1{font-size:1.4rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
h3{font-size:.95rem;margin:.3rem 0}.row{display:flex;flex-wrap:wrap;gap:1rem}
.panel{margin:1rem 0}.panel img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ddd;padding:.2rem .45rem}
th{background:#f4f4f4}table.sortable th{cursor:pointer}tr.pareto td{background:#fff4f2}
.lowers{color:#0a6}.does-not{color:#c30}.inconclusive{color:#a70}.meta{color:#666;font-size:.8rem}
"""
SCRIPT = """
(function () {
  function key(cell) {
    var v = parseFloat(cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent);
    return isNaN(v) ? cell.textContent : v;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], up = th.dataset.order !== "asc";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        th.dataset.order = up ? "asc" : "desc";
      });
    });
  });
  document.body.dataset.ready = "1";
})();
"""


def _ci(metrics: dict[str, float], name: str) -> str:
    if name not in metrics:
        return "n/a"
    return (
        f"{metrics[name]:+.3f} [{metrics.get(name + '_low', float('nan')):+.3f}, "
        f"{metrics.get(name + '_high', float('nan')):+.3f}]"
    )


def _verdict_class(verdict: str) -> str:
    return (
        "does-not" if "does not" in verdict else "lowers" if "lowers" in verdict else "inconclusive"
    )


def verdict_panel(views: list[ExperimentView]) -> str:
    rows = []
    for v in views:
        a = v.analysis
        if a is None:
            continue
        m = a["metrics"]
        rows.append(
            f"<tr data-experiment='{escape(v.name)}'><td>{escape(v.name)}</td>"
            f"<td>{int(m.get('n_trials', len(v.trials)))}</td>"
            f"<td>{m.get('rate_min', float('nan')):.3f} – "
            f"{m.get('rate_max', float('nan')):.3f}</td>"
            f"<td>{_ci(m, 'across_trials/spearman')}</td>"
            f"<td>{_ci(m, 'across_trials/kendall')}</td>"
            f"<td class='{_verdict_class(a['verdict'])}'>{escape(a['verdict'])}</td>"
            f"<td>{_ci(m, 'within_runs/spearman')}</td>"
            f"<td class='{_verdict_class(a['verdict_within_runs'])}'>"
            f"{escape(a['verdict_within_runs'])}</td></tr>"
        )
    body = (
        "".join(rows)
        or "<tr><td colspan='8'>no analysis run in MLflow yet: run "
        "<code>deltahall sweep-analysis</code></td></tr>"
    )
    return (
        f"<section class='panel' data-panel='verdicts' data-count='{len(rows)}'>"
        "<h2>Does lower loss lower the δ-hallucination rate?</h2><table id='verdicts'>"
        "<thead><tr><th>experiment</th><th>trials</th><th>final rates</th>"
        "<th>Spearman across trials (CI)</th>"
        "<th>Kendall across trials (CI)</th><th>verdict</th>"
        "<th>Spearman within runs (CI)</th><th>verdict within runs</th></tr></thead>"
        f"<tbody>{body}</tbody></table><p class='meta'>Correlation of final loss with final "
        "rate over trials; positive = lower loss goes with lower rate. Verdict (symmetric, "
        "m = sweep.min_effect): 95 % bootstrap CI above +m → lowers; inside (−m, +m) or below "
        "−m → does not; else inconclusive.</p></section>"
    )


def _figure(kind: str, view: ExperimentView, count: int, title: str, uri: str) -> str:
    return (
        f"<section class='panel' data-panel='{kind}' data-experiment='{escape(view.name)}' "
        f"data-count='{count}'><h3>{escape(title)}</h3>"
        f"<img alt='{escape(view.name)} {kind}' src='{uri}'></section>"
    )


def trials_panel(view: ExperimentView) -> str:
    knobs = list(dict.fromkeys(k for t in view.trials for k in t["knobs"]))
    head = "".join(
        f"<th>{escape(h)}</th>" for h in ["trial", view.loss_key, view.rate_key, "Pareto", *knobs]
    )
    rows = "".join(
        f"<tr class='{'pareto' if t['pareto'] else ''}'><td>{_trial_link(view, t['number'])}</td>"
        f"<td data-value='{t['loss']!r}'>{t['loss']:.4f}</td>"
        f"<td data-value='{t['rate']!r}'>{t['rate']:.4f}</td>"
        f"<td>{'yes' if t['pareto'] else ''}</td>"
        + "".join(f"<td>{_fmt(t['knobs'].get(k))}</td>" for k in knobs)
        + "</tr>"
        for t in view.trials
    )
    return (
        f"<section class='panel' data-panel='trials' data-experiment='{escape(view.name)}' "
        f"data-count='{len(view.trials)}'><h3>Trials (click a header to sort; a trial number "
        "opens its MLflow run)</h3>"
        f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
        "</table></section>"
    )


def _trial_link(view: ExperimentView, trial: int) -> str:
    url = view.links.get(trial)
    return f"<a href='{escape(url)}'>{trial}</a>" if url else str(trial)


def _fmt(value: Any) -> str:
    return (
        "" if value is None else f"{value:.3g}" if isinstance(value, float) else escape(str(value))
    )


def experiment_section(view: ExperimentView) -> str:
    n_curves = len(figures.curve_trials(view))
    n_scores = sum(len(view.detector[t]["scores"]) for t in figures.detector_trials(view))
    return (
        f"<section id='exp-{escape(view.name)}'><h2>{escape(view.name)}: study "
        f"{escape(view.study)}</h2><p class='meta'>Optuna storage {escape(view.storage)}</p>"
        + _figure("curves", view, n_curves, "Loss and rate per epoch", figures.curves_figure(view))
        + "<div class='row'>"
        + _figure(
            "scatter",
            view,
            len(view.trials),
            "Sweep: final loss vs final rate",
            figures.scatter_figure(view),
        )
        + _figure(
            "detector",
            view,
            n_scores,
            "Detector scores at the last epoch",
            figures.detector_figure(view),
        )
        + "</div>"
        + trials_panel(view)
        + "</section>"
    )


def render(views: list[ExperimentView], meta: dict[str, str], main: list[MainView] = ()) -> str:
    info = " · ".join(f"{escape(k)}: {escape(v)}" for k, v in meta.items())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>deltahall dashboard</title><link rel='icon' href='data:,'>"
        f"<style>{STYLE}</style></head><body data-ready='0'>"
        "<h1>deltahall: loss vs δ-hallucination rate across runs</h1>"
        f"<p class='meta'>{info}</p>"
        + verdict_panel(views)
        + (
            "<section id='main-runs'><h2>The pipeline's runs: loss and δ-rate per epoch</h2>"
            + "".join(main_panel(m) for m in main)
            + "</section>"
            if main
            else ""
        )
        + "<h2>Sweeps</h2>"
        + "".join(experiment_section(v) for v in views)
        + f"<script>{SCRIPT}</script></body></html>"
    )
