"""One preprocessing path (issue 13): a real image read from disk and resized to the CLIP
input size, and the same image sent at its own size through the path generated images take
(embed_images resizes), get the same embedding and the same detector flags. Before, real
AFHQ images went through PIL bicubic and generated ones through bilinear without antialias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deltahall.detector.fit import FitSettings, fit_detector
from deltahall.vision.clip import ClipSpec, build_clip, embed_images
from deltahall.vision.images import load_afhq


def _write_images(root: Path, rng: np.random.Generator, size: int, per_class: int) -> None:
    from PIL import Image

    for c, name in enumerate(("cat", "dog")):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            coarse = rng.uniform(0, 1, (5, 5, 3)) * 0.5 + 0.5 * c  # class shifts the colour
            smooth = np.kron(coarse, np.ones((size // 5, size // 5, 1)))
            pixels = (255 * smooth.clip(0, 1)).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")


def test_real_images_through_the_generated_path_get_the_same_flags(tmp_path: Path):
    rng = np.random.default_rng(0)
    _write_images(tmp_path / "afhq", rng, size=40, per_class=12)
    torch.manual_seed(0)
    clip = build_clip(ClipSpec(embed_dim=16, width=32, heads=2, patch_size=8, image_size=16))
    as_real = load_afhq(tmp_path / "afhq", 16)  # read, resized to the CLIP input on loading
    native = load_afhq(tmp_path / "afhq", 40)  # full size, as a generator's output would be
    assert native.images.shape[-1] == 40
    real_emb = embed_images(clip, as_real.images)
    generated_path_emb = embed_images(clip, native.images)  # resized inside embed_images
    np.testing.assert_allclose(generated_path_emb, real_emb, rtol=1e-5, atol=1e-6)
    settings = FitSettings(pca_dim=8, fit_fraction=0.5, points_per_component=200)
    det, _ = fit_detector(real_emb, as_real.labels, ["cat", "dog"], settings, seed=0)
    flags = det.predict(real_emb)["hallucinated"]
    assert np.array_equal(det.predict(generated_path_emb)["hallucinated"], flags)
