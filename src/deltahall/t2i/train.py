"""Fine-tuning the UNet with the ε-prediction loss; text encoder and codec stay frozen.

`accelerate` places the UNet and the optimiser (CPU here, a GPU with mixed precision in the
paper profile). Every random draw (batch order, timesteps, noise) comes from one CPU
generator seeded by the caller, so the same seed gives the same losses on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deltahall.t2i.components import T2IModel
from deltahall.t2i.data import TrainImages


@dataclass
class Conditioning:
    """Text states of the distinct captions (computed once: the encoder is frozen)."""

    states: torch.Tensor  # (U, L, C) on the training device
    index: torch.Tensor  # (n,) caption of each training image, into states


def encode_captions(model: T2IModel, captions: list[str], device: torch.device) -> Conditioning:
    unique = sorted(set(captions))
    states = model.text(unique).float().to(device)
    position = {c: i for i, c in enumerate(unique)}
    return Conditioning(states, torch.tensor([position[c] for c in captions]))


def diffusion_loss(
    model: T2IModel,
    unet,
    latents: torch.Tensor,
    states: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
) -> torch.Tensor:
    """MSE between the UNet's prediction and its target (ε, or v for v-prediction models)."""
    sched = model.noise_scheduler
    noisy = sched.add_noise(latents, noise, timesteps)
    pred = unet(noisy, timesteps, encoder_hidden_states=states).sample
    target = (
        noise
        if sched.config.prediction_type == "epsilon"
        else sched.get_velocity(latents, noise, timesteps)
    )
    return F.mse_loss(pred.float(), target.float())


def _draw(
    model: T2IModel,
    images: TrainImages,
    rows: np.ndarray,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latents of the rows, plus noise and timesteps drawn from the seeded CPU generator."""
    pixels = torch.as_tensor(images.load(rows), dtype=torch.float32)
    latents = model.codec.encode(pixels.to(device), generator=generator).float()
    noise = torch.randn(latents.shape, generator=generator).to(device)
    steps = torch.randint(
        0, model.noise_scheduler.config.num_train_timesteps, (len(rows),), generator=generator
    ).to(device)
    return latents, noise, steps


def train_epoch(
    model: T2IModel,
    unet,
    accelerator,
    optimizer,
    images: TrainImages,
    cond: Conditioning,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over the images in a seeded order; returns the mean per-image loss.
    `optimizer=None`: the same pass without updates (epoch 0, the model as it starts)."""
    unet.train(optimizer is not None)
    total, seen = 0.0, 0
    for idx in torch.randperm(len(images), generator=generator).split(batch_size):
        rows = idx.numpy()
        latents, noise, steps = _draw(model, images, rows, generator, accelerator.device)
        with accelerator.autocast(), torch.set_grad_enabled(optimizer is not None):
            loss = diffusion_loss(model, unet, latents, cond.states[cond.index[idx]], noise, steps)
        if optimizer is not None:
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        total, seen = total + loss.item() * len(rows), seen + len(rows)
    return total / seen


@dataclass
class FixedNoise:
    """A fixed subset of images with fixed noise and timesteps: a low-variance loss probe."""

    rows: np.ndarray
    seed: int


@torch.no_grad()
def fixed_noise_loss(
    model: T2IModel,
    unet,
    accelerator,
    images: TrainImages,
    cond: Conditioning,
    probe: FixedNoise,
    batch_size: int,
) -> float:
    """The same (image, t, ε) triples every epoch, so epoch-to-epoch changes are the model's."""
    unet.eval()
    generator = torch.Generator().manual_seed(probe.seed)
    total = 0.0
    for chunk in np.array_split(probe.rows, max(1, -(-len(probe.rows) // batch_size))):
        latents, noise, steps = _draw(model, images, chunk, generator, accelerator.device)
        with accelerator.autocast():
            loss = diffusion_loss(
                model, unet, latents, cond.states[cond.index[chunk]], noise, steps
            )
        total += loss.item() * len(chunk)
    return total / len(probe.rows)
