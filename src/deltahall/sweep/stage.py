"""Stage `sweep_<experiment>`: `deltahall sweep --experiment NAME` runs one Optuna study.

The coordinator creates (or joins) the study in sweep.storage, opens the study's parent MLflow
run, runs the trials (in-process, or split over `--workers` subprocesses), then exports the
study to files (DVC outputs) and mirrors a summary to the parent run. `--worker K` joins an
existing study as worker K (what `--workers` spawns; also how another machine joins a
PostgreSQL study): trials only, under the parent run recorded in the study.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from types import ModuleType

from deltahall import paths
from deltahall.config import ConfigError, Params
from deltahall.secrets import mask
from deltahall.sweep import export
from deltahall.sweep.objective import make_objective, mlflow_experiment
from deltahall.sweep.storage import make_sampler, open_study, storage_kind, storage_url
from deltahall.sweep.trial import EXPERIMENTS
from deltahall.tracking import start_run

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
    return storage_url(cfg.storage, experiment), name + (
        "" if replicate is None else f"-seed{replicate}"
    )


def fingerprint(params: Params, experiment: str, replicate: int | None = None) -> dict:
    """What must match for two workers to share a study: the experiment's sweep section (but
    n_trials: raising it extends a study), the sampler and the experiment's own params (the
    base the knobs override)."""
    base = experiment_module(experiment).base_params(params)
    study = getattr(params.sweep, experiment).model_dump(mode="json", exclude={"n_trials"})
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
    return open_study(url, name, sampler, fingerprint(params, experiment, replicate))


def run_sweep_worker(params: Params, experiment: str, worker: int, n_trials: int) -> None:
    """Join the study and run `n_trials` trials under the parent run recorded in it."""
    module = experiment_module(experiment)
    study = _open(params, experiment, worker)
    parent = study.user_attrs.get(PARENT_ATTR)
    study.optimize(make_objective(params, experiment, module, parent, worker), n_trials=n_trials)


def _spawn(experiment: str, params_path: Path, shares: list[int]) -> None:
    """One `deltahall sweep --worker K` subprocess per share; all must succeed."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deltahall.cli",
                "sweep",
                "--experiment",
                experiment,
                "--params",
                str(params_path),
                "--worker",
                str(k + 1),
                "--n-trials",
                str(n),
            ]
        )
        for k, n in enumerate(shares)
        if n > 0
    ]
    failed = [p.args[-3] for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(
            f"sweep {experiment}: worker(s) {', '.join(failed)} failed; see their output above"
        )


def split(n: int, parts: int) -> list[int]:
    """n trials over `parts` workers, as even as possible: split(7, 3) == [3, 2, 2]."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def run_sweep_command(
    params: Params,
    experiment: str,
    workers: int,
    worker: int | None,
    n_trials: int | None,
    params_path: Path,
) -> dict | None:
    """`deltahall sweep`: the coordinator, or with --worker K one more worker."""
    if worker is None:
        if n_trials is not None:
            raise ConfigError(
                f"--n-trials is for --worker; the coordinator runs sweep.{experiment}.n_trials"
            )
        return run_sweep(params, experiment, workers, params_path)
    if worker < 1 or n_trials is None or n_trials < 1:
        raise ConfigError(
            f"--worker K needs K >= 1 and --n-trials N >= 1 (got {worker}, {n_trials})"
        )
    run_sweep_worker(params, experiment, worker, n_trials)
    return None


def run_sweep(
    params: Params, experiment: str, workers: int = 1, params_path: Path = Path("params.yaml")
) -> dict:
    """The study, then each replicate study (sweep.replicate_seeds; in this process)."""
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
    summary = _run_study(params, experiment, module, None, workers, params_path)
    for seed in params.sweep.replicate_seeds:
        _run_study(params, experiment, module, seed, 1, params_path)
    return summary


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
    study = _open(params, experiment, 0, replicate)
    remaining = max(0, cfg.n_trials - len(study.trials))
    seed = params.sweep.seed if replicate is None else replicate
    print(
        f"[sweep {experiment}] study {name!r} in {mask(url)}: {len(study.trials)} trials stored, "
        f"{remaining} to run on {workers} worker(s) ({params.sweep.sampler}, seed {seed})",
        flush=True,
    )
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
        if workers == 1:
            objective = make_objective(params, experiment, module, parent.run_id)
            study.optimize(objective, n_trials=remaining)
        else:
            _spawn(experiment, params_path, split(remaining, workers))
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
    if replicate is None:
        out = paths.SWEEP_METRICS / f"{experiment}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        f"[sweep {experiment}] {summary['n_complete']}/{summary['n_trials']} trials complete, "
        f"Pareto front: trials {summary['pareto_trials']} -> {trials_path(experiment, replicate)}",
        flush=True,
    )
    return summary
