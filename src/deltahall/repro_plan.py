"""What `deltahall repro` starts when (pure): the stages' widths in cores, read from params, and
the choice of the stages that start now."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from deltahall.config import Params

ONE_CORE = {"validate", "coin_data", "coin_hidden_data", "world", "theory_report"}
ONE_CORE |= {"coin_report", "qa_report", "t2i_report", "sweep_analysis"}


def _width(processes: int, n_jobs: int, threads: int) -> int:
    """Cores of a stage that runs `n_jobs` jobs (seeds, worlds, studies) in at most
    `processes` processes of `threads` torch threads each."""
    return min(processes, max(n_jobs, 1)) * threads


def stage_cores(stage: str, params: Params) -> int:
    """Cores a stage keeps busy (its processes x torch threads); 0 for a stage this table
    does not know: it then runs alone."""
    coin, t2i, qa, facts, sweep = params.coin, params.t2i, params.qa, params.facts, params.sweep
    studies = 1 + len(sweep.replicate_seeds)
    widths: dict[str, Callable[[], int]] = {
        "coin_train": lambda: _width(
            coin.train.processes, len(coin.seeds), coin.train.torch_threads
        ),
        "coin_hidden_train": lambda: _width(
            coin.train.processes, len(params.coin_hidden.seeds), coin.train.torch_threads
        ),
        "t2i_pretrain": lambda: t2i.pretrain.torch_threads,
        "t2i_train": lambda: _width(t2i.processes, len(t2i.seeds), t2i.train.torch_threads),
        "qa_pretrain": lambda: qa.torch_threads,
        "qa_train": lambda: qa.torch_threads,
        "facts": lambda: facts.torch_threads,
        "facts_sweep": lambda: _width(
            facts.sweep.processes, len(facts.sweep.singleton_shares), facts.torch_threads
        ),
        "clip_train": lambda: params.clip.torch_threads,
        "detector": lambda: params.clip.torch_threads,
        "sweep_coin": lambda: _width(sweep.coin.processes, studies, coin.train.torch_threads),
        "sweep_qa": lambda: _width(sweep.qa.processes, studies, qa.torch_threads),
        "sweep_t2i": lambda: _width(sweep.t2i.processes, studies, t2i.train.torch_threads),
    }
    name = stage.split("@")[0]
    if name in ONE_CORE:
        return 1
    return widths[name]() if name in widths else 0


def upstream(deps: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Every stage each stage depends on, directly or through others."""
    found: dict[str, set[str]] = {}

    def visit(stage: str) -> set[str]:
        if stage not in found:
            found[stage] = set()
            for dep in deps.get(stage, set()):
                found[stage] |= {dep} | visit(dep)
        return found[stage]

    for stage in deps:
        visit(stage)
    return found


def next_stages(
    pending: list[str],
    running: Collection[str],
    ancestors: Mapping[str, set[str]],
    cores: Mapping[str, int],
    jobs: int,
) -> list[str]:
    """Which pending stages start now: none of the stages they depend on, directly or not, is
    pending or running (one may yet change what they read), and their cores fit beside the
    running ones'. The widest that fit first, then in `pending`'s order: one-core stages wait
    while a wider one can run, so that they gather and run in pairs (one started alone would
    leave a core idle until it ends). A stage wider than `jobs`, or of unknown width (0),
    starts only on an idle machine and then alone."""

    def width(stage: str) -> int:
        return cores[stage] or jobs + 1  # unknown: wider than the machine

    waiting = set(pending) | set(running)
    ready = [s for s in pending if not ancestors.get(s, set()) & waiting]
    used = sum(width(s) for s in running)
    started: list[str] = []
    for stage in sorted(ready, key=lambda s: (-min(width(s), jobs), pending.index(s))):
        if used + width(stage) <= jobs or not (running or started):
            started.append(stage)
            used += width(stage)
            if width(stage) > jobs:
                break
    return started


def fastest_possible(
    seconds: Mapping[str, float],
    deps: Mapping[str, set[str]],
    cores: Mapping[str, int],
    jobs: int,
) -> tuple[float, float]:
    """(core-seconds the stages kept busy, the wall time below which no schedule of them on
    `jobs` cores ends): the larger of core-seconds / jobs and the longest chain of stages one
    after another. A run close to it is bound by compute, not by the order stages ran in."""
    width = {s: min(cores.get(s) or jobs, jobs) for s in seconds}  # unknown: the machine
    chain: dict[str, float] = {}

    def longest(stage: str) -> float:
        if stage not in chain:
            before = [longest(d) for d in deps.get(stage, set()) if d in seconds]
            chain[stage] = seconds[stage] + max(before, default=0.0)
        return chain[stage]

    busy = sum(seconds[s] * width[s] for s in seconds)
    return busy, max([busy / jobs] + [longest(s) for s in seconds])
