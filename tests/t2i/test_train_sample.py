"""The small model: seeded training that lowers the loss, fixed-seed DDIM sampling, CFG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deltahall.t2i.config import T2IConfig
from deltahall.t2i.data import TrainImages
from deltahall.t2i.model import build_small_model
from deltahall.t2i.run import T2IContext, train_t2i_run
from deltahall.t2i.sample import generate, sample_seeds
from deltahall.vision.clip import ClipSpec, build_clip

from params_helpers import section_with

SPEC = ClipSpec(
    embed_dim=16,
    width=16,
    heads=2,
    vision_layers=1,
    text_layers=1,
    patch_size=4,
    image_size=8,
    context_length=8,
)
CFG = {
    "seeds": [0],
    "resolution": 8,
    "caption_templates": ["a {}"],
    "prompts": [{"name": "bright", "text": "a bright"}, {"name": "any", "text": "a"}],
    "model": {"block_out_channels": [16, 32]},
    "train": {"epochs": 3, "batch_size": 8, "lr": 0.005, "fixed_noise_images": 16},
    "sample": {"k": 3, "steps": 3},
    "eval": {"n_boot": 20},
}


@pytest.fixture(scope="module")
def context() -> T2IContext:
    torch.manual_seed(0)
    clip = build_clip(SPEC)
    # Two classes: a bright square on black, and a dark square on white.
    pixels = np.zeros((24, 3, 8, 8), np.float32)
    pixels[:12, :, 2:6, 2:6] = 1.0
    pixels[12:] = 1.0
    pixels[12:, :, 2:6, 2:6] = 0.0
    images = TrainImages(np.repeat([0, 1], 12), ("bright", "dark"), pixels=pixels, resolution=8)
    # A judge: outside iff the embedding's first coordinate is negative (any fixed rule works).
    return T2IContext(images, clip, SPEC, lambda emb: emb[:, 0] < 0)


def _run(context: T2IContext, seed: int, **train) -> list[dict]:
    cfg = T2IConfig.model_validate(section_with("t2i", {**CFG, "train": {**CFG["train"], **train}}))
    seen = []
    result = train_t2i_run(
        cfg, seed, context, on_epoch=lambda e, m, s: seen.append((e, sorted(s), s["any"].images))
    )
    assert [e for e, _, _ in seen] == [0, 1, 2, 3][: cfg.train.epochs + 1]  # 0: untrained
    assert all(names == ["any", "bright"] for _, names, _ in seen)
    assert (
        seen[-1][2].shape == (3, 3, 8, 8) and 0.0 <= seen[-1][2].min() <= seen[-1][2].max() <= 1.0
    )
    return result.history


def _untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "time/epoch_s"} for h in history]


def test_same_seed_same_numbers_and_the_loss_falls(context: T2IContext):
    first = _run(context, seed=0)
    assert _untimed(first) == _untimed(_run(context, seed=0))
    other = _run(context, seed=1)
    assert other[0]["train/loss"] != first[0]["train/loss"]
    losses = [h["train/loss_fixed_noise"] for h in first]
    assert losses[-1] < losses[0]  # the same (image, t, noise) triples score better
    for h in first:
        assert 0.0 <= h["val/hall_rate"] <= 1.0 and "val/mean_hall/bright_high" in h


def test_fixed_seeds_give_the_same_images_and_guidance_changes_them(context: T2IContext):
    torch.manual_seed(0)
    model = build_small_model(
        T2IConfig.model_validate(section_with("t2i", CFG)).model, 8, context.clip, 8
    )
    cond, empty = model.text(["a bright"]), model.text([""])
    seeds = sample_seeds(0, "bright", 4)
    assert seeds == sample_seeds(0, "bright", 4) and seeds != sample_seeds(0, "any", 4)
    a = generate(model, model.unet, cond, empty, seeds, steps=3)
    assert a.shape == (4, 3, 8, 8)
    np.testing.assert_array_equal(a, generate(model, model.unet, cond, empty, seeds, steps=3))
    assert not np.allclose(a[0], a[1])  # per-sample seeds differ
    guided = generate(model, model.unet, cond, empty, seeds, steps=3, guidance_scale=3.0)
    assert not np.allclose(a, guided)
    noisy = generate(model, model.unet, cond, empty, seeds, steps=3, eta=1.0)
    np.testing.assert_array_equal(
        noisy, generate(model, model.unet, cond, empty, seeds, 3, eta=1.0)
    )
