"""Independent jobs of a stage (one per seed) in parallel processes: all cores used, the same
numbers as one by one (each job seeds itself and sets its own torch threads).

Each worker process takes the next unclaimed job until none is left, so a stage pays for
imports and the MLflow store once per worker, not once per job (about 5 s a process here).
A job is claimed by creating its claim file (O_EXCL: atomic, no lock a killed worker could
leave held); its outcome is written to a file of its own as soon as it ends.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import tempfile
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any


def _claim(folder: Path, index: int) -> bool:
    """Job `index` is this process's if it creates the claim file first; it writes its pid."""
    try:
        handle = os.open(folder / f"{index}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(handle, str(os.getpid()).encode())
    os.close(handle)
    return True


def _worker(job: Callable[..., Any], args: Sequence[tuple], folder: str) -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides, then stops the
    # workers with SIGTERM, which their MLflow runs end as KILLED (tracking.start_run).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    where = Path(folder)
    for index, job_args in enumerate(args):
        if not _claim(where, index):
            continue
        try:
            outcome = (True, job(*job_args))
        except BaseException as err:  # noqa: BLE001 - handed to the parent, which raises it
            outcome = (False, err)
        (where / f"{index}.tmp").write_bytes(pickle.dumps(outcome))
        (where / f"{index}.tmp").rename(where / f"{index}.pickle")
        if not outcome[0]:
            return  # the parent stops the others and raises this job's error


def run_jobs(job: Callable[..., Any], args: Sequence[tuple], processes: int) -> list[Any]:
    """[job(*a) for a in args], in at most `processes` fresh ("spawn") worker processes when
    more than one; results in the order of `args`. A job's exception is raised here;
    Ctrl-C or SIGTERM of the parent stops every running worker first."""
    if processes <= 1 or len(args) <= 1:
        return [job(*a) for a in args]
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="deltahall-jobs-") as tmp:
        workers = [
            context.Process(target=_worker, args=(job, list(args), tmp))
            for _ in range(min(processes, len(args)))
        ]
        try:
            for worker in workers:
                worker.start()
            running, outcomes = list(workers), {}
            while running:
                wait([worker.sentinel for worker in running])
                running = [worker for worker in running if worker.exitcode is None]
                _collect(Path(tmp), len(args), outcomes)
                _raise_dead_worker(Path(tmp), workers, outcomes)
            return [_result(outcomes, index, workers) for index in range(len(args))]
        except BaseException:
            _stop(workers)
            raise


def _collect(folder: Path, n_jobs: int, outcomes: dict[int, Any]) -> None:
    """Load each newly written outcome once into `outcomes`; a job that raised: raised here."""
    for index in range(n_jobs):
        done = folder / f"{index}.pickle"
        if index not in outcomes and done.exists():
            ok, value = pickle.loads(done.read_bytes())
            if not ok:
                raise value
            outcomes[index] = value


def _raise_dead_worker(folder: Path, workers: list, outcomes: dict[int, Any]) -> None:
    """A worker that died in the middle of a job: raised here."""
    for worker in workers:
        if worker.exitcode in (None, 0):
            continue
        for claim in folder.glob("*.claim"):
            index = claim.name.removesuffix(".claim")
            mine = claim.read_text() == str(worker.pid)
            if mine and int(index) not in outcomes:
                raise RuntimeError(
                    f"job {index}: its worker (process {worker.pid}) died with exit code "
                    f"{worker.exitcode}"
                )


def _result(outcomes: dict[int, Any], index: int, workers: list) -> Any:
    if index not in outcomes:
        codes = ", ".join(str(w.exitcode) for w in workers)
        raise RuntimeError(f"job {index} never ran (worker exit codes: {codes})")
    return outcomes[index]


def _stop(workers: list) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: the worker's run ends KILLED
    for worker in workers:
        if worker.pid is None:
            continue  # never started
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
            worker.join()
