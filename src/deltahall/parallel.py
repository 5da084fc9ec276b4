"""Independent jobs of a stage (one per seed) in parallel processes: all cores used, the same
numbers as one by one (each job seeds itself and runs on coin.train.torch_threads threads)."""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import tempfile
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any


def _child(job: Callable[..., Any], args: tuple, out: str) -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides, then stops the
    # children with SIGTERM, which their MLflow runs end as KILLED (tracking.start_run).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = (True, job(*args))
    except BaseException as err:  # noqa: BLE001 - handed to the parent, which raises it
        outcome = (False, err)
    Path(out).write_bytes(pickle.dumps(outcome))


def run_jobs(job: Callable[..., Any], args: Sequence[tuple], processes: int) -> list[Any]:
    """[job(*a) for a in args], at most `processes` at a time in fresh ("spawn") processes
    when more than one; results in the order of `args`. A job's exception is raised here;
    Ctrl-C or SIGTERM of the parent stops every running child first."""
    if processes <= 1 or len(args) <= 1:
        return [job(*a) for a in args]
    context = multiprocessing.get_context("spawn")
    results: dict[int, Any] = {}
    running: dict[int, tuple[Any, Path]] = {}
    with tempfile.TemporaryDirectory(prefix="deltahall-jobs-") as tmp:
        pending = list(enumerate(args))
        try:
            while pending or running:
                while pending and len(running) < processes:
                    index, job_args = pending.pop(0)
                    out = Path(tmp) / f"{index}.pickle"
                    child = context.Process(target=_child, args=(job, job_args, str(out)))
                    child.start()
                    running[index] = (child, out)
                wait([child.sentinel for child, _ in running.values()])
                for index, (child, out) in list(running.items()):
                    if child.exitcode is not None:
                        del running[index]
                        results[index] = _outcome(child, out, index)
        except BaseException:
            _stop([child for child, _ in running.values()])
            raise
    return [results[i] for i in range(len(args))]


def _outcome(child, out: Path, index: int) -> Any:
    if not out.exists():
        raise RuntimeError(
            f"job {index} (process {child.pid}) died with exit code {child.exitcode}"
        )
    ok, value = pickle.loads(out.read_bytes())
    if not ok:
        raise value
    return value


def _stop(children: list) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: the child's run ends KILLED
    for child in children:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()
