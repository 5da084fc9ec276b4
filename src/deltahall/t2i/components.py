"""The frozen parts of a text-to-image model and the model record itself: codecs between images
and the space the UNet denoises, text encoders, and `T2IModel`. Both builders (model.py for
the small UNet, paper.py for Stable Diffusion) assemble a `T2IModel` from these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from deltahall.vision.clip import text_token_states, tokenize


class PixelCodec:
    """Images in [0, 1] <-> the [-1, 1] pixel space the small UNet denoises. `grey`: one
    channel is denoised (the RGB mean) and decoded by repeating it to RGB, exactly as real
    grey images are made RGB (vision/images.py:upsample), so no colour noise sets them apart."""

    def __init__(self, grey: bool = False):
        self.grey = grey
        self.channels = 1 if grey else 3

    def encode(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        pixels = images.mean(dim=1, keepdim=True) if self.grey else images
        return pixels * 2.0 - 1.0

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        images = ((latents.float() + 1.0) / 2.0).clamp(0.0, 1.0)
        return images.repeat(1, 3, 1, 1) if self.grey else images

    def to(self, device: torch.device, dtype: torch.dtype) -> PixelCodec:
        return self


class VaeCodec:
    """Stable Diffusion's frozen VAE: images <-> scaled latents (scaling_factor, ≈ 0.18215)."""

    def __init__(self, vae: Any):
        self.vae = vae.requires_grad_(False).eval()
        self.scale = float(vae.config.scaling_factor)

    @torch.no_grad()
    def encode(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        x = (images * 2.0 - 1.0).to(self.vae.device, self.vae.dtype)
        return self.vae.encode(x).latent_dist.sample(generator) * self.scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        x = self.vae.decode(latents.to(self.vae.dtype) / self.scale).sample
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def to(self, device: torch.device, dtype: torch.dtype) -> VaeCodec:
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
        ids = self.tokenizer(
            texts, padding="max_length", truncation=True, return_tensors="pt", max_length=length
        ).input_ids
        return self.model(ids)[0]


@dataclass
class T2IModel:
    unet: Any  # diffusers UNet2DConditionModel (trained)
    noise_scheduler: Any  # DDPMScheduler: noising in training, DDIM's config
    text: OpenClipText | HFClipText  # frozen text encoder
    codec: PixelCodec | VaeCodec  # frozen
    latent_channels: int
    latent_size: int
