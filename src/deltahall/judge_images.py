"""`deltahall judge-images`: the registered HCDR detector judges any images.

The detector version is loaded from the registry (`models:/NAME@ALIAS` or `models:/NAME/V`)
with the CLIP it was fitted on (its `clip` artifact), so the embeddings are the ones its
thresholds were set on. Each image is decoded, resized like the training images
(vision.images.read_rgb) and embedded; out come per-image flags (outside every class's HCDR,
Remark 5.1) and the flagged rate with its bootstrap CI.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deltahall.secrets import mask
from deltahall.stats import bootstrap_ci

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_files(paths: list[Path]) -> list[Path]:
    """The image files named, and those under the folders named (sorted), in order."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image file or folder")
    return out


def load_registered(uri: str, tracking_uri: str):
    """(the HCDRModel, its CLIP model and spec) of a registered detector version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from deltahall.vision.clip import load_clip

    mlflow.set_tracking_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except MlflowException as err:
        raise FileNotFoundError(
            f"{uri} not found in the MLflow store {mask(tracking_uri)}: {err}"
        ) from None
    if not getattr(model, "clip_folder", None):
        raise ValueError(
            f"{uri} was registered without its CLIP (artifact 'clip'): rerun the detector stage "
            "(`dvc repro detector`) to register a version that carries it"
        )
    clip, spec = load_clip(Path(model.clip_folder))
    return model, clip, spec


def judge(
    model: str,
    images: list[Path],
    out: Path | None,
    tracking_uri: str,
    n_boot: int,
    level: float,
    seed: int,
) -> dict:
    import torch

    from deltahall.detector.pyfunc import predictions_frame
    from deltahall.vision.clip import embed_images
    from deltahall.vision.images import read_rgb

    files = image_files(images)
    detector_model, clip, spec = load_registered(model, tracking_uri)
    pixels = np.stack([read_rgb(f, spec.image_size) for f in files])
    with torch.no_grad():
        embeddings = embed_images(clip, pixels)
    frame = predictions_frame(detector_model.detector, embeddings)
    flags = frame["hallucinated"].to_numpy(dtype=bool)
    rate, low, high = bootstrap_ci(flags.astype(float), n_boot, level, seed)
    classes = detector_model.detector.class_names
    rows = [
        {"image": str(f), "hallucinated": bool(flag)}
        | {f"inside_{c}": bool(frame[f"inside_{c}"].iloc[i]) for c in classes}
        for i, (f, flag) in enumerate(zip(files, flags))
    ]
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with Path(out).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    for row in rows:
        inside = [c for c in classes if row[f"inside_{c}"]]
        print(
            f"{row['image']}: {'HALLUCINATED' if row['hallucinated'] else 'ok'} "
            f"(inside: {', '.join(inside) or 'no class'})"
        )
    print(
        f"{flags.sum()}/{flags.size} images outside every class's HCDR: rate {rate:.3f} "
        f"({level:.0%} bootstrap CI {low:.3f}–{high:.3f}) by {model}"
    )
    return {"rate": rate, "low": low, "high": high, "n": int(flags.size), "images": rows}


def run_judge_command(args) -> None:
    from deltahall.tracking import named_store

    store = named_store(args.tracking_uri, args.params)
    judge(args.model, args.images, args.out, store, args.n_boot, args.level, args.seed)
