"""The dashboard page built from a small real run: self-contained, every panel has data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deltahall.cli import main

REPO = Path(__file__).resolve().parents[2]

PANELS = ("curves", "scatter", "detector", "trials")


def _panels(html: str) -> dict[tuple[str, str], int]:
    found = re.findall(r"data-panel='(\w+)' data-experiment='(\w+)' data-count='(\d+)'", html)
    return {(kind, exp): int(n) for kind, exp, n in found}


def test_page_is_self_contained(small_run):
    html = small_run.html.read_text()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"""src=['"]?(https?:)?//""", html)  # nothing to fetch
    assert not re.search(r"""<link [^>]*href=['"]?(https?:)?//""", html)
    images = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(images) == 3 * 3 + 3  # three per study, one per main experiment
    assert all(i.startswith("data:image/png;base64,") for i in images)
    assert "max-width:1100px" not in html  # the page uses the window's width


def test_main_runs_are_shown_and_every_run_links_to_its_mlflow_page(small_run):
    import mlflow

    html = small_run.html.read_text()
    panels = _panels(html)
    client = mlflow.MlflowClient(small_run.mlflow_uri)
    for name in ("coin", "qa", "t2i"):  # every finished run of the pipeline's experiments
        experiment = client.get_experiment_by_name(name).experiment_id
        finished = client.search_runs([experiment], "attributes.status = 'FINISHED'")
        assert panels[("runs", name)] == len(finished) > 0, name
    pattern = (
        r"<a href='http://127\.0\.0\.1:5000/#/experiments/(\d+)/runs/(\w+)"
        r"\?workflowType=machine_learning'>"
    )
    links = re.findall(pattern, html)
    runs = [client.get_run(run_id) for _, run_id in links]
    assert all(run.info.experiment_id == exp for run, (exp, _) in zip(runs, links))
    names = {run.info.run_name for run in runs}
    assert {"observed-n2-seed0", "observed-n2-seed1", "qa-e1-seed0", "t2i-seed0"} <= names
    trials = {run.data.tags["optuna.trial"] for run in runs if "optuna.trial" in run.data.tags}
    assert len(trials) >= 5  # the sweeps' trials link to their runs too
    assert "exact optimum of the rate" in html and "95 % bootstrap CI" in html


def test_every_panel_of_every_experiment_has_data(small_run):
    html = small_run.html.read_text()
    panels = _panels(html)
    for experiment, n_trials in (("coin", 5), ("qa", 2), ("t2i", 2)):
        for kind in PANELS:
            assert panels.get((kind, experiment), 0) > 0, (kind, experiment)
        assert panels[("scatter", experiment)] == n_trials
        assert panels[("trials", experiment)] == n_trials
    assert "data-panel='verdicts' data-count='3'" in html
    for experiment in ("coin", "qa", "t2i"):
        assert f"<tr data-experiment='{experiment}'>" in html


def test_dashboard_without_a_study_says_what_to_run(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    assert main(["dashboard"]) == 2
    assert "run `make sweep` first" in capsys.readouterr().err
    assert not (tmp_path / "dashboards").exists()
    assert not (tmp_path / "outputs").exists()  # reading never creates a storage file


@pytest.mark.parametrize("name", ["coin", "qa", "t2i"])
def test_curves_come_from_mlflow_with_every_seed(small_run, name, monkeypatch):
    from deltahall.config import load_params
    from deltahall.dashboard.data import collect

    monkeypatch.chdir(small_run.workdir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", small_run.mlflow_uri)
    view = {v.name: v for v in collect(load_params())}[name]
    seeds = {"coin": {0, 1}, "qa": {0}, "t2i": {0}}[name]
    assert set(view.curves) == {t["number"] for t in view.trials}
    assert all(set(by_seed) == seeds for by_seed in view.curves.values())
    assert view.analysis is not None and view.analysis["verdict"]
