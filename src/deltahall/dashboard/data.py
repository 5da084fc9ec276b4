"""What the dashboard shows, read from the trackers: the Optuna studies (trials, Pareto front,
detector scores) and MLflow (per-epoch curves of every trial's seeds, the analysis run)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import numpy as np

from deltahall.config import Params
from deltahall.dashboard.main_runs import run_url
from deltahall.secrets import mask
from deltahall.sweep.objective import DETECTOR_ATTR, mlflow_experiment
from deltahall.sweep.stage import EXPERIMENTS, PARENT_ATTR, study_location
from deltahall.sweep.stats import pareto_front
from deltahall.sweep.storage import finished_trials, load_existing_study
from deltahall.tracking import read_runs

_SEED_METRIC = re.compile(r"^seed(-?\d+)/(.+)$")


@dataclass
class ExperimentView:
    name: str
    loss_key: str
    rate_key: str
    storage: str
    study: str
    trials: list[dict[str, Any]]  # COMPLETE trials: number, loss, rate, pareto, knobs
    detector: dict[int, dict[str, Any]]  # trial -> {"scores", "threshold", "score"}
    # trial -> seed -> {"epoch": [...], "loss": [...], "rate": [...]} (from MLflow)
    curves: dict[int, dict[int, dict[str, list[float]]]] = field(default_factory=dict)
    analysis: dict[str, Any] | None = None  # this experiment's part of the analysis run
    links: dict[int, str] = field(default_factory=dict)  # trial -> its MLflow run's page


def _trials(study) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    done = finished_trials(study)
    front = pareto_front(np.array([t.values for t in done]).reshape(-1, 2)) if done else []
    rows = [
        {
            "number": t.number,
            "loss": t.values[0],
            "rate": t.values[1],
            "pareto": bool(f),
            "knobs": dict(t.params),
        }
        for t, f in zip(done, front)
    ]
    detector = {
        t.number: t.user_attrs[DETECTOR_ATTR] for t in done if DETECTOR_ATTR in t.user_attrs
    }
    return rows, detector


def _curves(
    params: Params, view: ExperimentView, parent: str | None, ui: str | None
) -> dict[int, dict[int, dict[str, list[float]]]]:
    """Per trial and seed, the epoch curves of the study's nested MLflow runs (and each
    trial's run page in `view.links`)."""
    experiment, loss_key, rate_key = view.name, view.loss_key, view.rate_key
    wanted = {loss_key: "loss", rate_key: "rate"}
    runs = read_runs(
        params,
        mlflow_experiment(experiment),
        lambda k: bool(_SEED_METRIC.match(k)) and _SEED_METRIC.match(k).group(2) in wanted,
    )
    curves: dict[int, dict[int, dict[str, list[float]]]] = {}
    for run in runs:
        trial = run["tags"].get("optuna.trial")
        if trial is None or (parent and run["tags"].get("mlflow.parentRunId") != parent):
            continue
        url = run_url(ui, run["experiment_id"], run["run_id"])
        if url:
            view.links[int(trial)] = url
        for key, history in run["metrics"].items():
            seed, name = _SEED_METRIC.match(key).groups()
            curve = curves.setdefault(int(trial), {}).setdefault(int(seed), {})
            curve["epoch"] = [float(step) for step, _ in history]
            curve[wanted[name]] = [value for _, value in history]
    return curves


def _analysis(params: Params) -> dict[str, dict[str, Any]]:
    """experiment -> {"verdict", "verdict_within_runs", "metrics"} of the newest analysis run."""
    runs = read_runs(params, "sweep_analysis")
    if not runs:
        return {}
    newest, out = runs[0], {}
    for key, history in newest["metrics"].items():
        experiment, _, name = key.partition("/")
        out.setdefault(experiment, {"metrics": {}})["metrics"][name] = history[-1][1]
    for experiment, part in out.items():
        part["verdict"] = newest["tags"].get(f"verdict.{experiment}", "?")
        part["verdict_within_runs"] = newest["tags"].get(f"verdict_within_runs.{experiment}", "?")
    return out


def collect(params: Params, ui: str | None = None) -> list[ExperimentView]:
    """Every experiment whose study exists in sweep.storage, in EXPERIMENTS order; `ui`: the
    MLflow UI's address, for links to the trials' runs."""
    analysis = _analysis(params)
    views = []
    for experiment, module_name in EXPERIMENTS.items():
        url, name = study_location(params, experiment)
        study = load_existing_study(url, name)
        if study is None:
            continue
        module = import_module(module_name)
        trials, detector = _trials(study)
        where = mask(url)  # shown on the page: the study's address, never its password
        view = ExperimentView(experiment, module.LOSS, module.RATE, where, name, trials, detector)
        view.curves = _curves(params, view, study.user_attrs.get(PARENT_ATTR), ui)
        view.analysis = analysis.get(experiment)
        views.append(view)
    return views
