"""Crash safety of a study (issue 14): a trial whose worker died is failed, its MLflow run
ended FAILED, and the trial queued again (WAITING, same knobs) up to sweep.max_retry times.

Two ways to find the dead: every trial records the host and pid of its worker, so a process on
the same host sees at once that the pid is gone (any storage; `kill -9`, OOM); on a database
server Optuna's heartbeats also fail the trials of silent workers on other machines
(sweep.heartbeat_interval, grace_period). Retries follow Optuna's own convention (system attrs
`failed_trial`, `retry_history`), so `RetryHeartbeatStaleTrialCallback.retried_trial_number`
reads them; unlike Optuna's callback, a retry starts with no user attrs: the dead trial's
partial curve is not carried into the new one.
"""

from __future__ import annotations

import os
import socket
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from deltahall.tracking import _pid_alive as pid_alive  # the one liveness check (orphaned runs)

HOST_ATTR, PID_ATTR, RUN_ATTR = "host", "pid", "mlflow_run_id"


class Retry:
    """Fail a dead trial's MLflow run and queue the trial again (at most `max_retry` times).

    Also the heartbeat_stale_trial_callback of an RDB storage: Optuna calls it for each trial
    it failed for a silent heartbeat."""

    def __init__(self, max_retry: int, tracking_uri: str | None):
        self.max_retry, self.tracking_uri = max_retry, tracking_uri

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        end_mlflow_run(self.tracking_uri, trial)
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retry:
            return
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs={"failed_trial": history[0], "retry_history": history},
            )
        )


def end_mlflow_run(tracking_uri: str | None, trial: FrozenTrial) -> None:
    run_id = trial.user_attrs.get(RUN_ATTR)
    if not tracking_uri or not run_id:
        return
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        if client.get_run(run_id).info.status != "RUNNING":
            return
        why = (
            f"worker {trial.user_attrs.get('worker')} (pid {trial.user_attrs.get(PID_ATTR)} on "
            f"{trial.user_attrs.get(HOST_ATTR)}) died during Optuna trial {trial.number}"
        )
        client.set_tag(run_id, "deltahall.orphaned", why)
        client.set_terminated(run_id, status="FAILED")
    except Exception as err:  # noqa: BLE001 - the study's recovery must not hang on MLflow
        print(f"warning: could not end the MLflow run of trial {trial.number} ({err})")


def dead_trials(trials: list[FrozenTrial], host: str | None = None) -> list[FrozenTrial]:
    """RUNNING trials of this host whose worker process no longer exists."""
    host = host or socket.gethostname()
    return [
        t
        for t in trials
        if t.state == TrialState.RUNNING
        and t.user_attrs.get(HOST_ATTR) == host
        and t.user_attrs.get(PID_ATTR) not in (None, os.getpid())
        and not pid_alive(int(t.user_attrs[PID_ATTR]))
    ]


def reap(study: optuna.Study, retry: Retry) -> list[int]:
    """Fail the trials of dead workers (this host's by pid, others' by heartbeat) and queue
    them again; the numbers of the trials failed here."""
    storage: Any = study._storage  # Optuna's own fail_stale_trials works on it the same way
    failed = []
    for trial in dead_trials(study.get_trials(deepcopy=False)):
        try:
            storage.set_trial_user_attr(trial._trial_id, "error", "its worker process died")
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another process failed it first
    for trial in failed:
        retry(study, storage.get_trial(trial._trial_id))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # heartbeats (RDB storage); no-op elsewhere
    return [t.number for t in failed]
