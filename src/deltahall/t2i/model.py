"""The text-to-image model: a UNet2DConditionModel, its noise scheduler, a frozen text encoder
and a codec between images and the space the UNet denoises.

Default profile: a small pixel-space UNet built here (no VAE: 16×16 digits need none),
conditioned on the per-token states of the small CLIP's text tower (outputs/clip), the same
tower the HCDR detector's embedder was trained with. `paper` profile: Stable Diffusion v1.5
loaded by t2i/paper.py: its UNet fine-tuned, its CLIP text encoder and VAE frozen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from deltahall.t2i.config import T2IModelConfig
from deltahall.vision.clip import text_token_states, tokenize


class PixelCodec:
    """Images in [0, 1] <-> the [-1, 1] pixel space the small UNet denoises."""

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return images * 2.0 - 1.0

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return ((latents.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def to(self, device: torch.device, dtype: torch.dtype) -> "PixelCodec":
        return self


class VaeCodec:
    """Stable Diffusion's frozen VAE: images <-> scaled latents (scaling_factor, ≈ 0.18215)."""

    def __init__(self, vae: Any):
        self.vae = vae.requires_grad_(False).eval()
        self.scale = float(vae.config.scaling_factor)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = (images * 2.0 - 1.0).to(self.vae.device, self.vae.dtype)
        return self.vae.encode(x).latent_dist.sample(generator) * self.scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        x = self.vae.decode(latents.to(self.vae.dtype) / self.scale).sample
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def to(self, device: torch.device, dtype: torch.dtype) -> "VaeCodec":
        self.vae.to(device, dtype)
        return self


# Text encoders stay on the CPU in float32: they only ever encode the few distinct captions
# and prompts, once per run, and the small CLIP is also the detector's image embedder.
class OpenClipText:
    """Frozen open_clip text tower: prompts -> (B, L, width) per-token states."""

    def __init__(self, clip_model: Any, context_length: int):
        self.model = clip_model.requires_grad_(False).eval()
        self.context_length = context_length

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        return text_token_states(self.model, tokenize(texts, self.context_length))


class HFClipText:
    """Frozen transformers CLIPTextModel + CLIPTokenizer (Stable Diffusion's text encoder)."""

    def __init__(self, tokenizer: Any, text_model: Any):
        self.tokenizer = tokenizer
        self.model = text_model.requires_grad_(False).eval()

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        # SD pads every prompt to 77 tokens; the text model's positions bound it in any case
        length = min(self.tokenizer.model_max_length, self.model.config.max_position_embeddings)
        ids = self.tokenizer(texts, padding="max_length", truncation=True, return_tensors="pt",
                             max_length=length).input_ids
        return self.model(ids)[0]


@dataclass
class T2IModel:
    unet: Any                               # diffusers UNet2DConditionModel (trained)
    noise_scheduler: Any                    # DDPMScheduler: noising in training, DDIM's config
    text: OpenClipText | HFClipText         # frozen text encoder
    codec: PixelCodec | VaeCodec            # frozen
    latent_channels: int
    latent_size: int


def small_unet(cfg: T2IModelConfig, resolution: int, cross_attention_dim: int):
    """A small UNet2DConditionModel: cross-attention at every level but the deepest, as SD."""
    from diffusers import UNet2DConditionModel

    n = len(cfg.block_out_channels)
    return UNet2DConditionModel(
        sample_size=resolution, in_channels=3, out_channels=3,
        block_out_channels=tuple(cfg.block_out_channels), layers_per_block=cfg.layers_per_block,
        down_block_types=("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1),
        cross_attention_dim=cross_attention_dim, attention_head_dim=cfg.attention_head_dim,
        norm_num_groups=cfg.norm_num_groups)


def build_small_model(cfg: T2IModelConfig, resolution: int, clip_model: Any,
                      context_length: int) -> T2IModel:
    """The default profile's model; call after seeding (the UNet's init draws from torch)."""
    from diffusers import DDPMScheduler

    width = int(clip_model.token_embedding.weight.shape[1])
    # "trailing" spacing: a few DDIM steps still start from pure noise (t = T − 1).
    scheduler = DDPMScheduler(num_train_timesteps=cfg.train_timesteps,
                              beta_schedule=cfg.beta_schedule, timestep_spacing="trailing")
    return T2IModel(small_unet(cfg, resolution, width), scheduler,
                    OpenClipText(clip_model, context_length), PixelCodec(), 3, resolution)


def build_model(cfg: T2IModelConfig, resolution: int, clip_model: Any,
                context_length: int) -> T2IModel:
    if cfg.pretrained:
        from deltahall.t2i.paper import load_stable_diffusion
        return load_stable_diffusion(cfg, resolution)
    return build_small_model(cfg, resolution, clip_model, context_length)


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
