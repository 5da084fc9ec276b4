"""The text-to-image model: a UNet2DConditionModel, its noise scheduler, a frozen text encoder
and a codec between images and the space the UNet denoises (t2i/components.py).

Default profile: a small pixel-space UNet built here (no VAE: 8×8 digits need none),
conditioned on the per-token states of the small CLIP's text tower (outputs/clip), the same
tower the HCDR detector's embedder was trained with. `paper` profile: Stable Diffusion v1.5
loaded by t2i/paper.py: its UNet fine-tuned, its CLIP text encoder and VAE frozen.
"""

from __future__ import annotations

from typing import Any

import torch

from deltahall.t2i.components import OpenClipText, PixelCodec, T2IModel
from deltahall.t2i.config import T2IModelConfig


def small_unet(cfg: T2IModelConfig, resolution: int, cross_attention_dim: int):
    """A small UNet2DConditionModel: cross-attention at every level but the deepest, as SD."""
    from diffusers import UNet2DConditionModel

    n = len(cfg.block_out_channels)
    channels = 1 if cfg.grey else 3
    return UNet2DConditionModel(
        sample_size=resolution,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=tuple(cfg.block_out_channels),
        layers_per_block=cfg.layers_per_block,
        down_block_types=("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=cfg.attention_head_dim,
        norm_num_groups=cfg.norm_num_groups,
    )


def build_small_model(
    cfg: T2IModelConfig, resolution: int, clip_model: Any, context_length: int
) -> T2IModel:
    """The default profile's model; call after seeding (the UNet's init draws from torch)."""
    from diffusers import DDPMScheduler

    width = int(clip_model.token_embedding.weight.shape[1])
    # "trailing" spacing: a few DDIM steps still start from pure noise (t = T − 1).
    scheduler = DDPMScheduler(
        num_train_timesteps=cfg.train_timesteps,
        beta_schedule=cfg.beta_schedule,
        timestep_spacing="trailing",
    )
    return T2IModel(
        small_unet(cfg, resolution, width),
        scheduler,
        OpenClipText(clip_model, context_length),
        PixelCodec(cfg.grey),
        1 if cfg.grey else 3,
        resolution,
    )


def build_model(
    cfg: T2IModelConfig, resolution: int, clip_model: Any, context_length: int
) -> T2IModel:
    if cfg.pretrained:
        from deltahall.t2i.paper import load_stable_diffusion

        return load_stable_diffusion(cfg, resolution)
    return build_small_model(cfg, resolution, clip_model, context_length)


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
