"""`deltahall dashboard` (`make dashboard`): dashboards/index.html from the trackers.

Reads the Optuna studies in sweep.storage and the MLflow store (tracking.uri or
MLFLOW_TRACKING_URI): the sweeps, and the pipeline's own coin, QA and t2i runs; writes one
self-contained HTML file that opens offline, each run linked to its page in the MLflow UI at
`--mlflow-ui` (`make ui`).
"""

from __future__ import annotations

import time
from pathlib import Path

from deltahall.config import Params
from deltahall.dashboard.data import collect
from deltahall.dashboard.main_runs import collect_main
from deltahall.dashboard.page import render
from deltahall.secrets import mask
from deltahall.tracking import tracking_uri


def run_dashboard(params: Params, out: Path, mlflow_ui: str | None) -> Path:
    views = collect(params, mlflow_ui)
    main = collect_main(params, mlflow_ui)
    if not views:
        raise FileNotFoundError(
            f"no sweep study found in sweep.storage "
            f"{mask(params.sweep.storage)!r}; run `make sweep` first"
        )
    meta = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "MLflow": mask(tracking_uri(params)),
        "profile": params.profile,
    }
    html = render(views, meta, main)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    for v in views:
        verdict = v.analysis["verdict"] if v.analysis else "no analysis yet"
        print(
            f"[dashboard] {v.name}: {len(v.trials)} trials, {len(v.curves)} with curves in "
            f"MLflow: {verdict}",
            flush=True,
        )
    for m in main:
        print(f"[dashboard] {m.name}: {len(m.runs)} pipeline runs", flush=True)
    print(
        f"[dashboard] wrote {out} ({out.stat().st_size / 1024:.0f} KiB); open it in a browser",
        flush=True,
    )
    return out
