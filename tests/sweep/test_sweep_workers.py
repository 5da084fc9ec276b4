"""Two local worker processes on one study (journal storage): no trial lost, none duplicated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import yaml

from deltahall.sweep.storage import load_existing_study


def test_two_workers_on_a_journal_split_the_trials(workdir: Path, mlflow_uri: str):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["coin"]["train"]["torch_threads"] = 1
    params["sweep"]["storage"] = "journal:store/{experiment}.journal"
    coin = params["sweep"]["coin"]
    coin.update(n_trials=6, seeds=[0], n_examples=120)
    coin["space"]["epochs"] = {"type": "categorical", "choices": [1, 2]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))

    out = subprocess.run(
        [sys.executable, "-m", "deltahall.cli", "sweep", "--experiment", "coin", "--workers", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 to run on 2 worker(s)" in out.stdout

    study = load_existing_study("journal:" + str(workdir / "store/coin.journal"), "deltahall-coin")
    trials = study.get_trials()
    assert len(trials) == 6  # none lost, none extra
    assert sorted(t.number for t in trials) == list(range(6))  # unique numbers
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    by_worker = sorted(t.user_attrs["worker"] for t in trials)
    assert by_worker == [1, 1, 1, 2, 2, 2]  # 6 split 3 + 3
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6  # no duplicated proposal
    assert "[sweep coin w1] trial" in out.stdout and "[sweep coin w2] trial" in out.stdout

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_coin"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1 and len(children) == 6
    assert set(children["tags.mlflow.parentRunId"]) == set(parents["run_id"])
    assert sorted(children["tags.optuna.trial"].astype(int)) == list(range(6))
