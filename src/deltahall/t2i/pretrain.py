"""Stage `t2i_pretrain`: the base UNet that `t2i_train` fine-tunes, as SD is pretrained before
§6.3 fine-tunes it.

Default profile: the small UNet trained on every class of the dataset (all ten digits, captions
from t2i.caption_templates), judged at epoch 0 and after every epoch on the t2i prompts.
Writes outputs/t2i_base/unet, plots/t2i/pretrain_history.csv (flushed per epoch), one grid per
prompt and epoch (outputs/t2i_base/grids), metrics/t2i/pretrain.json; MLflow run
`t2i-pretrain` in experiment `t2i`. With t2i.model.pretrained set (paper profile) the base is
that model: the stage records so and trains nothing.
"""

from __future__ import annotations

import dataclasses
import shutil

import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv
from deltahall.metrics_file import write_json
from deltahall.t2i import keys
from deltahall.t2i.data import load_train_images
from deltahall.t2i.grid import write_grids
from deltahall.t2i.model import count_parameters
from deltahall.t2i.run import PromptSamples, load_context, train_t2i_run
from deltahall.tracking import start_run
from deltahall.vision.images import DIGIT_NAMES

OUT = paths.T2I_METRICS / "pretrain.json"


def run_t2i_pretrain(params: Params) -> dict:
    cfg = params.t2i
    if cfg.model.pretrained:
        return _write({"pretrained": cfg.model.pretrained, "revision": cfg.model.revision})
    torch.set_num_threads(cfg.pretrain.torch_threads)
    classes = list(DIGIT_NAMES) if params.images.dataset == "digits" else params.images.classes
    context = load_context(params, base=False)  # fails (naming the stage) before any write
    images = load_train_images(params.images.dataset, paths.DATA, classes, cfg.resolution)
    context = dataclasses.replace(context, images=images)
    shutil.rmtree(paths.T2I_BASE, ignore_errors=True)
    epoch_keys = keys.epoch_keys([p.name for p in cfg.prompts])
    run_params = {
        "seed": cfg.pretrain_seed,
        "pretrain": cfg.pretrain.model_dump(),
        "classes": ",".join(classes),
        "n_train_images": len(images),
    }
    tags = {"deltahall.stage": "t2i_pretrain", "detector_uri": getattr(context.judge, "uri", "")}
    with (
        HistoryCsv(paths.T2I_PRETRAIN_HISTORY, ["epoch", *epoch_keys]) as history,
        start_run(
            params,
            keys.EXPERIMENT,
            "t2i-pretrain",
            run_params,
            tags,
            inputs=[paths.DATA],
            system_metrics=True,
        ) as run,
    ):
        log = EpochLogger("[t2i-pretrain]", cfg.pretrain.epochs, keys.SHOWN, run, history)

        def on_epoch(epoch: int, metrics: dict[str, float], samples: dict[str, PromptSamples]):
            for grid in write_grids(samples, paths.T2I_BASE / "grids", epoch):
                run.log_artifact(grid, f"grids/epoch{epoch:03d}")
            log(epoch, metrics)

        result = train_t2i_run(cfg, cfg.pretrain_seed, context, on_epoch, cfg.pretrain)
        result.model.unet.save_pretrained(paths.T2I_BASE / "unet")
        run.log_params({"n_parameters": count_parameters(result.model.unet)})
    last = result.history[-1]
    rates = {p.name: keys.per_prompt(keys.HALL_RATE, p.name) for p in cfg.prompts}
    return _write(
        {
            "classes": classes,
            "n_images": len(images),
            "epochs": cfg.pretrain.epochs,
            "final": {k: last[k] for k in epoch_keys if k != keys.EPOCH_TIME},
            # what t2i_train's runs start from (their epoch 0 judges it again, per seed)
            "rate_by_prompt": {name: last[key] for name, key in rates.items()},
        }
    )


def _write(summary: dict) -> dict:
    write_json(OUT, summary)
    for name, rate in summary.get("rate_by_prompt", {}).items():
        print(f"[t2i-pretrain] base rate outside every HCDR, prompt {name}: {rate:.3f}")
    return summary
