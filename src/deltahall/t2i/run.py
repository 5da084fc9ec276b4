"""One text-to-image run: train the UNet, and at epoch 0 and after every epoch generate, embed
and judge.

`train_t2i_run` is the public entry used by `t2i_pretrain`, `t2i_train` and sweep objectives:
it returns the per-epoch history (t2i/keys.py names the metrics; epoch 0 = the model before
any update: the pretrained base when fine-tuning) and calls `on_epoch(epoch, metrics, samples)`
after each, so callers log, prune or save grids.
Load the context (images, CLIP, registered detector) once with `load_context` and pass it to
many runs: it is the slow, read-only part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.seeding import derive_seed, seed_everything
from deltahall.t2i import keys
from deltahall.t2i.components import T2IModel
from deltahall.t2i.config import T2IConfig, T2ITrainConfig
from deltahall.t2i.data import TrainImages, load_train_images, make_captions
from deltahall.t2i.evaluate import Judge, epoch_metrics, hallucination_flags
from deltahall.t2i.model import build_model
from deltahall.t2i.sample import generate, sample_seeds
from deltahall.t2i.train import (
    Conditioning,
    FixedNoise,
    encode_captions,
    fixed_noise_loss,
    train_epoch,
)
from deltahall.vision.clip import ClipSpec, embed_images, load_clip


@dataclass
class PromptSamples:
    images: np.ndarray  # (K, 3, H, W) in [0, 1]
    flags: np.ndarray  # (K,) True = outside every class's HCDR


EpochCallback = Callable[[int, dict[str, float], dict[str, PromptSamples]], None]


@dataclass
class T2IContext:
    images: TrainImages  # the fitted classes at t2i.resolution
    clip: Any  # open_clip CLIP: its image tower embeds the samples; its text
    spec: ClipSpec  # tower conditions the small UNet (default profile)
    judge: Judge  # embeddings -> outside every class's HCDR
    base_unet: Path | None = None  # the small UNet's pretrained weights (t2i_pretrain)


@dataclass
class T2IResult:
    history: list[dict[str, float]]  # one dict of metrics per epoch, epoch 0 first
    model: T2IModel  # .unet is the fine-tuned, unwrapped UNet


def load_context(params: Params, judge: Judge | None = None, base: bool = True) -> T2IContext:
    """CLIP of `clip_train`, the training images, (unless given) the registered detector and,
    for the small UNet with `base`, the weights `t2i_pretrain` made (fine-tuning starts there)."""
    clip, spec = load_clip(paths.CLIP_DIR)
    images = load_train_images(
        params.images.dataset, paths.DATA, params.images.classes, params.t2i.resolution
    )
    if judge is None:
        from deltahall.t2i.judge import load_judge

        judge = load_judge(params, spec)
    base_unet = None
    if base and not params.t2i.model.pretrained:
        base_unet = paths.T2I_BASE / "unet"
        if not (base_unet / "config.json").exists():
            raise FileNotFoundError(f"{base_unet} missing: run the t2i_pretrain stage first")
    return T2IContext(images, clip, spec, judge, base_unet)


@dataclass
class _Setup:
    """Everything one run trains and samples with, built once per seed."""

    model: T2IModel
    accelerator: Any
    unet: Any  # model.unet as prepared by accelerate
    optimizer: Any
    cond: Conditioning  # text states of the training captions
    prompts: dict[str, torch.Tensor]  # text states of each evaluation prompt
    empty: torch.Tensor  # text states of "" (classifier-free guidance)
    probe: FixedNoise


def _setup(cfg: T2IConfig, train: T2ITrainConfig, context: T2IContext, seed: int) -> _Setup:
    from accelerate import Accelerator

    seed_everything(derive_seed("t2i", seed))  # the small UNet's initial weights
    model = build_model(cfg.model, cfg.resolution, context.clip, context.spec.context_length)
    if context.base_unet is not None:
        load_unet_weights(model.unet, context.base_unet)
    accelerator = Accelerator(
        mixed_precision=train.mixed_precision, cpu=not torch.cuda.is_available()
    )
    frozen_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
        train.mixed_precision, torch.float32
    )
    model.codec.to(accelerator.device, frozen_dtype)
    optimizer = torch.optim.AdamW(
        model.unet.parameters(), lr=train.lr, weight_decay=train.weight_decay
    )
    unet, optimizer = accelerator.prepare(model.unet, optimizer)
    images = context.images
    captions = make_captions(
        images.labels, images.class_names, cfg.caption_templates, derive_seed("t2i-captions", seed)
    )
    rows = np.random.default_rng(derive_seed("t2i-probe", seed)).permutation(len(images))
    probe = FixedNoise(
        np.sort(rows[: train.fixed_noise_images]), derive_seed("t2i-probe-noise", seed)
    )
    return _Setup(
        model,
        accelerator,
        unet,
        optimizer,
        encode_captions(model, captions, accelerator.device),
        {p.name: model.text([p.text]) for p in cfg.prompts},
        model.text([""]),
        probe,
    )


def _generate_all(cfg: T2IConfig, s: _Setup, seed: int) -> dict[str, np.ndarray]:
    """K images per prompt, from the same per-image seeds every epoch."""
    with s.accelerator.autocast():
        return {
            p.name: generate(
                s.model,
                s.unet,
                s.prompts[p.name],
                s.empty,
                sample_seeds(seed, p.name, cfg.sample.k),
                cfg.sample.steps,
                cfg.sample.guidance_scale,
                cfg.sample.eta,
                s.accelerator.device,
            )
            for p in cfg.prompts
        }


def train_t2i_run(
    cfg: T2IConfig,
    seed: int,
    context: T2IContext,
    on_epoch: EpochCallback | None = None,
    train: T2ITrainConfig | None = None,
) -> T2IResult:
    """Train one model from `seed` with `cfg` (`train`: the schedule, default cfg.train; the
    start: context.base_unet, else a fresh UNet); judge it with `context.judge` at epoch 0
    and after every epoch."""
    train = cfg.train if train is None else train
    torch.set_num_threads(train.torch_threads)
    s = _setup(cfg, train, context, seed)
    batches = torch.Generator().manual_seed(derive_seed("t2i-batches", seed))
    history: list[dict[str, float]] = []
    for epoch in range(0, train.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(
            s.model,
            s.unet,
            s.accelerator,
            s.optimizer if epoch > 0 else None,
            context.images,
            s.cond,
            train.batch_size,
            batches,
        )
        fixed = fixed_noise_loss(
            s.model, s.unet, s.accelerator, context.images, s.cond, s.probe, train.batch_size
        )
        images = _generate_all(cfg, s, seed)
        embeddings = {name: embed_images(context.clip, imgs) for name, imgs in images.items()}
        metrics = {
            keys.TRAIN_LOSS: loss,
            keys.FIXED_NOISE_LOSS: fixed,
            **epoch_metrics(
                context.judge,
                embeddings,
                cfg.eval.n_boot,
                cfg.eval.level,
                derive_seed("t2i-eval", seed, epoch),
            ),
            keys.EPOCH_TIME: time.perf_counter() - start,
        }
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(
                epoch,
                metrics,
                {
                    name: PromptSamples(imgs, hallucination_flags(context.judge, embeddings[name]))
                    for name, imgs in images.items()
                },
            )
    s.model.unet = s.accelerator.unwrap_model(s.unet)
    return T2IResult(history, s.model)


def load_unet_weights(unet, folder: Path) -> None:
    """The small UNet's weights from a diffusers folder (save_pretrained); a UNet of another
    configuration is refused with the folder named."""
    from safetensors.torch import load_file

    weights = folder / "diffusion_pytorch_model.safetensors"
    try:
        unet.load_state_dict(load_file(str(weights)))
    except RuntimeError as err:
        raise ValueError(
            f"{weights}: the pretrained base does not fit t2i.model (rerun t2i_pretrain): "
            f"{str(err).splitlines()[0]}"
        ) from None
