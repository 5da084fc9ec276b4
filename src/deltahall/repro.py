"""`deltahall repro` (what `make run` calls): `dvc repro` with independent stages side by side.

`dvc repro` runs one stage at a time. Most stages here use every core (seeds in parallel
processes, two torch threads), but some use one (t2i_pretrain, facts, the data and report
stages), and while one of those runs a core idles. This runs each stage that `dvc status`
finds out of date as `dvc --wait-for-lock repro --single-item STAGE` (DVC releases its
repository lock while a stage's command runs: its documented parallel stage execution), once
no stage upstream of it is left to run and its cores (repro_plan.stage_cores) fit in --jobs.
A stage whose outputs came out changed (its dvc.lock entry) puts the stages reading them in
the queue, as `dvc repro` would rerun them. dvc.lock is DVC's own, as after `dvc repro`.
A failed stage starts nothing new, the running ones finish, and the exit status is its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from deltahall.config import ConfigError, Params, load_params
from deltahall.dvc_files import read_yaml
from deltahall.repro_plan import fastest_possible, next_stages, stage_cores, upstream
from deltahall.tracking import terminate_raises

DVC = [str(Path(sys.executable).with_name("dvc")), "--wait-for-lock", "repro", "--single-item"]
Running = dict[str, tuple[subprocess.Popen, float]]


def pipeline(root: Path) -> tuple[list[str], dict[str, set[str]], set[str]]:
    """(stages with a command, dependencies first; the stages each depends on; the changed)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges run from a stage to the stages it depends on
        order = [s.addressing for s in nx.dfs_postorder_nodes(graph) if s.cmd]
        deps = {s.addressing: {d.addressing for d in graph.successors(s)} for s in graph}
        changed = set(repo.status())
    return order, deps, changed


def locked_outs(root: Path) -> dict[str, object] | None:
    """Each stage's outputs as dvc.lock records them (paths and hashes); None if the file
    stays unreadable (DVC rewrites it in place, maybe for another stage right now)."""
    lock = root / "dvc.lock"
    for _ in range(50):
        try:
            stages = ((read_yaml(lock) if lock.exists() else None) or {}).get("stages", {})
            return {name: entry.get("outs") for name, entry in stages.items()}
        except (yaml.YAMLError, AttributeError):
            time.sleep(0.1)
    return None


class Plan:
    """The queue: stages to run in DVC's order, and those a changed output adds to it."""

    def __init__(self, root: Path, params: Params) -> None:
        self.root = root
        self.order, self.deps, changed = pipeline(root)
        self.ancestors = upstream(self.deps)
        self.pending = [s for s in self.order if s in changed]
        self.cores = {s: stage_cores(s, params) for s in self.order}
        self.before = locked_outs(root)
        self.queued = set(self.pending)

    def finished(self, stage: str) -> None:
        """`stage` ran: if its outputs changed, what reads them joins the queue."""
        now = locked_outs(self.root)
        if now is not None and self.before is not None and now.get(stage) == self.before.get(stage):
            return  # unchanged outputs: nothing downstream reads anything new
        readers = {s for s, deps in self.deps.items() if stage in deps and s in self.cores}
        added = readers - self.queued
        self.queued |= added
        self.pending = [s for s in self.order if s in added or s in self.pending]


def run_repro_command(args) -> int:
    """`deltahall repro --jobs N` in the repository it is called from."""
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1 (got {args.jobs})")
    from dvc.exceptions import DvcException

    params = load_params(Path("params.yaml"))  # DVC's params file: what the stages read
    try:
        return run_pipeline(Path.cwd(), params, args.jobs, lambda line: print(line, flush=True))
    except DvcException as err:  # no repository, a broken dvc.yaml: DVC's one line
        raise ConfigError(f"dvc: {err}") from None


def run_pipeline(root: Path, params: Params, jobs: int, say: Callable[[str], None]) -> int:
    """Run what is out of date, side by side where cores allow; the exit status."""
    plan = Plan(root, params)
    if not plan.pending:
        say("[repro] every stage is up to date")
        return 0
    say(f"[repro] {len(plan.pending)} of {len(plan.order)} stages out of date; {jobs} cores")
    started = time.perf_counter()
    times, failed = _run(plan, jobs, say)
    spent = ", ".join(f"{s} {t:.0f}" for s, t in times.items())
    say(f"[repro] {len(times)} stages in {time.perf_counter() - started:.1f} s: {spent}")
    busy, bound = fastest_possible(times, plan.deps, plan.cores, jobs)
    say(
        f"[repro] {busy:.0f} core-seconds (stage seconds x cores): no order of these stages "
        f"on {jobs} cores ends before {bound:.0f} s"
    )
    if failed:
        stage, code = failed
        say(f"[repro] {stage} failed; not started: {', '.join(plan.pending) or 'none'}")
        return code
    return 0


def _run(plan: Plan, jobs: int, say) -> tuple[dict[str, float], tuple[str, int] | None]:
    """Start stages as next_stages allows until none is left or one failed (plan.pending
    keeps those never started). Returns each finished stage's seconds and the failure."""
    running: Running = {}
    times: dict[str, float] = {}
    failed = None
    try:
        with terminate_raises():  # SIGTERM raises here, to be forwarded to the stages
            while plan.pending or running:
                ready = (
                    []
                    if failed
                    else next_stages(plan.pending, running, plan.ancestors, plan.cores, jobs)
                )
                for stage in ready:
                    plan.pending.remove(stage)
                    say(f"[repro] {stage}: start ({plan.cores[stage] or 'all'} core(s))")
                    # a group of its own: a signal reaches dvc and the stage's command
                    proc = subprocess.Popen(
                        [*DVC, stage], cwd=plan.root, env=_env(), start_new_session=True
                    )
                    running[stage] = (proc, time.perf_counter())
                if not running:
                    break  # after a failure: what is pending never starts
                stage, code = _wait_any(running)
                times[stage] = time.perf_counter() - running.pop(stage)[1]
                say(
                    f"[repro] {stage}: {'done' if code == 0 else f'FAILED (exit {code})'} "
                    f"in {times[stage]:.1f} s"
                )
                if code == 0:
                    plan.finished(stage)
                failed = failed or ((stage, code) if code else None)
    except BaseException as err:
        _forward(running, signal.SIGINT if isinstance(err, KeyboardInterrupt) else signal.SIGTERM)
        raise
    return times, failed


def _env() -> dict[str, str]:
    """The stages' commands call `deltahall`: this interpreter's console scripts come first
    on PATH, as `make run` puts them, also when the venv is not activated."""
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}


def _wait_any(running: Running) -> tuple[str, int]:
    while True:
        for stage, (proc, _) in running.items():
            code = proc.poll()
            if code is not None:
                return stage, code
        time.sleep(0.2)


def _forward(running: Running, sig: int) -> None:
    """Ctrl-C or SIGTERM of this process: the same signal to every running stage's group
    (dvc and the stage's command; runs end KILLED, finished epochs kept), then wait."""
    for proc, _ in running.values():
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    for proc, _ in running.values():
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
