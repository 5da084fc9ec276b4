"""The Optuna objective shared by every experiment: suggest knobs, train once per seed, return
(final loss, final rate). Files first: each epoch goes to the trial's user attrs in the Optuna
storage, then to the trial's nested MLflow run (per seed and, at the end, the seed mean)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType

import optuna

from deltahall.config import Params
from deltahall.sweep.space import suggest
from deltahall.sweep.trial import TRAIN_LOSS, SeedRun, mean_curve, objectives
from deltahall.tracking import EpochLogger, start_run

HISTORY_ATTR = "history/seed{seed}"  # per-epoch metrics of one seed, in the Optuna storage
DETECTOR_ATTR = "detector"  # last-epoch detector scores (first seed) and threshold


def mlflow_experiment(experiment: str) -> str:
    return f"sweep_{experiment}"


def _knob_text(knobs: dict) -> str:
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in knobs.items()
    )


def make_objective(
    params: Params, experiment: str, module: ModuleType, parent_run_id: str | None, worker: int = 0
) -> Callable[[optuna.Trial], tuple[float, float]]:
    cfg = getattr(params.sweep, experiment)
    tag = f"[sweep {experiment} w{worker}]"

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        knobs = suggest(trial, cfg.space)
        trial.set_user_attr("worker", worker)
        started = time.perf_counter()
        run_params = {
            "trial": trial.number,
            "study": trial.study.study_name,
            "worker": worker,
            "seeds": cfg.seeds,
            **{f"knob.{k}": v for k, v in knobs.items()},
        }
        tags = {
            "deltahall.stage": f"sweep_{experiment}",
            "optuna.trial": trial.number,
            "optuna.study": trial.study.study_name,
        }
        with start_run(
            params,
            mlflow_experiment(experiment),
            f"trial-{trial.number}",
            run_params,
            tags,
            parent_run_id=parent_run_id,
        ) as run:
            runs = [_train_seed(params, module, trial, run, knobs, seed, tag) for seed in cfg.seeds]
            keys = [
                k
                for k in (TRAIN_LOSS, module.LOSS, module.RATE)
                if all(k in r.history[-1] for r in runs)
            ]
            loss, rate = objectives(runs, module.LOSS, module.RATE)
            trial.set_user_attr(
                DETECTOR_ATTR,
                {"scores": runs[0].scores, "score": module.SCORE, "threshold": runs[0].threshold},
            )
            for row in mean_curve(runs, keys):
                run.log_metrics({k: row[k] for k in keys}, step=int(row["epoch"]))
            run.log_metrics({"objective/loss": loss, "objective/rate": rate})
        print(
            f"{tag} trial {trial.number}: {_knob_text(knobs)} -> {module.LOSS} {loss:.4f} "
            f"{module.RATE} {rate:.4f} ({time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        return loss, rate

    return objective


class TrialCurve:
    """A seed's per-epoch rows kept in the Optuna storage (the sweep's "file"): the trial's
    user attr HISTORY_ATTR, rewritten with the whole curve each epoch."""

    def __init__(self, trial: optuna.Trial, seed: int):
        self.trial, self.key, self.rows = trial, HISTORY_ATTR.format(seed=seed), []

    def write(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))
        self.trial.set_user_attr(self.key, self.rows)


def _train_seed(
    params: Params, module: ModuleType, trial: optuna.Trial, run, knobs: dict, seed: int, tag: str
) -> SeedRun:
    log = EpochLogger(
        f"{tag} trial {trial.number} seed {seed}",
        knobs.get("epochs", "?"),
        [module.LOSS, module.RATE],
        run,
        TrialCurve(trial, seed),
        prefix=f"seed{seed}/",
    )
    return module.train(params, knobs, seed, log)
