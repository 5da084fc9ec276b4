"""Stage `t2i_train`: one fine-tuning run per seed, judged by the registered detector.

Seeds run side by side in t2i.processes processes. Per epoch and seed, files first: a row of
the seed's part of plots/t2i/history.csv (flushed, so a crash keeps every finished epoch;
joined in seed order at the end) and one image grid per prompt (outputs/t2i/seed<S>/grids/),
then the same metrics (step=epoch) and grids (one image key per prompt, step=epoch: the UI's
slider) to the seed's MLflow run in experiment `t2i`. At the end: the fine-tuned UNet
(outputs/t2i/seed<S>/unet, and the run's MLflow model) and metrics/t2i/train.json.
"""

from __future__ import annotations

import importlib.metadata
import shutil

import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv, history_part, join_histories
from deltahall.metrics_file import across_seeds, write_metrics
from deltahall.parallel import run_jobs
from deltahall.seeding import derive_seed
from deltahall.t2i import keys
from deltahall.t2i.grid import write_grids
from deltahall.t2i.model import count_parameters
from deltahall.t2i.run import PromptSamples, T2IContext, load_context, train_t2i_run
from deltahall.tracking import start_run

EXPERIMENT = keys.EXPERIMENT


def run_t2i_train(params: Params) -> dict:
    cfg = params.t2i
    torch.set_num_threads(cfg.train.torch_threads)
    context = load_context(params)  # fails (naming the missing stage) before writing anything
    shutil.rmtree(paths.T2I_OUTPUTS, ignore_errors=True)  # no stale grids of a longer run
    epoch_keys = keys.epoch_keys([p.name for p in cfg.prompts])
    columns = ["seed", "epoch", *epoch_keys]
    # in this process, the context loaded above; in a worker process, its own
    shared = context if cfg.processes <= 1 or len(cfg.seeds) <= 1 else None
    jobs = [(params, seed, columns, shared) for seed in cfg.seeds]
    try:
        finals = dict(zip(cfg.seeds, run_jobs(_train_seed_job, jobs, cfg.processes)))
    finally:  # a crash keeps every finished epoch in the history
        join_histories(paths.T2I_HISTORY, list(cfg.seeds))
    reported = [k for k in epoch_keys if k != keys.EPOCH_TIME]
    per_seed = {s: {k: finals[s][k] for k in reported} for s in finals}
    # a mean of per-seed CI bounds is no interval: the headline keeps the point figures
    points = {
        s: {k: v for k, v in row.items() if not k.endswith(("_low", "_high"))}
        for s, row in per_seed.items()
    }
    summary = {"epochs": cfg.train.epochs, "seeds": list(cfg.seeds), **across_seeds(points)}
    write_metrics(paths.T2I_METRICS / "train.json", summary, per_seed)
    return summary


def _train_seed_job(
    params: Params, seed: int, columns: list[str], context: T2IContext | None
) -> dict[str, float]:
    """One seed, in this process or a worker (seeded by itself: the same numbers either way);
    its rows go to its own part of the history, every finished epoch kept if the stage dies."""
    torch.set_num_threads(params.t2i.train.torch_threads)
    context = context or load_context(params)
    with HistoryCsv(history_part(paths.T2I_HISTORY, seed), columns) as history:
        return _train_seed(params, context, seed, history)


def _train_seed(
    params: Params, context: T2IContext, seed: int, history: HistoryCsv
) -> dict[str, float]:
    cfg = params.t2i
    folder = paths.T2I_OUTPUTS / f"seed{seed}"
    run_params = {
        "seed": seed,
        "run_seed": derive_seed("t2i", seed),
        "t2i": cfg.model_dump(),
        "images": params.images.model_dump(),
        "n_train_images": len(context.images),
        "detector": getattr(context.judge, "uri", "given"),
    }
    tags = {"deltahall.stage": "t2i_train", "detector_uri": run_params["detector"]}
    inputs = [paths.DATA, paths.T2I_BASE]
    with start_run(
        params, EXPERIMENT, f"t2i-seed{seed}", run_params, tags, inputs=inputs, system_metrics=True
    ) as run:
        run.expect_model()  # every epoch's metrics link to the run's model (the UNet)
        log = EpochLogger(
            f"[t2i-train] seed {seed}", cfg.train.epochs, keys.SHOWN, run, history, {"seed": seed}
        )

        def on_epoch(epoch: int, metrics: dict[str, float], samples: dict[str, PromptSamples]):
            grids = write_grids(samples, folder / "grids", epoch)
            log(
                epoch,
                metrics,
                f" [{metrics[keys.low(keys.HALL_RATE)]:.2f}, "
                f"{metrics[keys.high(keys.HALL_RATE)]:.2f}]",
            )
            for prompt, grid in zip(samples, grids):  # the UI's step slider: one key per prompt
                run.log_image(grid, key=prompt, step=epoch)

        result = train_t2i_run(cfg, seed, context, on_epoch)
        result.model.unet.save_pretrained(folder / "unet")
        run.log_params({"n_parameters": count_parameters(result.model.unet)})
        run.set_tags({"unet_dir": str(folder / "unet")})
        run.log_model(result.model.unet, [f"diffusers=={importlib.metadata.version('diffusers')}"])
    return result.history[-1]
