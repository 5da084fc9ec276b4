"""How good a fitted detector is: held-out coverage, flag rates, interpolation curves, Fig. 7."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deltahall.detector.fit import HCDRDetector
from deltahall.figures import pyplot, save_figure
from deltahall.stats import bootstrap_ci
from deltahall.theory import hcdr_thresholds, outside_hcdr_union


def coverage(
    detector: HCDRDetector,
    embeddings: np.ndarray,
    held_rows: list[np.ndarray],
    n_boot: int,
    seed: int,
) -> dict[str, tuple[float, float, float]]:
    """Per class: share of its held-out embeddings inside its own HCDR, with a bootstrap CI.

    The target is 1 − quantile (90 % in the paper); the threshold was calibrated on these very
    rows, so the estimate sits at the target up to quantile interpolation.
    """
    out = {}
    for c, name in enumerate(detector.class_names):
        inside = detector.predict(embeddings[held_rows[c]])["inside"][:, c]
        out[name] = bootstrap_ci(inside.astype(float), n_boot=n_boot, seed=seed + c)
    return out


def flagged_rate(
    detector: HCDRDetector, embeddings: np.ndarray, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """Share of embeddings outside every class's HCDR, with a bootstrap CI."""
    flags = detector.predict(embeddings)["hallucinated"].astype(float)
    return bootstrap_ci(flags, n_boot=n_boot, seed=seed)


def cross_calibrated_flags(
    det: HCDRDetector, held: list[np.ndarray], quantile: float, seed: int
) -> list[np.ndarray]:
    """Flags (True = outside every HCDR) of each class's held-out embeddings `held[c]`, each
    judged with thresholds calibrated on the *other* half of the held-out images (2-fold).

    The registered thresholds are quantiles of these very images, so their own flagged rate is
    ~quantile by construction; a fresh real image's rate — the floor a generator is compared
    with (issue 13) — must come from thresholds it did not shape.
    """
    rng = np.random.default_rng(seed)
    logd = [det.log_densities(e) for e in held]  # (n_c, C) each
    halves = [np.array_split(rng.permutation(len(x)), 2) for x in logd]
    flags = [np.zeros(len(x), dtype=bool) for x in logd]
    for fold in (0, 1):
        calibration = [x[h[1 - fold], c] for c, (x, h) in enumerate(zip(logd, halves))]
        thresholds = hcdr_thresholds(calibration, quantile)
        for c, (x, h) in enumerate(zip(logd, halves)):
            flags[c][h[fold]] = outside_hcdr_union(x[h[fold]], thresholds)
    return flags


def real_floor(flags: list[np.ndarray], class_names: list[str], n_boot: int, seed: int) -> dict:
    """Per class and pooled: flagged count, n, and the rate with its bootstrap CI."""
    out = {}
    for name, f in [*zip(class_names, flags), ("all", np.concatenate(flags))]:
        rate, low, high = bootstrap_ci(f.astype(float), n_boot, seed=seed)
        out[name] = {"flagged": int(f.sum()), "n": int(f.size), "rate": rate}
        out[name].update(low=low, high=high)
    return out


def mix_images(images_a: np.ndarray, images_b: np.ndarray, weight_b: float) -> np.ndarray:
    """Pixel mixes (1 − w)·a + w·b of paired images — off-manifold inputs between two classes."""
    n = min(len(images_a), len(images_b))
    return (1.0 - weight_b) * images_a[:n] + weight_b * images_b[:n]


def plot_interpolation(curve: list[dict], path: Path) -> Path:
    """Flag rate against the pixel-mixing weight between the two fitted classes, with CIs."""
    plt = pyplot()
    w = [p["mix_weight"] for p in curve]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(w, [p["rate"] for p in curve], "o-", color="C3")
    ax.fill_between(
        w, [p["low"] for p in curve], [p["high"] for p in curve], alpha=0.25, color="C3"
    )
    ax.set_xlabel("mixing weight of the second class")
    ax.set_ylabel("share outside every HCDR")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("pixel interpolations between the fitted classes")
    return save_figure(fig, path)


def plot_log_density_histograms(
    detector: HCDRDetector, held_log_densities: list[np.ndarray], path: Path
) -> Path:
    """Figure 7 of the paper: per-class held-out log-densities with the threshold line."""
    plt = pyplot()
    n = len(detector.class_names)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.2), squeeze=False)
    for c, (ax, name) in enumerate(zip(axes[0], detector.class_names)):
        ax.hist(held_log_densities[c], bins=30, color=f"C{c}", alpha=0.8)
        threshold = float(detector.thresholds[c])
        # the HCDR is {x: log f(x) >= threshold}: shade it, from the threshold rightwards
        ax.axvspan(threshold, ax.get_xlim()[1], color="0.85", zorder=0, label="HCDR (inside)")
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.1f}")
        ax.set_title(f"class {name}: held-out log-density")
        ax.set(xlabel="log f(x)", ylabel="held-out images")
        ax.legend(fontsize=8, loc="upper left")  # the HCDR lies to the right: keep it clear
    return save_figure(fig, path)
