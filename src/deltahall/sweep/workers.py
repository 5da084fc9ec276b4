"""Who runs a study's trials, and until when (issue 14).

The coordinator drives the study to sweep.NAME.n_trials COMPLETE trials: it runs them itself
(one worker) or spawns `deltahall sweep --worker K` processes, then fails and requeues the
trials of workers that died (sweep/recovery.py), waits for trials that live workers elsewhere
are still running, and runs again what is missing. It gives up after sweep.max_retry rounds in
a row that complete no trial. Workers that join from other machines stop once COMPLETE plus
RUNNING trials reach n_trials; failed and retried trials never count.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna

from deltahall.errors import StageIncomplete
from deltahall.sweep.objective import TrialTerminated
from deltahall.sweep.recovery import Retry, reap
from deltahall.sweep.storage import state_counts


class SweepIncomplete(StageIncomplete):
    """The study ended short of n_trials COMPLETE trials; the message is one line."""


def split(n: int, parts: int) -> list[int]:
    """n trials over `parts` workers, as even as possible: split(7, 3) == [3, 2, 2]."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def stop_when_full(n_trials: int) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """An Optuna callback: stop this worker once COMPLETE + RUNNING trials reach n_trials."""

    def callback(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        counts = state_counts(study)
        if counts["COMPLETE"] + counts["RUNNING"] >= n_trials:
            study.stop()

    return callback


def run_trials(
    study: optuna.Study, objective, n_trials: int, limit: int | None, retry: Retry
) -> None:
    """One worker's loop: at most `limit` trials (None: until the study is full)."""
    counts = state_counts(study)
    if counts["COMPLETE"] + counts["RUNNING"] >= n_trials:
        return
    callbacks = [stop_when_full(n_trials), lambda s, _t: reap(s, retry)]
    try:
        study.optimize(objective, n_trials=limit, callbacks=callbacks)
    except TrialTerminated:
        from deltahall.tracking import Terminated

        raise Terminated(128 + signal.SIGTERM) from None


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited {code}"


def spawn(experiment: str, params_path: Path, shares: list[int]) -> list[str]:
    """One `deltahall sweep --worker K --n-trials N` process per share; waits for all and
    returns one line per worker that did not exit 0."""
    procs = {
        k + 1: subprocess.Popen(
            [
                *(sys.executable, "-m", "deltahall.cli", "sweep"),
                *("--experiment", experiment, "--params", str(params_path)),
                *("--worker", str(k + 1), "--n-trials", str(n)),
            ]
        )
        for k, n in enumerate(shares)
        if n > 0
    }
    return [
        f"worker {k} {describe_exit(code)}"
        for k, proc in procs.items()
        if (code := proc.wait()) != 0
    ]


def drive(
    study: optuna.Study,
    run_round: Callable[[int], list[str]],
    n_trials: int,
    retry: Retry,
    max_retry: int,
    poll_s: float,
    tag: str,
) -> None:
    """Rounds of `run_round(need)` (it returns problems, one line each) until n_trials
    trials are COMPLETE; raises SweepIncomplete when rounds stop completing trials."""
    stalls = polls = 0
    while True:
        for number in reap(study, retry):
            print(f"{tag} trial {number}: its worker died; FAIL, queued again", flush=True)
        counts = state_counts(study)
        need = n_trials - counts["COMPLETE"] - counts["RUNNING"]
        if counts["COMPLETE"] >= n_trials:
            return
        if need <= 0:  # live workers elsewhere hold the rest: wait for them (or their beats)
            if polls % max(1, round(60 / poll_s)) == 0:  # a line a minute
                print(f"{tag} waiting for {counts['RUNNING']} trial(s) of other workers")
            time.sleep(poll_s)
            polls += 1
            continue
        before = counts["COMPLETE"]
        problems = run_round(need)
        for line in problems:
            print(f"{tag} {line}", flush=True)
        if state_counts(study)["COMPLETE"] > before:
            stalls = 0
            continue
        stalls += 1
        if stalls > max_retry:
            last = problems[-1] if problems else "no trial completed"
            raise SweepIncomplete(
                f"{state_counts(study)['COMPLETE']}/{n_trials} trials COMPLETE after "
                f"{stalls} round(s) that completed none ({last}); see the `error` column of "
                f"the study's trials.csv and the output above"
            )
