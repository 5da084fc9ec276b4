"""Per-class HCDR detectors on embeddings: the paper's §6.3 / Appendix B pipeline.

L2-normalise → PCA → z-score → one diagonal Gaussian mixture per class, fitted on 80 % of
that class's embeddings; the class threshold is the 10 % quantile of the log-densities of
its held-out 20 %, so ≈ 90 % of real held-out images fall inside (Definition 5.2).

scikit-learn fits; the fitted state is kept as plain arrays and every score is computed by
numpy from those arrays (theory.gaussian_mixture_log_densities), so the registered model,
which reloads the same arrays, gives bit-identical outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from deltahall.theory import gaussian_mixture_log_densities, hcdr_membership, hcdr_thresholds


@dataclass(frozen=True)
class FitSettings:
    pca_dim: int = 128  # paper: 128; capped by the embedding size and sample count
    quantile: float = 0.1  # 10 % quantile of held-out log-densities, paper §6.3
    fit_fraction: float = 0.8  # 80 % fit / 20 % held out, paper §6.3
    max_components: int = 6  # reference code: min(6, max(2, n_fit // 200))
    min_components: int = 2
    points_per_component: int = 200
    reg_covar: float = 1e-3  # reference code's GMM regulariser


@dataclass(frozen=True)
class HCDRDetector:
    class_names: tuple[str, ...]
    pca_mean: np.ndarray  # (D,)
    pca_components: np.ndarray  # (k, D)
    scaler_mean: np.ndarray  # (k,)
    scaler_scale: np.ndarray  # (k,)
    weights: tuple[np.ndarray, ...]  # per class (K_c,)
    means: tuple[np.ndarray, ...]  # per class (K_c, k)
    variances: tuple[np.ndarray, ...]  # per class (K_c, k), diagonal
    thresholds: np.ndarray  # (C,) log-density thresholds

    @property
    def embed_dim(self) -> int:
        return int(self.pca_mean.shape[0])

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        emb = check_embeddings(embeddings, self.embed_dim)
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(min=1e-12)
        return (
            (unit - self.pca_mean) @ self.pca_components.T - self.scaler_mean
        ) / self.scaler_scale

    def log_densities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, D) raw embeddings -> (n, C) log f_c under each class's mixture."""
        return gaussian_mixture_log_densities(
            self.weights, self.means, self.variances, self.features(embeddings)
        )

    def predict(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        logd = self.log_densities(embeddings)
        inside = hcdr_membership(logd, self.thresholds)
        return {"log_density": logd, "inside": inside, "hallucinated": ~inside.any(axis=1)}


def check_embeddings(embeddings: np.ndarray, embed_dim: int) -> np.ndarray:
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[1] != embed_dim:
        raise ValueError(
            f"embeddings must have shape (n, {embed_dim}) — this detector was "
            f"fitted on {embed_dim}-dimensional embeddings; got shape {emb.shape}"
        )
    if not np.all(np.isfinite(emb)):
        raise ValueError("embeddings contain NaN or infinite values")
    return emb


def n_components(n_fit: int, s: FitSettings) -> int:
    return min(s.max_components, max(s.min_components, n_fit // s.points_per_component))


def split_per_class(
    labels: np.ndarray, n_classes: int, fit_fraction: float, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Row indices to fit on and to hold out, per class (a seeded random split)."""
    fit, held = [], []
    for c in range(n_classes):
        rows = rng.permutation(np.flatnonzero(labels == c))
        n_fit = int(round(fit_fraction * rows.size))
        if n_fit < 2 or rows.size - n_fit < 1:
            raise ValueError(f"class {c} has {rows.size} embeddings: too few to fit and hold out")
        fit.append(np.sort(rows[:n_fit]))
        held.append(np.sort(rows[n_fit:]))
    return fit, held


def fit_detector(
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    settings: FitSettings,
    seed: int,
) -> tuple[HCDRDetector, list[np.ndarray]]:
    """Fit the detector; also returns the held-out row indices per class (for coverage)."""
    emb = check_embeddings(embeddings, np.asarray(embeddings).shape[-1])
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fit_rows, held_rows = split_per_class(labels, len(class_names), settings.fit_fraction, rng)
    all_fit = np.concatenate(fit_rows)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(min=1e-12)
    k = min(settings.pca_dim, emb.shape[1], all_fit.size - 1)
    pca = PCA(n_components=k, random_state=seed).fit(unit[all_fit])
    projected = pca.transform(unit[all_fit])
    scale = projected.std(axis=0).clip(min=1e-12)
    partial = HCDRDetector(
        tuple(class_names),
        pca.mean_,
        pca.components_,
        projected.mean(axis=0),
        scale,
        (),
        (),
        (),
        np.zeros(len(class_names)),
    )
    weights, means, variances = [], [], []
    for rows in fit_rows:
        gmm = GaussianMixture(
            n_components(rows.size, settings),
            covariance_type="diag",
            reg_covar=settings.reg_covar,
            random_state=seed,
        )
        gmm.fit(partial.features(emb[rows]))
        weights.append(gmm.weights_ / gmm.weights_.sum())
        means.append(gmm.means_)
        variances.append(gmm.covariances_)
    scored = HCDRDetector(
        **{
            **partial.__dict__,
            "weights": tuple(weights),
            "means": tuple(means),
            "variances": tuple(variances),
        }
    )
    held_logd = [scored.log_densities(emb[rows])[:, c] for c, rows in enumerate(held_rows)]
    thresholds = hcdr_thresholds(held_logd, settings.quantile)
    return HCDRDetector(**{**scored.__dict__, "thresholds": thresholds}), held_rows
