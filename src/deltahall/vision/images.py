"""Labelled images for the detector and text-to-image experiments, as float tensors.

Default profile: scikit-learn's handwritten digits (shipped in data/images, versioned by DVC),
8×8 grey levels upsampled to `image_size` and repeated to RGB, in [0, 1]. Two digit classes
stand for the paper's cats and dogs; the other eight are classes the detector never saw.
`paper` profile: AFHQ cats and dogs from a local image folder (data/afhq/<split>/<class>/*.jpg).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# A few caption templates per class so the text tower sees more than one string per class.
CAPTION_TEMPLATES = ("a photo of the digit {}", "a handwritten {}", "the number {} written by hand")


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # (n, 3, H, W) float32 in [0, 1]
    labels: np.ndarray  # (n,) int64 indices into class_names
    class_names: tuple[str, ...]

    def of_class(self, name: str) -> np.ndarray:
        return self.images[self.labels == self.class_names.index(name)]


def resize_images(images, size: int):
    """The one resize every image takes, real or generated, to a training or CLIP input size:
    (n, c, h, w) float tensor or array -> (n, c, size, size) float32 tensor, bilinear with
    antialiasing (which only acts when shrinking), clamped to [0, 1]. One path, so real and
    generated images differ by content only, never by preprocessing (issue 13)."""
    import torch
    import torch.nn.functional as F

    batch = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if tuple(batch.shape[-2:]) == (size, size):
        return batch
    resized = F.interpolate(
        batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.clamp(0.0, 1.0)


def upsample(images: np.ndarray, size: int) -> np.ndarray:
    """(n, h, w) grey in [0, 1] -> (n, 3, size, size) RGB by `resize_images`."""
    grey = np.ascontiguousarray(images, dtype=np.float32)[:, None]
    return resize_images(grey, size).repeat(1, 3, 1, 1).numpy()


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing: run `make data` (or `deltahall data`)") from None
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npy array ({err})") from None


def read_digits_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits as (n, 8, 8) grey levels 0–16 and (n,) labels 0–9, checked: every
    defect names its file (and the first bad row)."""
    folder = Path(data_dir) / "images"
    images_path, labels_path = folder / "digits_images.npy", folder / "digits_labels.npy"
    raw, labels = _load_npy(images_path), _load_npy(labels_path)
    if raw.ndim != 3 or raw.shape[0] == 0 or not np.issubdtype(raw.dtype, np.number):
        raise ValueError(
            f"{images_path}: expected a non-empty numeric (n, h, w) array, got "
            f"shape {raw.shape} dtype {raw.dtype}"
        )
    bad = np.flatnonzero(~((raw >= 0) & (raw <= 16)).reshape(len(raw), -1).all(axis=1))
    if bad.size:
        raise ValueError(f"{images_path}: row {bad[0]}: grey levels must lie in 0..16")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{labels_path}: expected a 1-d integer array, got shape "
            f"{labels.shape} dtype {labels.dtype}"
        )
    if len(labels) != len(raw):
        raise ValueError(
            f"{labels_path}: {len(labels)} labels for {len(raw)} images in {images_path.name}"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= len(DIGIT_NAMES)))
    if bad.size:
        raise ValueError(
            f"{labels_path}: row {bad[0]}: label {labels[bad[0]]} is not a digit "
            f"0..{len(DIGIT_NAMES) - 1}"
        )
    return raw, labels


def load_digits(data_dir: Path, image_size: int) -> ImageSet:
    raw, labels = read_digits_arrays(data_dir)
    grey = raw.astype(np.float32) / 16.0  # grey levels 0–16 in the UCI digits
    return ImageSet(upsample(grey, image_size), labels.astype(np.int64), DIGIT_NAMES)


def afhq_files(root: Path, classes: tuple[str, ...], split: str = "train") -> list[list[Path]]:
    """The image files of each class folder; a class without images is an error."""
    out = []
    for name in classes:
        files = sorted(
            p
            for p in (Path(root) / split / name).glob("*")
            if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
        if not files:
            raise FileNotFoundError(f"no images in {Path(root) / split / name}")
        out.append(files)
    return out


def read_rgb(path: Path, image_size: int) -> np.ndarray:
    """One image file -> (3, size, size) float32 in [0, 1]: decoded at its own resolution,
    then resized by `resize_images`, as generated images are."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from None
    return resize_images(rgb[None], image_size)[0].numpy()


def load_afhq(
    root: Path, image_size: int, classes: tuple[str, ...] = ("cat", "dog"), split: str = "train"
) -> ImageSet:
    """AFHQ (Choi et al. 2020) as downloaded: <root>/<split>/<class>/*.(jpg|png). Paper profile."""
    images, labels = [], []
    for c, files in enumerate(afhq_files(root, tuple(classes), split)):
        images.extend(read_rgb(path, image_size) for path in files)
        labels.extend([c] * len(files))
    return ImageSet(np.stack(images), np.asarray(labels, dtype=np.int64), tuple(classes))


def load_image_set(dataset: str, data_dir: Path, image_size: int) -> ImageSet:
    if dataset == "digits":
        return load_digits(data_dir, image_size)
    if dataset == "afhq":
        return load_afhq(Path(data_dir) / "afhq", image_size)
    raise ValueError(f"unknown image dataset {dataset!r}; expected 'digits' or 'afhq'")


def captions_for(labels: np.ndarray, class_names: tuple[str, ...], seed: int) -> list[str]:
    """One caption per image: a seeded random template filled with the image's class name."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(CAPTION_TEMPLATES), size=len(labels))
    return [CAPTION_TEMPLATES[t].format(class_names[y]) for t, y in zip(picks, labels)]


def fitted_rows(images: ImageSet, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the fitted classes and their labels re-indexed 0..C-1 in `classes` order."""
    unknown = [c for c in classes if c not in images.class_names]
    if unknown:
        raise ValueError(
            f"images.classes: {unknown} not in the dataset's classes {list(images.class_names)}"
        )
    index = [images.class_names.index(c) for c in classes]
    rows = np.flatnonzero(np.isin(images.labels, index))
    return rows, np.array([index.index(y) for y in images.labels[rows]], dtype=np.int64)
