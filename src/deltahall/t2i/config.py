"""Typed params of the text-to-image experiment (issue #4, paper §6.3): the `t2i:` section."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from deltahall.strict import Strict

# The caption templates the small CLIP was trained on (vision/images.py): its text tower has
# only seen these, so the UNet is conditioned on the same strings.
DIGIT_TEMPLATES = ["a photo of the digit {}", "a handwritten {}", "the number {} written by hand"]


class PromptConfig(Strict):
    # `name` becomes part of metric names (val/hall_rate/<name>): a short identifier.
    name: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _identifier(self) -> "PromptConfig":
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"prompt name {self.name!r} must match [a-z][a-z0-9_]*")
        return self


def _digit_prompts() -> list[PromptConfig]:
    # Paper §6.3.1: one prompt per class, in the caption style but not a training caption
    # ("a realistic photo of a friendly dog", "a fluffy cat sitting on a sofa"), and one mixed
    # prompt that names no class ("a cute pet animal").
    return [PromptConfig(name="zero", text="a clear photo of the digit zero"),
            PromptConfig(name="one", text="the number one written by hand"),
            PromptConfig(name="mixed", text="a handwritten digit")]


class T2IModelConfig(Strict):
    # "" = a small pixel-space UNet2DConditionModel built here, conditioned on the small CLIP's
    # text tower (outputs/clip); else a Stable Diffusion folder or hub id (paper:
    # stable-diffusion-v1-5/stable-diffusion-v1-5) whose UNet is fine-tuned, text encoder and
    # VAE frozen.
    pretrained: str = ""
    revision: str = ""                  # hub revision of `pretrained`; "" = default branch
    local_files_only: bool = True       # never download unless a profile says so
    # The small UNet (ignored when `pretrained` is set).
    block_out_channels: list[int] = Field(default_factory=lambda: [32, 64], min_length=1,
                                          max_length=4)
    layers_per_block: int = Field(1, ge=1, le=4)
    attention_head_dim: int = Field(8, ge=1, le=256)
    norm_num_groups: int = Field(8, ge=1, le=64)
    train_timesteps: int = Field(1000, ge=10, le=10_000)
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "squaredcos_cap_v2"

    @model_validator(mode="after")
    def _groups_divide_channels(self) -> "T2IModelConfig":
        for ch in self.block_out_channels:
            if ch % self.norm_num_groups or ch % self.attention_head_dim:
                raise ValueError(f"block_out_channels entry {ch} must be divisible by "
                                 f"norm_num_groups ({self.norm_num_groups}) and "
                                 f"attention_head_dim ({self.attention_head_dim})")
        return self


class T2ITrainConfig(Strict):
    epochs: int = Field(8, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=100_000)
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    # accelerate's setting: "fp16"/"bf16" need a GPU (paper profile).
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    # Images of a fixed subset scored with fixed noise and timesteps every epoch: a
    # low-variance loss curve beside the per-batch mean (`train/loss`).
    fixed_noise_images: int = Field(128, ge=1, le=100_000)
    # 1: small tensors gain nothing from a second thread, which stalls when cores are shared
    torch_threads: int = Field(1, ge=1, le=256)


class T2ISampleConfig(Strict):
    k: int = Field(8, ge=2, le=10_000)              # images per prompt per epoch
    steps: int = Field(10, ge=1, le=1000)           # DDIM steps
    guidance_scale: float = Field(1.0, ge=1.0, le=50.0)  # 1 = no classifier-free guidance
    eta: float = Field(0.0, ge=0.0, le=1.0)         # 0 = deterministic DDIM


class T2IEvalConfig(Strict):
    n_boot: int = Field(1000, ge=10, le=100_000)
    level: float = Field(0.95, gt=0.0, lt=1.0)


class T2IConfig(Strict):
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    # Side of the images trained on and generated (digits are 8×8 natively; paper: 512).
    resolution: int = Field(16, ge=8, le=1024)
    caption_templates: list[str] = Field(default_factory=lambda: list(DIGIT_TEMPLATES),
                                         min_length=1)
    prompts: list[PromptConfig] = Field(default_factory=_digit_prompts, min_length=1)
    detector_alias: str = Field("champion", min_length=1)   # models:/<name>@<alias>
    model: T2IModelConfig = T2IModelConfig()
    train: T2ITrainConfig = T2ITrainConfig()
    sample: T2ISampleConfig = T2ISampleConfig()
    eval: T2IEvalConfig = T2IEvalConfig()

    @model_validator(mode="after")
    def _consistent(self) -> "T2IConfig":
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must not repeat values")
        names = [p.name for p in self.prompts]
        if len(set(names)) != len(names):
            raise ValueError(f"prompt names must not repeat (got {names})")
        if any("{}" not in t for t in self.caption_templates):
            raise ValueError("every caption template needs one {} for the class name")
        if not self.model.pretrained and self.resolution % 2 ** (len(self.model.block_out_channels) - 1):
            raise ValueError(f"resolution ({self.resolution}) must be divisible by "
                             f"2^(len(block_out_channels) - 1)")
        return self
