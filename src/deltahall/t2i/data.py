"""The images the UNet is fine-tuned on, with one caption per image.

Default (digits): the fitted classes of data/images, in memory at the t2i resolution.
Paper (AFHQ): ~10 700 images of 512×512 do not fit in memory as floats (≈ 33 GB), so the
files are listed once and each batch is read from disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deltahall.vision.images import fitted_rows, load_image_set, read_rgb

_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class TrainImages:
    labels: np.ndarray  # (n,) indices into class_names
    class_names: tuple[str, ...]
    pixels: np.ndarray | None = None  # (n, 3, H, W) float32 in [0, 1], when in memory
    files: tuple[Path, ...] = ()  # else one file per row, read per batch
    resolution: int = field(default=0)

    def __len__(self) -> int:
        return int(self.labels.size)

    def load(self, rows: np.ndarray) -> np.ndarray:
        """(b, 3, H, W) float32 in [0, 1] for the given row indices."""
        if self.pixels is not None:
            return self.pixels[rows]
        return np.stack([read_rgb(self.files[r], self.resolution) for r in np.asarray(rows)])


def load_train_images(
    dataset: str, data_dir: Path, classes: list[str], resolution: int
) -> TrainImages:
    if dataset == "afhq":
        return _afhq_files(Path(data_dir) / "afhq" / "train", classes, resolution)
    images = load_image_set(dataset, data_dir, resolution)
    rows, labels = fitted_rows(images, classes)
    return TrainImages(labels, tuple(classes), pixels=images.images[rows], resolution=resolution)


def _afhq_files(root: Path, classes: list[str], resolution: int) -> TrainImages:
    files, labels = [], []
    for c, name in enumerate(classes):
        found = sorted(p for p in (root / name).glob("*") if p.suffix.lower() in _SUFFIXES)
        if not found:
            raise FileNotFoundError(f"no images in {root / name}")
        files += found
        labels += [c] * len(found)
    return TrainImages(
        np.asarray(labels, dtype=np.int64),
        tuple(classes),
        files=tuple(files),
        resolution=resolution,
    )


def make_captions(
    labels: np.ndarray, class_names: tuple[str, ...], templates: list[str], seed: int
) -> list[str]:
    """One caption per image: a seeded random template filled with the image's class name."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(templates), size=len(labels))
    return [templates[t].format(class_names[y]) for t, y in zip(picks, labels)]
