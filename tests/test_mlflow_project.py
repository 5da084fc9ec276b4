"""`mlflow run . -e <entry point> --env-manager local` for every entry point of MLproject, on
the smoke profile after one `dvc repro`: each exits 0, its project run is FINISHED and every
run the stage starts is tracked, nested under the project's run (none untracked, none loose).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml

from scratch_repo import BIN, env, make_scratch_repo, sh

pytestmark = pytest.mark.slow

# pipeline order; an entry point that starts no MLflow run of its own (main: nothing changed
# since the repro; theory_report: formulas only, files only)
NO_RUNS = {"main", "validate", "coin_data", "theory_report"}
EXTRA = {"coin_data": ["-P", "n_choose=2"], "coin_train": ["-P", "n_choose=2"]}


def test_every_entry_point_keeps_tracking_under_the_project_run(tmp_path: Path, smoke_raw):
    repo = make_scratch_repo(tmp_path / "repo", smoke_raw)
    sh(repo, str(BIN / "deltahall"), "data", "--no-push")
    sh(repo, str(BIN / "dvc"), "repro")
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    entry_points = list(yaml.safe_load((repo / "MLproject").read_text())["entry_points"])
    client = mlflow.MlflowClient(uri)
    # `mlflow run` puts the project's run in MLFLOW_TRACKING_URI's store (else its default,
    # not the store of params.yaml): the team's setup names it
    project_env = {**env(), "MLFLOW_TRACKING_URI": uri}
    for name in entry_points:
        cmd = [str(BIN / "mlflow"), "run", ".", "-e", name, "--env-manager", "local"]
        cmd += ["--experiment-name", "project", *EXTRA.get(name, [])]
        out = subprocess.run(cmd, cwd=repo, env=project_env, capture_output=True, text=True)
        assert out.returncode == 0, f"{name}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        assert "start_run failed" not in out.stderr and "tracking disabled" not in out.stderr
        project = client.search_runs(
            [client.get_experiment_by_name("project").experiment_id],
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )[0]
        assert project.info.status == "FINISHED", name
        children = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            f"tags.mlflow.parentRunId = '{project.info.run_id}'",
        )
        linked = {v for k, v in project.data.tags.items() if k.startswith("deltahall.run.")}
        if name in NO_RUNS:
            continue
        assert children, f"{name}: no run nested under the project run"
        assert {c.info.run_id for c in children} == linked, name
        assert all(c.info.status == "FINISHED" for c in children), name
    coin = client.search_runs([client.get_experiment_by_name("coin").experiment_id])
    nested = [r for r in coin if "mlflow.parentRunId" in r.data.tags]
    seeds = len(smoke_raw["coin"]["seeds"])
    # the repro's runs (top level), and those of `mlflow run -e coin_train` (N=2), all nested
    assert len(nested) == seeds
    assert len(coin) - len(nested) == len(smoke_raw["coin"]["n_choose"]) * seeds
