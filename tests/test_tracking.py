"""The MLflow mirror: crash-safe runs, and a tracker failure never loses a stage's work."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mlflow
import pytest

from deltahall.config import load_params
from deltahall.tracking import TrackingUnavailable, flatten, start_run, tracking_uri

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params.yaml"


def Params():  # noqa: N802 - the committed default params, as every stage reads them
    return load_params(PARAMS_FILE)


def test_flatten_nested_params():
    assert flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": 2}) == {"a.b": 1, "a.c.d": "x", "e": 2}


def test_env_var_overrides_params(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert tracking_uri(Params()) == "sqlite:///elsewhere.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(Params()) == "sqlite:///mlflow.db"


def test_a_crash_ends_the_run_failed_with_its_epochs_kept(mlflow_uri):
    with pytest.raises(RuntimeError, match="boom"):
        with start_run(Params(), "crashy", "run-1", {"x": {"y": 3}}, {"stage": "t"}) as run:
            run.log_metrics({"train/loss": 1.0}, step=1)
            run.log_metrics({"train/loss": 0.5}, step=2)
            raise RuntimeError("boom")
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["crashy"])
    assert list(runs["status"]) == ["FAILED"] and list(runs["params.x.y"]) == ["3"]
    history = mlflow.tracking.MlflowClient().get_metric_history(runs["run_id"][0], "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5)]
    assert runs["tags.git_commit"][0] and runs["tags.stage"][0] == "t"


def _untracked_params():
    params = Params()
    return params.model_copy(
        update={"tracking": params.tracking.model_copy(update={"required": False})}
    )


def _unreachable(monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # a store path under a file cannot be created
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/x.db")


def test_unreachable_tracker_warns_and_the_body_still_runs_when_not_required(
    monkeypatch, tmp_path, capsys
):
    _unreachable(monkeypatch, tmp_path)
    done = []
    with start_run(_untracked_params(), "exp", "r", {}, {}) as run:
        run.log_metrics({"m": 1.0}, step=1)
        done.append(True)
    assert done == [True] and not run.active
    assert "warning" in capsys.readouterr().err


def test_unreachable_tracker_fails_before_the_body_when_required(monkeypatch, tmp_path):
    _unreachable(monkeypatch, tmp_path)
    ran = []
    with pytest.raises(TrackingUnavailable, match="tracking.required: false"):
        with start_run(Params(), "exp", "r", {}, {}):
            ran.append(True)
    assert ran == []


KILLED_STAGE = """
import sys, time
from deltahall.config import load_params
from deltahall.tracking import start_run
with start_run(load_params(sys.argv[1]), "killed", "run-1", {}, {}) as run:
    run.log_metrics({"train/loss": 1.0}, step=1)
    print("epoch 1 logged", flush=True)
    time.sleep(60)
"""


def test_sigterm_ends_the_run_killed_with_its_epochs_kept(mlflow_uri):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_STAGE, str(PARAMS_FILE)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "epoch 1 logged"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["killed"])
    assert list(runs["status"]) == ["KILLED"]
    history = mlflow.tracking.MlflowClient().get_metric_history(runs["run_id"][0], "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0)]


def test_a_run_left_running_by_kill_9_is_marked_failed_at_the_next_start(mlflow_uri):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_STAGE, str(PARAMS_FILE)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "epoch 1 logged"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    mlflow.set_tracking_uri(mlflow_uri)
    assert list(mlflow.search_runs(experiment_names=["killed"])["status"]) == ["RUNNING"]
    with start_run(Params(), "killed", "run-2", {}, {}):
        pass
    runs = mlflow.search_runs(experiment_names=["killed"], order_by=["attributes.start_time"])
    assert list(runs["status"]) == ["FAILED", "FINISHED"]
    assert "kill -9" in runs["tags.deltahall.orphaned"][0]
    assert [
        (m.step, m.value)
        for m in mlflow.tracking.MlflowClient().get_metric_history(runs["run_id"][0], "train/loss")
    ] == [(1, 1.0)]


def test_git_dirty_tags_source_changes_not_the_pipelines_own_results(tmp_path):
    import subprocess

    from deltahall.tracking import git_state

    def git(*args):
        subprocess.run(
            ["git", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            env={
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@t",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t",
                "PATH": "/usr/bin:/bin",
            },
        )

    for rel in ("src/a.py", "metrics/m.json", "plots/p.csv", "dvc.lock"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "x")
    assert git_state(tmp_path)["git_dirty"] == "false"
    for rel in ("metrics/m.json", "plots/p.csv", "dvc.lock"):
        (tmp_path / rel).write_text("2\n")
    assert git_state(tmp_path)["git_dirty"] == "false"
    (tmp_path / "src/a.py").write_text("2\n")
    assert git_state(tmp_path)["git_dirty"] == "true"


def test_the_epoch_logger_writes_the_file_then_mlflow_then_one_line(tmp_path, capsys):
    from deltahall.epochs import EpochLogger, HistoryCsv

    order = []

    class FakeRun:
        def log_metrics(self, metrics, step=None):
            order.append(("mlflow", dict(metrics), step))

    class Rows:
        def write(self, row):
            order.append(("file", dict(row)))

    log = EpochLogger(
        "[t]", 3, ["train/loss"], FakeRun(), Rows(), {"seed": 1}, {"ref/x": 0.5}, prefix="seed1/"
    )
    log(2, {"train/loss": 0.25, "time/epoch_s": 1.0}, note=" [ci]")
    assert order[0] == (
        "file",
        {"seed": 1, "epoch": 2, "train/loss": 0.25, "time/epoch_s": 1.0, "ref/x": 0.5},
    )
    assert order[1] == (
        "mlflow",
        {"seed1/train/loss": 0.25, "seed1/time/epoch_s": 1.0, "seed1/ref/x": 0.5},
        2,
    )
    assert capsys.readouterr().out == "[t] epoch 2/3 train/loss 0.2500 [ci] (1.0s)\n"
    log(3, {"train/loss": 0.2}, rows=[{"seed": 1, "cell": 2}, {"seed": 1, "cell": 3}])
    assert [row["cell"] for kind, row, *_ in order if kind == "file" and "cell" in row] == [2, 3]
    with HistoryCsv(tmp_path / "h.csv", ["seed", "epoch", "m"]) as history:
        history.write({"seed": 0, "epoch": 1, "m": 0.5})
        assert (tmp_path / "h.csv").read_text() == "seed,epoch,m\n0,1,0.5\n"  # flushed at once


def test_runs_open_on_their_runs_described_with_their_dvc_datasets(
    mlflow_uri, tmp_path, monkeypatch
):
    """The UI's view: experiment kind (runs, not traces), descriptions, and each input as a
    dataset whose digest is its DVC hash (dvc.lock outs; data/ from data.dvc)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  coin_data@2:\n    outs:\n"
        "    - path: outputs/coin/observed/n2/data\n"
        "      md5: 0b74f1a5c5800000000000000000000a.dir\n"
    )
    (tmp_path / "data.dvc").write_text(
        "outs:\n- md5: 2c0fe0691c9b7930a85eb16be8f14a42.dir\n  path: data\n"
    )
    inputs = [Path("outputs/coin/observed/n2/data"), Path("data"), Path("not/tracked")]
    with start_run(Params(), "coin", "observed-n2-seed0", {}, {}, inputs=inputs) as run:
        run.log_metrics({"train/loss": 1.0})
    client = mlflow.MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name("coin")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "paper §6.1" in experiment.tags["mlflow.note.content"]
    logged = client.get_run(run.run_id)
    assert logged.data.tags["mlflow.note.content"].startswith("**observed-n2-seed0**. Coin-flip")
    datasets = {d.dataset.name: d.dataset.digest for d in logged.inputs.dataset_inputs}
    assert datasets == {
        "outputs/coin/observed/n2/data": "0b74f1a5c5800000000000000000000a",
        "data": "2c0fe0691c9b7930a85eb16be8f14a42",
        "not/tracked": "untracked",
    }


def test_under_mlflow_run_every_run_nests_under_the_project_run(mlflow_uri, monkeypatch):
    """`mlflow run` hands the project's run over in MLFLOW_RUN_ID: MLflow alone would resume
    it for the first run (refusing another experiment) and drop it for the rest."""
    client = mlflow.MlflowClient(mlflow_uri)
    project = client.create_run(client.create_experiment("project")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project)
    ids = []
    for seed in (0, 1):
        with start_run(Params(), "coin", f"seed{seed}", {}, {}) as run:
            run.log_metrics({"train/loss": 1.0})
        ids.append(run.run_id)
    assert os.environ["MLFLOW_RUN_ID"] == project  # kept for the next run and for workers
    for run_id in ids:
        logged = client.get_run(run_id)
        assert logged.data.tags["mlflow.parentRunId"] == project
        assert logged.info.status == "FINISHED"
    tags = client.get_run(project).data.tags
    assert {tags["deltahall.run.seed0"], tags["deltahall.run.seed1"]} == set(ids)


def test_on_a_terminal_the_epoch_logger_adds_a_progress_bar(capsys, monkeypatch):
    from deltahall.epochs import EpochLogger

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    log = EpochLogger("[t]", 3, ["train/loss"])
    for epoch in (1, 2, 3):
        log(epoch, {"train/loss": 1.0 / epoch})
    out, err = capsys.readouterr()
    assert out.count("[t] epoch") == 3 and "[t] epoch 3/3 train/loss 0.3333" in out  # logs
    assert "| 2/3 [" in err and "epoch/s]" in err  # the bar: count, elapsed<remaining, rate
    assert log._bar.n == 3  # closed at the last epoch
