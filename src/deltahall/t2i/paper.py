"""The `paper` profile's model: Stable Diffusion v1.5 in its usual folder layout.

`t2i.model.pretrained` is a hub id (paper: stable-diffusion-v1-5/stable-diffusion-v1-5) or a
local folder with the subfolders unet/, vae/, text_encoder/, tokenizer/ and scheduler/. Only
the UNet is trained; the CLIP text encoder and the VAE are frozen (paper §6.3). With
`local_files_only` nothing is downloaded (the hub cache or the folder must hold the files).
Tested with a tiny model saved in this layout (tests/t2i/test_paper_loading.py).
"""

from __future__ import annotations

from deltahall.t2i.components import HFClipText, T2IModel, VaeCodec
from deltahall.t2i.config import T2IModelConfig

SUBFOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def load_stable_diffusion(cfg: T2IModelConfig, resolution: int) -> T2IModel:
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    where = {"revision": cfg.revision or None, "local_files_only": cfg.local_files_only}
    try:
        unet = UNet2DConditionModel.from_pretrained(cfg.pretrained, subfolder="unet", **where)
        vae = AutoencoderKL.from_pretrained(cfg.pretrained, subfolder="vae", **where)
        text_model = CLIPTextModel.from_pretrained(
            cfg.pretrained, subfolder="text_encoder", **where
        )
        tokenizer = CLIPTokenizer.from_pretrained(cfg.pretrained, subfolder="tokenizer", **where)
        # DDPM noising for training, as the diffusers fine-tuning recipe; DDIM samples with
        # the same betas (t2i/sample.py builds it from this config).
        scheduler = DDPMScheduler.from_pretrained(cfg.pretrained, subfolder="scheduler", **where)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"t2i.model.pretrained = {cfg.pretrained!r}: cannot load the Stable Diffusion "
            f"folder layout ({'/, '.join(SUBFOLDERS)}/) with local_files_only="
            f"{cfg.local_files_only}: {err}"
        ) from None
    factor = 2 ** (len(vae.config.block_out_channels) - 1)  # 8 for SD: 512 px -> 64 latents
    if resolution % factor:
        raise ValueError(
            f"t2i.resolution ({resolution}) must be divisible by the VAE's "
            f"downsampling factor {factor}"
        )
    return T2IModel(
        unet,
        scheduler,
        HFClipText(tokenizer, text_model),
        VaeCodec(vae),
        int(unet.config.in_channels),
        resolution // factor,
    )
