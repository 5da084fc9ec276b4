"""The team setup on real engines (issue 14): Optuna studies on PostgreSQL, an MLflow tracking
server on PostgreSQL (`make server`'s script), three worker processes, one killed mid-trial,
heartbeats for workers on other machines, and no password anywhere a run leaves a trace."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import mlflow
import optuna
import pytest
import sqlalchemy
from optuna.storages import RetryHeartbeatStaleTrialCallback as OptunaRetry
from optuna.trial import TrialState

from deltahall.sweep.recovery import Retry, reap
from deltahall.sweep.storage import Heartbeat, load_existing_study, open_study
from sweep_crashes import kill_mid_trial, slow_coin_study, start_coordinator

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _loader(url: str):
    return lambda: load_existing_study(url, "deltahall-coin")


def test_a_silent_worker_elsewhere_is_failed_by_its_heartbeat_and_retried(pg_database):
    url = pg_database()
    retry = Retry(max_retry=2, tracking_uri=None)
    study = open_study(url, "beats", optuna.samplers.RandomSampler(0), None, Heartbeat(1, 2, retry))
    trial = study.ask()
    trial.suggest_int("epochs", 1, 6)
    trial.set_user_attr("host", "a-machine-far-away")  # its pid means nothing here
    trial.set_user_attr("pid", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study._storage.record_heartbeat(trial._trial_id)  # one beat, then silence
    assert reap(study, retry) == []  # within the grace period: still running
    time.sleep(3)
    reap(study, retry)
    first, queued = study.get_trials()
    assert first.state == TrialState.FAIL and queued.state == TrialState.WAITING
    assert queued.params == first.params and OptunaRetry.retried_trial_number(queued) == 0


def test_a_worker_before_its_coordinator_is_told_to_start_it(workdir, pg_database, capsys):
    from deltahall.cli import main

    slow_coin_study(workdir, pg_database(), n_trials=2)
    assert main(["sweep", "--experiment", "coin", "--worker", "1"]) == 2
    err = capsys.readouterr().err
    assert "no study 'deltahall-coin'" in err and "start the coordinator first" in err


@pytest.mark.slow
def test_three_workers_on_postgres_and_a_tracking_server_survive_a_kill_9(
    workdir: Path, pg_database, mlflow_server, monkeypatch
):
    server, artifacts, _ = mlflow_server
    storage = pg_database()
    slow_coin_study(workdir, storage, n_trials=6, heartbeat_interval=1, grace_period=3)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    started = time.monotonic()
    coordinator = start_coordinator(workdir, workers=3)
    killed = kill_mid_trial(_loader(storage), 2, signal.SIGKILL)
    out, err = coordinator.communicate(timeout=600)
    wall = time.monotonic() - started
    assert coordinator.returncode == 0, out + err
    assert "worker 2 killed by SIGKILL" in out

    study = _loader(storage)()
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 6 and states.count(TrialState.FAIL) == 1
    assert sorted(t.number for t in study.trials) == list(range(7))  # unique numbers
    assert {t.user_attrs["worker"] for t in study.trials} == {1, 2, 3}
    (retried,) = [t for t in study.trials if OptunaRetry.retried_trial_number(t) is not None]
    assert retried.system_attrs["failed_trial"] == killed.number
    assert retried.state == TrialState.COMPLETE and retried.params == killed.params

    client = mlflow.tracking.MlflowClient(tracking_uri=server)
    (experiment,) = [e for e in client.search_experiments() if e.name == "sweep_coin"]
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {int(r.data.tags["optuna.trial"]): r for r in runs if r is not parent}
    assert sorted(children) == list(range(7))  # every trial a run on the server
    assert {r.data.tags["mlflow.parentRunId"] for r in children.values()} == {parent.info.run_id}
    assert children[killed.number].info.status == "FAILED"
    assert [r.info.status for r in children.values()].count("FINISHED") == 6
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_complete"] == 6
    assert list(artifacts.rglob("trials.csv"))  # the server's artifact store holds the export
    print(f"postgres, 3 workers, kill -9: 7 trials, 1 failed, 1 retried, {wall:.0f}s wall")


@pytest.mark.slow
def test_the_storage_password_appears_in_no_output_log_artifact_or_store(
    workdir: Path, postgres: str, pg_database, mlflow_server, monkeypatch
):
    server, artifacts, _ = mlflow_server
    port = postgres.rsplit(":", 1)[1]
    password = next(
        line.rsplit(":", 1)[1]
        for line in (Path.home() / ".pgpass").read_text().splitlines()
        if line.startswith(f"127.0.0.1:{port}:*:deltahall:")
    )
    storage = pg_database().replace("deltahall@", f"deltahall:{password}@")
    slow_coin_study(workdir, storage, n_trials=2)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    outputs = []
    for command in (["sweep", "--experiment", "coin", "--workers", "2"], ["dashboard"]):
        done = subprocess.run(
            [sys.executable, "-m", "deltahall.cli", *command],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    assert "deltahall:***@127.0.0.1" in outputs[0]  # the address is shown, masked
    assert not [o for o in outputs if password in o]
    leaked = [
        str(p)
        for root in (workdir, artifacts)
        for p in root.rglob("*")
        if p.is_file() and p.name != "params.yaml" and password.encode() in p.read_bytes()
    ]
    assert leaked == []
    for database in (storage, mlflow_server.store):
        engine = sqlalchemy.create_engine(database.replace(f":{password}@", "@"))
        with engine.connect() as conn:
            for table in sqlalchemy.inspect(conn).get_table_names():
                rows = conn.execute(sqlalchemy.text(f'SELECT * FROM "{table}"')).fetchall()
                assert password not in repr(rows), f"{table} holds the password"
        engine.dispose()
