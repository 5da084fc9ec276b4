"""Independent jobs of a stage (one per seed) in parallel processes: all cores used, the same
numbers as one by one (each job seeds itself and runs on coin.train.torch_threads threads)."""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides, then stops the
    # workers with SIGTERM, which their MLflow runs end as KILLED (tracking.start_run).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(job: Callable[..., Any], args: Sequence[tuple], processes: int) -> list[Any]:
    """[job(*a) for a in args], in `processes` worker processes when more than one; results in
    the order of `args`. Workers start fresh ("spawn"): nothing of the parent's torch, MLflow
    or database state is shared. Ctrl-C or SIGTERM of the parent stops every worker first."""
    if processes <= 1 or len(args) <= 1:
        return [job(*a) for a in args]
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        min(processes, len(args)), mp_context=context, initializer=_ignore_ctrl_c
    )
    try:
        futures = [pool.submit(job, *a) for a in args]
        return [f.result() for f in futures]
    except BaseException:
        for future in futures if "futures" in locals() else []:
            future.cancel()
        for worker in list(getattr(pool, "_processes", {}).values()):
            if worker.is_alive():
                worker.terminate()  # SIGTERM
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
