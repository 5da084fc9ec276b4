"""Crash safety on journal storage (one machine): a worker killed mid-trial is failed and its
trial retried, a SIGTERM ends the trial FAIL, failing trials end the study in one line, and
every epoch is stored once."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import mlflow
import optuna
import pandas as pd
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback as OptunaRetry
from optuna.trial import TrialState

from deltahall.cli import main
from deltahall.sweep.recovery import Retry, dead_trials, reap
from sweep_crashes import journal_loader, kill_mid_trial, slow_coin_study, start_coordinator


def _trial(number: int, pid: int, host: str, state=TrialState.RUNNING):
    return SimpleNamespace(number=number, state=state, user_attrs={"pid": pid, "host": host})


def test_dead_trials_are_this_hosts_running_trials_whose_pid_is_gone():
    host, gone = socket.gethostname(), 2**22 + 12345  # above Linux's pid_max: never alive
    trials = [
        _trial(0, gone, host),
        _trial(1, gone, "another-machine"),  # its host's heartbeats decide, not our pids
        _trial(2, 1, host),  # pid 1 lives
        _trial(3, gone, host, TrialState.COMPLETE),
    ]
    assert [t.number for t in dead_trials(trials)] == [0]


def test_a_reaped_trial_is_failed_and_queued_again_without_its_partial_curve():
    study = optuna.create_study(directions=["minimize", "minimize"])
    trial = study.ask()
    trial.suggest_float("lr", 0.001, 0.01, log=True)
    for key, value in {"pid": 2**22 + 1, "host": socket.gethostname(), "history/x": 1}.items():
        trial.set_user_attr(key, value)
    retry = Retry(max_retry=1, tracking_uri=None)
    assert reap(study, retry) == [0]
    failed, queued = study.get_trials()
    assert failed.state == TrialState.FAIL and failed.user_attrs["error"].endswith("died")
    assert queued.state == TrialState.WAITING and queued.params == failed.params
    assert queued.user_attrs == {}  # the retry starts clean
    assert OptunaRetry.retried_trial_number(queued) == 0  # Optuna's own convention
    # the retry dies too: max_retry 1 means no third attempt
    again = study.ask()
    for key in ("pid", "host"):
        again.set_user_attr(key, failed.user_attrs[key])
    assert reap(study, retry) == [1]
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]
    assert OptunaRetry.retry_history(study.trials[1]) == [0]


@pytest.mark.slow
def test_kill_9_of_one_of_three_workers_loses_no_trial(workdir: Path, mlflow_uri: str):
    slow_coin_study(workdir, "journal:store/{experiment}.journal", n_trials=6)
    started = time.monotonic()
    coordinator = start_coordinator(workdir, workers=3)
    killed = kill_mid_trial(journal_loader(workdir / "store/coin.journal"), 2, signal.SIGKILL)
    out, err = coordinator.communicate(timeout=600)
    assert coordinator.returncode == 0, out + err
    assert "worker 2 killed by SIGKILL" in out
    assert f"trial {killed.number}: its worker died; FAIL, queued again" in out

    study = journal_loader(workdir / "store/coin.journal")()
    states = {t.number: t.state.name for t in study.trials}
    assert list(states.values()).count("COMPLETE") == 6 and states[killed.number] == "FAIL"
    assert len(states) == 7  # six complete + the dead one, none lost, none duplicated
    retried = [t for t in study.trials if OptunaRetry.retried_trial_number(t) == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == killed.params

    trials = pd.read_csv(workdir / "outputs/sweep/coin/trials.csv")  # exported after recovery
    assert (trials["state"] == "COMPLETE").sum() == 6 and len(trials) == 7
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_coin"])
    status = dict(zip(runs["tags.optuna.trial"].dropna().astype(int), runs["status"]))
    assert status[killed.number] == "FAILED"  # not RUNNING forever
    assert sum(s == "FINISHED" for s in status.values()) == 6
    print(f"kill -9 on journal: 7 trials, 1 failed, 1 retried, {time.monotonic() - started:.0f}s")


@pytest.mark.slow
def test_sigterm_ends_the_trial_fail_and_the_study_still_completes(workdir: Path, mlflow_uri: str):
    slow_coin_study(workdir, "journal:store/{experiment}.journal", n_trials=3)
    coordinator = start_coordinator(workdir, workers=2)
    stopped = kill_mid_trial(journal_loader(workdir / "store/coin.journal"), 1, signal.SIGTERM)
    out, err = coordinator.communicate(timeout=600)
    assert coordinator.returncode == 0, out + err
    assert "worker 1 exited 143" in out and "terminated (SIGTERM)" in err, out + err
    study = journal_loader(workdir / "store/coin.journal")()
    trial = study.trials[stopped.number]
    assert trial.state == TrialState.FAIL  # Optuna's state, not RUNNING forever
    assert trial.user_attrs["error"] == "terminated (SIGTERM)"
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 3
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_coin"])
    run = runs[runs["tags.optuna.trial"] == str(stopped.number)].iloc[0]
    assert run["status"] == "KILLED"


def test_trials_that_keep_failing_end_the_study_in_one_line_with_its_files(
    workdir: Path, mlflow_uri: str, capsys, monkeypatch
):
    slow_coin_study(workdir, "journal:store/{experiment}.journal", n_trials=2, max_retry=1)

    def broken(*args, **kwargs):
        raise RuntimeError("boom in training")

    monkeypatch.setattr("deltahall.sweep.coin.train", broken)
    assert main(["sweep", "--experiment", "coin"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("deltahall sweep")]
    assert lines == [
        "deltahall sweep: 0/2 trials COMPLETE after 2 round(s) that completed none (a trial "
        "failed: RuntimeError('boom in training')); see the `error` column of the study's "
        "trials.csv and the output above"
    ]
    assert "Traceback" not in err
    trials = pd.read_csv(workdir / "outputs/sweep/coin/trials.csv")  # written all the same
    assert list(trials["state"]) == ["FAIL", "FAIL"]
    assert set(trials["error"]) == {"RuntimeError('boom in training')"}
    assert (workdir / "metrics/sweep/coin.json").exists()


def test_every_epoch_is_stored_once(workdir: Path, mlflow_uri: str):
    slow_coin_study(workdir, "journal:store/{experiment}.journal", n_trials=1)
    assert main(["sweep", "--experiment", "coin"]) == 0
    journal = (workdir / "store/coin.journal").read_text()
    (trial,) = journal_loader(workdir / "store/coin.journal")().trials
    epochs = sorted(k for k in trial.user_attrs if k.startswith("history/"))
    assert epochs == sorted(f"history/seed0/epoch{e}" for e in range(1, 13))
    assert all(isinstance(trial.user_attrs[k], dict) for k in epochs)  # a row, not a curve
    assert journal.count('"history/seed0/epoch3"') == 1  # written once, never re-saved
