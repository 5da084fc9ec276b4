"""Stage `t2i_train`: one fine-tuning run per seed, judged by the registered detector.

Per epoch and seed, files first: a row of plots/t2i/history.csv (flushed, so a crash keeps
every finished epoch) and one image grid per prompt (outputs/t2i/seed<S>/grids/), then the
same metrics (step=epoch) and grids to the seed's MLflow run in experiment `t2i`. At the end:
the fine-tuned UNet (outputs/t2i/seed<S>/unet) and metrics/t2i/train.json.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import torch

from deltahall.config import Params
from deltahall.seeding import derive_seed
from deltahall.t2i import HISTORY, METRICS, OUTPUTS
from deltahall.t2i.evaluate import metric_names
from deltahall.t2i.grid import image_grid, save_png
from deltahall.t2i.model import count_parameters
from deltahall.t2i.run import PromptSamples, T2IContext, load_context, train_t2i_run
from deltahall.tracking import start_run

EXPERIMENT = "t2i"
SHOWN = ["train/loss", "train/loss_fixed_noise", "val/hall_rate", "val/mean_hall"]


def history_columns(prompts: list[str]) -> list[str]:
    return ["seed", "epoch", "train/loss", "train/loss_fixed_noise", *metric_names(prompts),
            "time/epoch_s"]


def write_grids(samples: dict[str, PromptSamples], folder: Path, epoch: int) -> list[Path]:
    """One PNG per prompt; tiles are enlarged to ≥ 64 px so 8×8 digits stay visible."""
    paths = []
    for name, s in samples.items():
        scale = max(1, 64 // s.images.shape[-1])
        paths.append(save_png(image_grid(s.images, flags=s.flags),
                              folder / f"epoch{epoch:03d}_{name}.png", scale))
    return paths


def run_t2i_train(params: Params) -> dict:
    cfg = params.t2i
    torch.set_num_threads(cfg.train.torch_threads)
    context = load_context(params)  # fails (naming the missing stage) before writing anything
    shutil.rmtree(OUTPUTS, ignore_errors=True)  # no stale grids from a longer earlier run
    prompts = [p.name for p in cfg.prompts]
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    finals: dict[int, dict[str, float]] = {}
    with HISTORY.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=history_columns(prompts))
        writer.writeheader()
        for seed in cfg.seeds:
            finals[seed] = _train_seed(params, context, seed, writer, fh)
    keys = [k for k in history_columns(prompts)[2:] if not k.startswith("time/")]
    summary = {"epochs": cfg.train.epochs, "seeds": list(cfg.seeds),
               "final": {str(s): {k: finals[s][k] for k in keys} for s in finals}}
    METRICS.mkdir(parents=True, exist_ok=True)
    (METRICS / "train.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _train_seed(params: Params, context: T2IContext, seed: int, writer: csv.DictWriter,
                fh) -> dict[str, float]:
    cfg = params.t2i
    folder = OUTPUTS / f"seed{seed}"
    run_params = {"seed": seed, "run_seed": derive_seed("t2i", seed), "t2i": cfg.model_dump(),
                  "images": params.images.model_dump(), "n_train_images": len(context.images),
                  "detector": getattr(context.judge, "uri", "given")}
    tags = {"deltahall.stage": "t2i_train", "detector_uri": run_params["detector"]}
    with start_run(params, EXPERIMENT, f"t2i-seed{seed}", run_params, tags) as run:

        def on_epoch(epoch: int, metrics: dict[str, float], samples: dict[str, PromptSamples]):
            writer.writerow({"seed": seed, "epoch": epoch, **metrics})
            fh.flush()  # files first: a crash keeps every finished epoch
            grids = write_grids(samples, folder / "grids", epoch)
            run.log_metrics(metrics, step=epoch)
            for grid in grids:
                run.log_artifact(grid, f"grids/epoch{epoch:03d}")
            print(f"[t2i-train] seed {seed} epoch {epoch}/{cfg.train.epochs} " + " ".join(
                f"{k} {metrics[k]:.4f}" for k in SHOWN) +
                f" [{metrics['val/hall_rate_low']:.2f}, {metrics['val/hall_rate_high']:.2f}]"
                f" ({metrics['time/epoch_s']:.1f}s)", flush=True)

        result = train_t2i_run(params, seed, context=context, on_epoch=on_epoch)
        result.model.unet.save_pretrained(folder / "unet")
        run.log_params({"n_parameters": count_parameters(result.model.unet)})
        run.set_tags({"unet_dir": str(folder / "unet")})
    return result.history[-1]
