"""The Optuna objective shared by every experiment: suggest knobs, train once per seed, return
(final loss, final rate). Files first: each epoch goes to the trial's user attrs in the Optuna
storage (one attr per epoch, written once), then to the trial's nested MLflow run (per seed
and, at the end, the seed mean). Who runs the trial (host, pid, MLflow run) is recorded first,
so that sweep/recovery.py can fail and retry it if its worker dies."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from types import ModuleType

import optuna

from deltahall.config import Params
from deltahall.epochs import EpochLogger
from deltahall.secrets import mask
from deltahall.sweep.recovery import HOST_ATTR, PID_ATTR, RUN_ATTR
from deltahall.sweep.space import suggest
from deltahall.sweep.trial import TRAIN_LOSS, SeedRun, mean_curve, objectives
from deltahall.tracking import Terminated, start_run

HISTORY_ATTR = "history/seed{seed}/epoch{epoch}"  # one epoch's metrics of one seed
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
        try:
            return run_trial(trial)
        except Terminated as stop:  # a SystemExit, which Optuna would leave RUNNING
            trial.set_user_attr("error", "terminated (SIGTERM)")
            raise TrialTerminated(f"trial {trial.number} terminated") from stop
        except Exception as err:
            trial.set_user_attr("error", mask(repr(err))[:500])
            raise

    def run_trial(trial: optuna.Trial) -> tuple[float, float]:
        knobs = suggest(trial, cfg.space)
        for key, value in {"worker": worker, HOST_ATTR: socket.gethostname()}.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr(PID_ATTR, os.getpid())
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
            if run.run_id is not None:
                trial.set_user_attr(RUN_ATTR, run.run_id)
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


class TrialTerminated(RuntimeError):
    """SIGTERM during a trial, as an Exception: Optuna marks the trial FAIL, then re-raises."""


class TrialCurve:
    """A seed's per-epoch rows kept in the Optuna storage (the sweep's "file"): one user attr
    per epoch, so the storage grows by one row per epoch, not by the whole curve."""

    def __init__(self, trial: optuna.Trial, seed: int):
        self.trial, self.seed = trial, seed

    def write(self, row: dict[str, float]) -> None:
        key = HISTORY_ATTR.format(seed=self.seed, epoch=int(row["epoch"]))
        self.trial.set_user_attr(key, dict(row))


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
