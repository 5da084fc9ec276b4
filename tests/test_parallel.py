"""parallel.run_jobs: results in order, worker processes reused across jobs, a job's error or a
dead worker raised in the parent with the other workers stopped. The job is the builtin `eval`
(a spawned worker unpickles a job by name; a test module is not importable there)."""

from __future__ import annotations

import os
import time

import pytest

from deltahall.parallel import run_jobs

PID = "__import__('os').getpid()"


def test_results_come_in_the_order_of_the_jobs_from_reused_workers():
    assert run_jobs(eval, [(f"{i} + 100",) for i in range(7)], 2) == list(range(100, 107))
    pids = run_jobs(eval, [(f"(__import__('time').sleep(0.5), {PID})[1]",)] * 5, 2)
    # five jobs, two workers: each worker takes the next job until none is left
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_one_process_runs_the_jobs_here():
    assert run_jobs(eval, [(PID,)] * 3, 1) == [os.getpid()] * 3


def test_a_jobs_error_is_raised_here_and_stops_the_other_worker():
    started = time.monotonic()
    with pytest.raises(ZeroDivisionError):
        run_jobs(eval, [("__import__('time').sleep(60)",), ("1 / 0",)], 2)
    assert time.monotonic() - started < 30  # the sleeping worker was stopped, not waited for


def test_a_worker_that_dies_mid_job_is_named():
    jobs = [("__import__('time').sleep(1)",), ("__import__('os')._exit(3)",)]
    with pytest.raises(
        RuntimeError, match=r"job 1: its worker \(process \d+\) died with exit code 3"
    ):
        run_jobs(eval, jobs, 2)


def test_each_outcome_is_read_once(monkeypatch):
    """Outcomes can be large (histories, samples): loaded once, not at every worker exit."""
    import pickle

    from deltahall import parallel

    loads, real_loads = [], pickle.loads
    monkeypatch.setattr(parallel.pickle, "loads", lambda data: loads.append(1) or real_loads(data))
    jobs = [("(__import__('time').sleep(2), 0)[1]",)] + [(f"{i} * 2",) for i in range(1, 5)]
    # one worker sleeps in a job while the other ends the rest and exits: two collections
    assert run_jobs(eval, jobs, 2) == [0, 2, 4, 6, 8]
    assert len(loads) == 5
