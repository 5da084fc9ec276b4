"""A fitted detector on disk as plain arrays (npz) and names (json) — no pickle anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deltahall.detector.fit import HCDRDetector

FORMAT = "deltahall-hcdr/1"
ARRAYS_FILE, META_FILE = "arrays.npz", "meta.json"
_SHARED = ("pca_mean", "pca_components", "scaler_mean", "scaler_scale", "thresholds")
_PER_CLASS = ("weights", "means", "variances")


def save_detector(detector: HCDRDetector, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(detector, name) for name in _SHARED}
    for name in _PER_CLASS:
        for c, value in enumerate(getattr(detector, name)):
            arrays[f"{name}_{c}"] = value
    np.savez(folder / ARRAYS_FILE, **arrays)
    meta = {
        "format": FORMAT,
        "class_names": list(detector.class_names),
        "embed_dim": detector.embed_dim,
        "pca_dim": int(detector.pca_components.shape[0]),
        "components": [int(w.size) for w in detector.weights],
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def load_detector(folder: Path) -> HCDRDetector:
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{folder / META_FILE}: format {meta.get('format')!r}, expected {FORMAT!r}"
        )
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as data:
        shared = {name: data[name] for name in _SHARED}
        n_classes = len(meta["class_names"])
        per_class = {
            name: tuple(data[f"{name}_{c}"] for c in range(n_classes)) for name in _PER_CLASS
        }
    return HCDRDetector(class_names=tuple(meta["class_names"]), **shared, **per_class)
