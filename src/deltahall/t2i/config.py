"""Typed params of the text-to-image experiment (paper §6.3): the `t2i:` section."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from deltahall.strict import Strict


class PromptConfig(Strict):
    # `name` becomes part of metric names (val/hall_rate/<name>): a short identifier.
    name: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _identifier(self) -> PromptConfig:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"prompt name {self.name!r} must match [a-z][a-z0-9_]*")
        return self


class T2IModelConfig(Strict):
    # "" = a small pixel-space UNet2DConditionModel built here, conditioned on the small CLIP's
    # text tower (outputs/clip); else a Stable Diffusion folder or hub id (paper:
    # stable-diffusion-v1-5/stable-diffusion-v1-5) whose UNet is fine-tuned, text encoder and
    # VAE frozen.
    pretrained: str
    revision: str  # hub revision of `pretrained`; "" = default branch
    local_files_only: bool  # never download unless a profile says so
    # The small UNet (ignored when `pretrained` is set). grey: it denoises one channel,
    # decoded to RGB as real grey images are (digits); else three.
    grey: bool
    block_out_channels: list[int] = Field(min_length=1, max_length=4)
    layers_per_block: int = Field(ge=1, le=4)
    attention_head_dim: int = Field(ge=1, le=256)
    norm_num_groups: int = Field(ge=1, le=64)
    train_timesteps: int = Field(ge=10, le=10_000)
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"]

    @model_validator(mode="after")
    def _groups_divide_channels(self) -> T2IModelConfig:
        for ch in self.block_out_channels:
            if ch % self.norm_num_groups or ch % self.attention_head_dim:
                raise ValueError(
                    f"block_out_channels entry {ch} must be divisible by "
                    f"norm_num_groups ({self.norm_num_groups}) and "
                    f"attention_head_dim ({self.attention_head_dim})"
                )
        return self


class T2ITrainConfig(Strict):
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=100_000)
    lr: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(ge=0.0, le=1.0)
    # accelerate's setting: "fp16"/"bf16" need a GPU (paper profile).
    mixed_precision: Literal["no", "fp16", "bf16"]
    # Images of a fixed subset scored with fixed noise and timesteps every epoch: a
    # low-variance loss curve beside the per-batch mean (`train/loss`).
    fixed_noise_images: int = Field(ge=1, le=100_000)
    # 1: small tensors gain nothing from a second thread, which stalls when cores are shared
    torch_threads: int = Field(ge=1, le=256)


class T2ISampleConfig(Strict):
    k: int = Field(ge=2, le=10_000)  # images per prompt per epoch
    steps: int = Field(ge=1, le=1000)  # DDIM steps
    guidance_scale: float = Field(ge=1.0, le=50.0)  # 1 = no classifier-free guidance
    eta: float = Field(ge=0.0, le=1.0)  # 0 = deterministic DDIM


class T2IEvalConfig(Strict):
    n_boot: int = Field(ge=10, le=100_000)
    level: float = Field(gt=0.0, lt=1.0)


class T2IConfig(Strict):
    seeds: list[int] = Field(min_length=1)
    processes: int = Field(ge=1, le=256)  # t2i_train's seeds side by side, train.torch_threads each
    # Side of the images trained on and generated (digits are 8×8 natively; paper: 512).
    resolution: int = Field(ge=8, le=1024)
    caption_templates: list[str] = Field(min_length=1)
    prompts: list[PromptConfig] = Field(min_length=1)
    detector_alias: str = Field(min_length=1)  # models:/<name>@<alias>
    model: T2IModelConfig
    # t2i_pretrain: the small UNet trained on every class of the dataset before `train`
    # fine-tunes it on images.classes, as SD is pretrained before §6.3 (unused when
    # model.pretrained names a pretrained UNet).
    pretrain: T2ITrainConfig
    pretrain_seed: int  # the base's one training seed (t2i.seeds are the fine-tuning runs')
    train: T2ITrainConfig
    sample: T2ISampleConfig
    eval: T2IEvalConfig

    @model_validator(mode="after")
    def _consistent(self) -> T2IConfig:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must not repeat values")
        names = [p.name for p in self.prompts]
        if len(set(names)) != len(names):
            raise ValueError(f"prompt names must not repeat (got {names})")
        if any("{}" not in t for t in self.caption_templates):
            raise ValueError("every caption template needs one {} for the class name")
        if not self.model.pretrained and self.resolution % 2 ** (
            len(self.model.block_out_channels) - 1
        ):
            raise ValueError(
                f"resolution ({self.resolution}) must be divisible by "
                f"2^(len(block_out_channels) - 1)"
            )
        return self
