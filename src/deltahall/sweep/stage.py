"""Stage `sweep_<experiment>`: `deltahall sweep --experiment NAME` runs one Optuna study.

The coordinator creates (or, without --fresh, resumes) the study in sweep.storage, opens the
study's parent MLflow run, drives the study to n_trials COMPLETE trials (sweep/workers.py:
in-process, or over `--workers` subprocesses, retrying the trials of workers that died), then
always exports the study to files (DVC outputs) and mirrors a summary to the parent run.
`--worker K` joins the coordinator's study as worker K (what `--workers` spawns; also how
another machine joins a PostgreSQL study): trials only, under the study's parent run.
"""

from __future__ import annotations

import json
import warnings
from importlib import import_module
from pathlib import Path
from types import ModuleType

import optuna

from deltahall import paths
from deltahall.config import ConfigError, Params
from deltahall.metrics_file import write_json
from deltahall.parallel import run_jobs
from deltahall.secrets import mask
from deltahall.sweep import export
from deltahall.sweep.objective import make_objective, mlflow_experiment
from deltahall.sweep.recovery import Retry
from deltahall.sweep.storage import (
    Heartbeat,
    delete_study,
    load_existing_study,
    make_sampler,
    open_study,
    replicate_file,
    state_counts,
    storage_kind,
    storage_url,
)
from deltahall.sweep.trial import EXPERIMENTS
from deltahall.sweep.workers import drive, run_trials, spawn, split
from deltahall.tracking import start_run, tracking_uri

PARENT_ATTR = "mlflow.parent_run_id"


def experiment_module(experiment: str) -> ModuleType:
    if experiment not in EXPERIMENTS:
        raise ConfigError(f"--experiment {experiment!r}: known: {', '.join(EXPERIMENTS)}")
    return import_module(EXPERIMENTS[experiment])


def study_location(
    params: Params, experiment: str, replicate: int | None = None
) -> tuple[str, str]:
    """(storage URL, study name) of an experiment's study, or of its replicate study whose
    sampler is seeded `replicate` (name suffix -seed<S>)."""
    cfg = params.sweep
    name = cfg.study_name.replace("{experiment}", experiment)
    url = storage_url(cfg.storage, experiment)
    if replicate is None:
        return url, name
    if storage_kind(url) == "sqlite":  # one writer per SQLite file: the replicate's own
        url = replicate_file(url, replicate)
    return url, f"{name}-seed{replicate}"


def fingerprint(params: Params, experiment: str, replicate: int | None = None) -> dict:
    """What must match for two workers to share a study: the experiment's sweep section (but
    n_trials: raising it extends a study), the sampler and the experiment's own params (the
    base the knobs override)."""
    base = experiment_module(experiment).base_params(params)
    study = getattr(params.sweep, experiment).model_dump(
        mode="json", exclude={"n_trials", "processes"}
    )
    return json.loads(
        json.dumps(
            {
                "sweep": study,
                "sampler": params.sweep.sampler,
                "seed": params.sweep.seed if replicate is None else replicate,
                "base": base,
            }
        )
    )


trials_path, history_path = paths.sweep_trials, paths.sweep_history


def _open(params: Params, experiment: str, worker: int, replicate: int | None = None):
    url, name = study_location(params, experiment, replicate)
    seed = params.sweep.seed if replicate is None else replicate
    sampler = make_sampler(params.sweep.sampler, seed, worker)
    retry = Retry(params.sweep.max_retry, tracking_uri(params))
    beat = Heartbeat(params.sweep.heartbeat_interval, params.sweep.grace_period, retry)
    study = open_study(url, name, sampler, fingerprint(params, experiment, replicate), beat)
    module = experiment_module(experiment)
    # named objectives: optuna-dashboard's axes read "val/loss", not "0"; stable since Optuna 3.2
    # in all but name, so its ExperimentalWarning is silenced here, where it is raised
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([f"final {module.LOSS}", f"final {module.RATE}"])
    return study, retry


def run_sweep_worker(params: Params, experiment: str, worker: int, n_trials: int | None) -> None:
    """Join the coordinator's study and run trials under its parent run: `n_trials` of them,
    or (None) until the study is full."""
    module = experiment_module(experiment)
    url, name = study_location(params, experiment)
    if load_existing_study(url, name) is None:
        raise ConfigError(
            f"no study {name!r} in {mask(url)}: start the coordinator first "
            f"(deltahall sweep --experiment {experiment}), then the workers"
        )
    study, retry = _open(params, experiment, worker)
    parent = study.user_attrs.get(PARENT_ATTR)
    objective = make_objective(params, experiment, module, parent, worker)
    run_trials(study, objective, getattr(params.sweep, experiment).n_trials, n_trials, retry)


def run_sweep_command(
    params: Params,
    experiment: str,
    workers: int,
    worker: int | None,
    n_trials: int | None,
    fresh: bool,
    params_path: Path,
) -> dict | None:
    """`deltahall sweep`: the coordinator, or with --worker K one more worker."""
    if worker is None:
        if n_trials is not None:
            raise ConfigError(
                f"--n-trials is for --worker; the coordinator runs sweep.{experiment}.n_trials"
            )
        return run_sweep(params, experiment, workers, params_path, fresh)
    if fresh:
        raise ConfigError("--fresh is for the coordinator: a worker joins the study it made")
    if worker < 1 or (n_trials is not None and n_trials < 1):
        raise ConfigError(
            f"--worker K needs K >= 1 and --n-trials N >= 1 (got {worker}, {n_trials})"
        )
    run_sweep_worker(params, experiment, worker, n_trials)
    return None


def run_sweep(
    params: Params,
    experiment: str,
    workers: int = 1,
    params_path: Path = Path("params.yaml"),
    fresh: bool = False,
) -> dict:
    """The study, then each replicate study (sweep.replicate_seeds; in this process).
    `fresh` (what `dvc repro` runs) first removes studies an earlier run left in the storage,
    so that the study is the one the params and the code describe now."""
    module = experiment_module(experiment)
    url, _ = study_location(params, experiment)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {workers})")
    if workers > 1 and storage_kind(url) == "sqlite":
        raise ConfigError(
            f"sweep.storage {mask(url)!r} is SQLite, for one worker only; use "
            f"journal:PATH (one machine) or postgresql://... for --workers {workers}"
        )
    module.check(params)  # fail on missing inputs or a bad space before any trial
    for replicate in [None, *params.sweep.replicate_seeds]:
        url, name = study_location(params, experiment, replicate)
        removed = delete_study(url, name) if fresh else 0
        if removed:
            print(
                f"[sweep {experiment}] --fresh: removed study {name!r} ({removed} trials "
                f"of an earlier run) from {mask(url)}",
                flush=True,
            )
    replicates = params.sweep.replicate_seeds
    processes = getattr(params.sweep, experiment).processes
    if workers == 1 and processes > 1 and replicates:
        jobs = [(params, experiment, seed, params_path) for seed in [None, *replicates]]
        return run_jobs(_study_job, jobs, processes)[0]
    summary = _run_study(params, experiment, module, None, workers, params_path)
    for seed in replicates:
        _run_study(params, experiment, module, seed, 1, params_path)
    return summary


def _study_job(params: Params, experiment: str, replicate: int | None, params_path: Path):
    """One study in a process of its own (parallel.run_jobs): its sampler is seeded, so its
    trials are those it runs one after another."""
    module = experiment_module(experiment)
    return _run_study(params, experiment, module, replicate, 1, params_path)


def _announce(study, experiment: str, url: str, workers: int, seed: int, n_trials: int) -> None:
    counts = state_counts(study)
    stored = sum(counts.values())
    reused = (
        f"resuming a study an earlier run left ({counts['COMPLETE']} COMPLETE trials reused; "
        f"--fresh starts afresh)"
        if stored
        else "a new study"
    )
    print(
        f"[sweep {experiment}] study {study.study_name!r} in {mask(url)}: {reused}; "
        f"{max(0, n_trials - counts['COMPLETE'])} to run on {workers} worker(s) "
        f"({study.sampler.__class__.__name__}, seed {seed})",
        flush=True,
    )


def _run_study(
    params: Params,
    experiment: str,
    module: ModuleType,
    replicate: int | None,
    workers: int,
    params_path: Path,
) -> dict:
    cfg = getattr(params.sweep, experiment)
    url, name = study_location(params, experiment, replicate)
    study, retry = _open(params, experiment, 0, replicate)
    seed = params.sweep.seed if replicate is None else replicate
    _announce(study, experiment, url, workers, seed, cfg.n_trials)
    run_params = {
        "study": name,
        "storage": storage_kind(url),
        "workers": workers,
        "sampler": params.sweep.sampler,
        "seed": seed,
        "sweep": cfg.model_dump(mode="json"),
        "storage_url": mask(url),  # the study's address for a reader, never its password
    }
    with start_run(
        params,
        mlflow_experiment(experiment),
        f"study-{name}",
        run_params,
        {"deltahall.stage": f"sweep_{experiment}", "optuna.study": name},
    ) as parent:
        if parent.run_id is not None:
            study.set_user_attr(PARENT_ATTR, parent.run_id)
        objective = make_objective(params, experiment, module, parent.run_id)

        def run_round(need: int) -> list[str]:
            if workers > 1:
                return spawn(experiment, params_path, split(need, workers))
            try:
                run_trials(study, objective, cfg.n_trials, need, retry)
            except Exception as err:  # noqa: BLE001 - the trial is FAIL with its `error` attr
                return [f"a trial failed: {mask(repr(err))[:300]}"]
            return []

        tag = f"[sweep {experiment}]"
        try:
            drive(study, run_round, cfg.n_trials, retry, params.sweep.max_retry, 2.0, tag)
        finally:  # whatever happened, the files say what the study holds now
            summary = _export(study, experiment, module, replicate)
            parent.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})
            parent.log_artifact(trials_path(experiment, replicate))
            parent.log_artifact(history_path(experiment, replicate))
    return summary


def _export(study, experiment: str, module: ModuleType, replicate: int | None = None) -> dict:
    """The study's files; the headline metrics file is the main study's only."""
    trials = study.get_trials(deepcopy=False)
    rows = export.trial_rows(trials)
    export.write_csv(rows, export.TRIAL_COLUMNS, trials_path(experiment, replicate))
    export.write_csv(
        export.history_rows(trials, module.LOSS, module.RATE),
        export.HISTORY_COLUMNS,
        history_path(experiment, replicate),
    )
    summary = {**export.study_summary(rows), "loss": module.LOSS, "rate": module.RATE}
    summary["n_retried"] = sum("failed_trial" in t.system_attrs for t in trials)
    if replicate is None:
        out = paths.SWEEP_METRICS / f"{experiment}.json"
        write_json(out, summary)
    print(
        f"[sweep {experiment}] {summary['n_complete']}/{summary['n_trials']} trials complete, "
        f"Pareto front: trials {summary['pareto_trials']} -> {trials_path(experiment, replicate)}",
        flush=True,
    )
    return summary
