"""Helpers of the crash tests: a coordinator in the background, a worker caught mid-trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import yaml

from deltahall.sweep.storage import load_existing_study


def slow_coin_study(workdir: Path, storage: str, n_trials: int, **extra) -> dict:
    """Edit the workdir's params: a coin study whose trials each last a few seconds (several
    epochs, so that a worker can be caught mid-trial), one torch thread per worker."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["coin"]["train"].update(torch_threads=1, collapse_duplicates=False)  # slower
    params["sweep"].update(storage=storage, **extra)
    coin = params["sweep"]["coin"]
    coin.update(n_trials=n_trials, seeds=[0], n_examples=3000)
    coin["space"]["epochs"] = {"type": "categorical", "choices": [12]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    return params


def start_coordinator(workdir: Path, workers: int, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "deltahall.cli", "sweep", "--experiment", "coin"]
    return subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def catch_mid_trial(
    load: Callable[[], optuna.Study | None], worker: int, timeout_s: float = 300
) -> optuna.trial.FrozenTrial:
    """Poll the study until `worker` runs a trial that has finished at least one epoch (one
    storage for all polls: a new one per poll would leak database connections)."""
    deadline = time.monotonic() + timeout_s
    study = None
    while time.monotonic() < deadline:
        study = study or load()
        for trial in study.get_trials() if study is not None else []:
            if (
                trial.state == optuna.trial.TrialState.RUNNING
                and trial.user_attrs.get("worker") == worker
                and "pid" in trial.user_attrs
                and any(k.startswith("history/") for k in trial.user_attrs)
            ):
                return trial
        time.sleep(0.2)
    raise AssertionError(f"worker {worker} never ran a trial within {timeout_s} s")


def kill_mid_trial(load, worker: int, sig: signal.Signals) -> optuna.trial.FrozenTrial:
    trial = catch_mid_trial(load, worker)
    os.kill(int(trial.user_attrs["pid"]), sig)
    return trial


def journal_loader(path: Path) -> Callable[[], optuna.Study | None]:
    return lambda: load_existing_study(f"journal:{path}", "deltahall-coin")
