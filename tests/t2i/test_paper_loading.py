"""The paper profile's loading and training code on a tiny model in Stable Diffusion's layout.

Nothing can be downloaded here, so a tiny UNet, VAE, CLIP text encoder, tokenizer and
scheduler are saved to the folder layout of stable-diffusion-v1-5 and loaded through
t2i/paper.py with local_files_only — the same calls the paper profile makes on the hub id.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deltahall.t2i.components import HFClipText, VaeCodec
from deltahall.t2i.config import T2IConfig, T2IModelConfig
from deltahall.t2i.data import TrainImages
from deltahall.t2i.paper import load_stable_diffusion
from deltahall.t2i.run import T2IContext, train_t2i_run
from deltahall.vision.clip import ClipSpec, build_clip

from params_helpers import section_with

VOCAB = [
    "l",
    "o",
    "w",
    "e",
    "r",
    "s",
    "t",
    "i",
    "d",
    "n",
    "a",
    "c",
    "g",
    "lo",
    "l</w>",
    "w</w>",
    "r</w>",
    "t</w>",
    "low</w>",
    "er</w>",
    "<unk>",
    "<|startoftext|>",
    "<|endoftext|>",
]


def _save_tiny_sd(root: Path) -> Path:
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=8,
        norm_num_groups=8,
    ).save_pretrained(root / "unet")
    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        norm_num_groups=4,
        up_block_types=("UpDecoderBlock2D",) * 2,
        sample_size=16,
    ).save_pretrained(root / "vae")
    CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(VOCAB),
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=1,
            max_position_embeddings=77,
            bos_token_id=21,
            eos_token_id=22,
            pad_token_id=22,
        )
    ).save_pretrained(root / "text_encoder")
    (root / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}))
    (root / "merges.txt").write_text("#version: 0.2\nl o\nlo w</w>\ne r</w>\n")
    CLIPTokenizer(
        str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=77
    ).save_pretrained(root / "tokenizer")
    # Stable Diffusion's scheduler config: scaled-linear betas, no sample clipping
    DDPMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        steps_offset=1,
    ).save_pretrained(root / "scheduler")
    return root


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny_sd(tmp_path_factory.mktemp("sd"))


def _sd_model(folder: str) -> T2IModelConfig:
    return T2IModelConfig.model_validate(
        section_with("t2i", {"model": {"pretrained": folder}})["model"]
    )


def test_loads_the_sd_layout_offline_with_a_frozen_text_encoder_and_vae(sd_folder: Path):
    model = load_stable_diffusion(_sd_model(str(sd_folder)), resolution=16)
    assert isinstance(model.text, HFClipText) and isinstance(model.codec, VaeCodec)
    assert (model.latent_channels, model.latent_size) == (4, 8)  # VAE halves 16 px here
    assert model.noise_scheduler.config.beta_schedule == "scaled_linear"
    states = model.text(["a cat", "a dog"])
    assert states.shape == (2, 77, 16)
    assert not any(p.requires_grad for p in model.text.model.parameters())
    assert not any(p.requires_grad for p in model.codec.vae.parameters())
    with pytest.raises(ValueError, match="divisible by the VAE's downsampling factor 2"):
        load_stable_diffusion(_sd_model(str(sd_folder)), resolution=15)


def test_missing_folder_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="t2i.model.pretrained = .*nowhere"):
        load_stable_diffusion(_sd_model(str(tmp_path / "nowhere")), 16)


def test_paper_path_trains_only_the_unet_and_samples_with_guidance(sd_folder: Path):
    cfg = T2IConfig.model_validate(
        section_with(
            "t2i",
            {
                "seeds": [0],
                "resolution": 16,
                "caption_templates": ["a {}"],
                "prompts": [{"name": "cat", "text": "a cat"}, {"name": "mixed", "text": "a pet"}],
                "model": {"pretrained": str(sd_folder)},
                "train": {"epochs": 2, "batch_size": 4, "lr": 0.001, "fixed_noise_images": 4},
                "sample": {"k": 2, "steps": 2, "guidance_scale": 7.5},
                "eval": {"n_boot": 20},
            },
        )
    )
    spec = ClipSpec(
        embed_dim=8,
        width=16,
        heads=2,
        vision_layers=1,
        text_layers=1,
        patch_size=4,
        image_size=8,
        context_length=8,
    )
    rng = np.random.default_rng(0)
    images = TrainImages(
        np.array([0, 0, 1, 1, 0, 1]),
        ("cat", "dog"),
        pixels=rng.random((6, 3, 16, 16), dtype=np.float32),
        resolution=16,
    )
    context = T2IContext(images, build_clip(spec), spec, lambda e: e[:, 0] > 0)
    before = load_stable_diffusion(cfg.model, 16)
    grids = []
    result = train_t2i_run(
        cfg, 0, context, on_epoch=lambda e, m, s: grids.append(s["cat"].images.shape)
    )
    assert grids == [(2, 3, 16, 16)] * 3  # epoch 0 (the pretrained UNet as loaded), 1, 2
    assert [
        set(h) >= {"train/loss", "val/hall_rate", "val/mean_hall/mixed"} for h in result.history
    ] == [True] * 3
    changed = lambda a, b: any(
        not torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters())
    )
    assert changed(result.model.unet, before.unet)  # the UNet was trained
    assert not changed(result.model.codec.vae, before.codec.vae)  # the VAE was not
    assert not changed(result.model.text.model, before.text.model)  # nor the text encoder


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_paper_path_in_fp16_on_a_gpu(sd_folder: Path):
    """The paper profile's accelerate setting: fp16 autocast, frozen VAE in fp16, on CUDA."""
    cfg = T2IConfig.model_validate(
        section_with(
            "t2i",
            {
                "seeds": [0],
                "resolution": 16,
                "caption_templates": ["a {}"],
                "prompts": [{"name": "cat", "text": "a cat"}],
                "model": {"pretrained": str(sd_folder)},
                "train": {
                    "epochs": 1,
                    "batch_size": 2,
                    "mixed_precision": "fp16",
                    "fixed_noise_images": 2,
                },
                "sample": {"k": 2, "steps": 2, "guidance_scale": 7.5},
                "eval": {"n_boot": 20},
            },
        )
    )
    spec = ClipSpec(
        embed_dim=8,
        width=16,
        heads=2,
        vision_layers=1,
        text_layers=1,
        patch_size=4,
        image_size=8,
        context_length=8,
    )
    images = TrainImages(
        np.array([0, 1, 0, 1]),
        ("cat", "dog"),
        pixels=np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32),
        resolution=16,
    )
    result = train_t2i_run(
        cfg, 0, T2IContext(images, build_clip(spec), spec, lambda e: e[:, 0] > 0)
    )
    assert np.isfinite(result.history[0]["train/loss"])
    assert result.model.codec.vae.dtype == torch.float16
    assert next(result.model.unet.parameters()).device.type == "cuda"
