"""Stage `detector`: embed the images, fit the per-class HCDR detector, measure, register.

Reads the CLIP model of `clip_train` and data/images; writes outputs/detector/model (npz +
json), metrics/detector.json, plots/detector/{figure7.png, interpolation.png,
interpolation.csv}; one MLflow run ("detector") that logs the quality figures and registers
the detector as a new version of `hcdr-<dataset>-<embedder>` (alias champion/challenger).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import yaml

from deltahall import paths
from deltahall.config import Params
from deltahall.detector import quality
from deltahall.detector.artifact import save_detector
from deltahall.detector.fit import FitSettings, HCDRDetector, fit_detector
from deltahall.detector.registry import coverage_within_tolerance, log_and_register, registered_name
from deltahall.metrics_file import write_json
from deltahall.seeding import derive_seed
from deltahall.tracking import git_state, start_run
from deltahall.vision.clip import embed_images, load_clip
from deltahall.vision.images import ImageSet, fitted_rows, load_image_set

MODEL_DIR = paths.DETECTOR_DIR / "model"


def fit_settings(params: Params) -> FitSettings:
    d = params.detector
    return FitSettings(
        pca_dim=d.pca_dim,
        quantile=d.quantile,
        fit_fraction=d.fit_fraction,
        max_components=d.max_components,
        min_components=d.min_components,
        points_per_component=d.points_per_component,
        reg_covar=d.reg_covar,
    )


def interpolation_curve(
    det: HCDRDetector,
    clip,
    images: ImageSet,
    classes: list[str],
    weights: list[float],
    n_boot: int,
    seed: int,
) -> list[dict]:
    """Flag rate of pixel mixes between the first two fitted classes, per mixing weight."""
    rng = np.random.default_rng(seed)
    a = images.of_class(classes[0])
    b = images.of_class(classes[-1])[rng.permutation(len(images.of_class(classes[-1])))]
    curve = []
    for w in weights:
        emb = embed_images(clip, quality.mix_images(a, b, w))
        rate, low, high = quality.flagged_rate(det, emb, n_boot, seed)
        curve.append({"mix_weight": w, "rate": rate, "low": low, "high": high})
    return curve


def data_version(dvc_file: Path = Path("data.dvc")) -> str:
    try:
        return str(yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"])
    except (OSError, KeyError, IndexError, TypeError):
        return "unknown"


def run_detector(params: Params) -> dict:
    cfg = params.detector
    torch.set_num_threads(params.clip.torch_threads)
    seed = derive_seed("detector", cfg.seed)
    clip, spec = load_clip(paths.CLIP_DIR)
    images = load_image_set(params.images.dataset, paths.DATA, params.images.image_size)
    print(f"[detector] embedding {len(images.labels)} images", flush=True)
    embeddings = embed_images(clip, images.images)
    rows, labels = fitted_rows(images, params.images.classes)
    det, held = fit_detector(
        embeddings[rows], labels, params.images.classes, fit_settings(params), seed
    )
    save_detector(det, MODEL_DIR)
    fitted = embeddings[rows]
    coverage = quality.coverage(det, fitted, held, cfg.n_boot, seed)
    held_all = np.concatenate(held)
    unseen = np.setdiff1d(np.arange(len(images.labels)), rows)
    metrics = {f"coverage/{c}": v[0] for c, v in coverage.items()}
    metrics.update({f"coverage/{c}_low": v[1] for c, v in coverage.items()})
    metrics.update({f"coverage/{c}_high": v[2] for c, v in coverage.items()})
    metrics["flagged/real_heldout"] = quality.flagged_rate(det, fitted[held_all], cfg.n_boot, seed)[
        0
    ]
    if unseen.size:
        metrics["flagged/unseen_classes"] = quality.flagged_rate(
            det, embeddings[unseen], cfg.n_boot, seed
        )[0]
    floor = quality.real_floor(
        quality.cross_calibrated_flags(det, [fitted[r] for r in held], cfg.quantile, seed),
        params.images.classes,
        cfg.n_boot,
        seed,
    )
    metrics.update({f"floor/{c}": v["rate"] for c, v in floor.items()})
    curve = interpolation_curve(
        det, clip, images, params.images.classes, cfg.mix_weights, cfg.n_boot, seed
    )
    figures = write_plots(det, fitted, held, curve)
    target = 1.0 - cfg.quantile
    champion = coverage_within_tolerance(
        {c: v[0] for c, v in coverage.items()}, target, cfg.coverage_tolerance
    )
    name = registered_name(params.images.dataset, spec.pretrained)
    summary = {
        "metrics": metrics,
        "coverage_target": target,
        "registered_model": name,
        "passes_coverage": champion,
        "n_heldout": {c: int(r.size) for c, r in zip(params.images.classes, held)},
        # real held-out images judged with thresholds from the other half: the t2i floor
        "real_floor": floor,
        "interpolation": curve,
    }
    run_params = {
        "seed": seed,
        "detector": cfg.model_dump(),
        "images": params.images.model_dump(),
        "embed_dim": det.embed_dim,
        "pca_dim": int(det.pca_components.shape[0]),
        "components": [int(w.size) for w in det.weights],
    }
    tags = {"deltahall.stage": "detector", "data_version": data_version()}
    inputs = [paths.DATA, paths.CLIP_DIR]
    with start_run(params, "detector", name, run_params, tags, inputs=inputs) as run:
        run.log_metrics(metrics)
        for point in curve:
            run.log_metrics(
                {"flagged/mix": point["rate"]}, step=int(round(100 * point["mix_weight"]))
            )
        for fig in figures:
            run.log_artifact(fig, "figures")
        if run.active:
            version_tags = {
                "data_version": tags["data_version"],
                "git_commit": git_state()["git_commit"],
                "run_id": str(run.run_id),
            }
            summary["version"], summary["alias"] = log_and_register(
                det, MODEL_DIR, paths.CLIP_DIR, name, version_tags, champion
            )
            print(
                f"[detector] registered {name} version {summary['version']} as @{summary['alias']}",
                flush=True,
            )
    write_json(paths.DETECTOR_METRICS, summary)
    return summary


def write_plots(
    det: HCDRDetector, fitted: np.ndarray, held: list[np.ndarray], curve: list[dict]
) -> list[Path]:
    held_logd = [det.log_densities(fitted[r])[:, c] for c, r in enumerate(held)]
    fig7 = quality.plot_log_density_histograms(det, held_logd, paths.DETECTOR_PLOTS / "figure7.png")
    with (paths.DETECTOR_PLOTS / "interpolation.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(curve[0]))
        writer.writeheader()
        writer.writerows(curve)
    return [fig7, quality.plot_interpolation(curve, paths.DETECTOR_PLOTS / "interpolation.png")]
