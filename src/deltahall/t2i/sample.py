"""Sampling K images per prompt with DDIM, each image from its own fixed seed.

The initial noise of image j of a prompt comes from derive_seed(...) of (run seed, prompt, j)
and is drawn on the CPU, so every epoch sees the same starting noise: what changes between
epochs is the model, not the draw. η = 0 makes DDIM deterministic given that noise.
"""

from __future__ import annotations

import numpy as np
import torch

from deltahall.seeding import derive_seed
from deltahall.t2i.components import T2IModel


def sample_seeds(run_seed: int, prompt_name: str, k: int) -> list[int]:
    return [derive_seed("t2i-sample", run_seed, prompt_name, j) for j in range(k)]


def initial_noise(seeds: list[int], shape: tuple[int, ...]) -> torch.Tensor:
    return torch.stack(
        [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds]
    )


@torch.no_grad()
def generate(
    model: T2IModel,
    unet,
    prompt_states: torch.Tensor,
    empty_states: torch.Tensor,
    seeds: list[int],
    steps: int,
    guidance_scale: float = 1.0,
    eta: float = 0.0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(k, 3, H, W) images in [0, 1] for one prompt's (1, L, C) text states.

    guidance_scale > 1 adds classifier-free guidance against the empty prompt's states
    (Stable Diffusion's sampling); 1 uses the conditional prediction alone. Mixed precision:
    call inside accelerator.autocast() (the UNet's weights stay float32).
    """
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(model.noise_scheduler.config)
    scheduler.set_timesteps(steps)
    shape = (model.latent_channels, model.latent_size, model.latent_size)
    latents = (initial_noise(seeds, shape) * scheduler.init_noise_sigma).to(device)
    k = len(seeds)
    cond = prompt_states.to(device).expand(k, -1, -1)
    guided = guidance_scale > 1.0
    if guided:
        cond = torch.cat([empty_states.to(device).expand(k, -1, -1), cond])
    eta_noise = torch.Generator().manual_seed(seeds[0])  # only drawn from when eta > 0
    unet.eval()
    for t in scheduler.timesteps:
        x = scheduler.scale_model_input(torch.cat([latents] * 2) if guided else latents, t)
        pred = unet(x, t, encoder_hidden_states=cond).sample.float()
        if guided:
            uncond, text = pred.chunk(2)
            pred = uncond + guidance_scale * (text - uncond)
        variance = torch.randn(latents.shape, generator=eta_noise).to(device) if eta else None
        latents = scheduler.step(pred, t, latents, eta=eta, variance_noise=variance).prev_sample
    return model.codec.decode(latents).cpu().numpy().astype(np.float32)
