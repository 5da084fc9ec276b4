"""Image grids of the K samples of a prompt, saved as PNG (one per prompt per epoch)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def image_grid(
    images: np.ndarray, n_cols: int | None = None, pad: int = 1, flags: np.ndarray | None = None
) -> np.ndarray:
    """(n, 3, H, W) in [0, 1] -> (rows·(H+pad)+pad, cols·(W+pad)+pad, 3) uint8.

    Padding is white; with `flags`, a flagged image (outside the HCDR union) gets a red frame
    instead, so a grid shows which samples the detector rejected.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (n, 3, H, W), got {images.shape}")
    n, _, h, w = images.shape
    cols = n_cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, dtype=np.uint8)
    pixels = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)
    for i in range(n):
        top, left = pad + (i // cols) * (h + pad), pad + (i % cols) * (w + pad)
        if flags is not None and flags[i] and pad:
            grid[top - pad : top + h + pad, left - pad : left + w + pad] = (220, 30, 30)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def save_png(grid: np.ndarray, path: Path, scale: int = 1) -> Path:
    """Write a uint8 (H, W, 3) array; `scale` enlarges tiny images by pixel repetition."""
    from PIL import Image

    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path


def write_grids(samples: dict, folder: Path, epoch: int) -> list[Path]:
    """One PNG per prompt ({name: t2i.run.PromptSamples}); tiles are enlarged to ≥ 64 px so
    8×8 digits stay visible."""
    grids = []
    for name, s in samples.items():
        scale = max(1, 64 // s.images.shape[-1])
        grids.append(
            save_png(
                image_grid(s.images, flags=s.flags), folder / f"epoch{epoch:03d}_{name}.png", scale
            )
        )
    return grids
