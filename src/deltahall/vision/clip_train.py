"""Stage `clip_train`: the small open_clip CLIP trained contrastively on the default images.

Writes outputs/clip/{model.safetensors, spec.json}, plots/clip/history.csv (train/loss per
epoch), metrics/clip.json and one MLflow run ("clip"). The paper profile (clip.pretrained
set) saves the pretrained model's weights unchanged (epochs are ignored: the paper does not
fine-tune CLIP).
"""

from __future__ import annotations

import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv
from deltahall.metrics_file import write_json
from deltahall.seeding import derive_seed, seed_everything
from deltahall.tracking import start_run
from deltahall.vision.clip import ClipSpec, build_clip, save_clip, tokenize
from deltahall.vision.contrastive import EPOCH_TIME, TRAIN_LOSS, train_clip
from deltahall.vision.images import captions_for, load_image_set


def clip_spec(params: Params) -> ClipSpec:
    c = params.clip
    return ClipSpec(
        embed_dim=c.embed_dim,
        width=c.width,
        heads=c.heads,
        vision_layers=c.vision_layers,
        text_layers=c.text_layers,
        patch_size=c.patch_size,
        image_size=params.images.image_size,
        context_length=c.context_length,
        pretrained=c.pretrained,
    )


def run_clip_train(params: Params) -> dict:
    cfg = params.clip
    torch.set_num_threads(cfg.torch_threads)
    seed = derive_seed("clip", cfg.seed)
    images = load_image_set(params.images.dataset, paths.DATA, params.images.image_size)
    spec = clip_spec(params)
    seed_everything(seed)
    model = build_clip(spec)
    run_params = {
        "seed": seed,
        "images": params.images.model_dump(),
        "clip": cfg.model_dump(),
        "n_images": len(images.labels),
    }
    with (
        HistoryCsv(paths.CLIP_HISTORY, ["epoch", TRAIN_LOSS, EPOCH_TIME]) as rows,
        start_run(
            params,
            "clip",
            f"clip-{spec.pretrained or 'small'}",
            run_params,
            {"deltahall.stage": "clip_train"},
            inputs=[paths.DATA],
            system_metrics=True,
        ) as run,
    ):
        history: list[dict] = []
        if not spec.pretrained and cfg.epochs:
            captions = captions_for(images.labels, images.class_names, seed)
            tokens = tokenize(captions, spec.context_length)
            log = EpochLogger("[clip-train]", cfg.epochs, [TRAIN_LOSS], run, rows)
            history = train_clip(
                model,
                images.images,
                tokens,
                images.labels,
                cfg.epochs,
                cfg.batch_size,
                cfg.lr,
                seed,
                log,
            )
        save_clip(model, spec, paths.CLIP_DIR)
        summary = {
            "final_train_loss": history[-1][TRAIN_LOSS] if history else None,
            "epochs": len(history),
            "n_images": len(images.labels),
            "n_parameters": sum(p.numel() for p in model.parameters()),
        }
        write_json(paths.CLIP_METRICS, summary)
        run.log_params({"n_parameters": summary["n_parameters"]})
    return summary
