"""Kalai et al., "Why Language Models Hallucinate": the measurable bounds and scoring rules.

- Singleton rate (Definition 2): sr = |S| / N, S the prompts stated exactly once (without
  abstention) among the N training examples — Good–Turing's missing-mass estimate.
- Theorem 2 (arbitrary facts, lower part): err ≥ sr − 2/min_c|E_c| − (35 + 6 ln N)/√N − δ.
- Theorem 1 (IIV reduction with prompts): err ≥ 2·err_iiv − max_c|V_c|/min_c|E_c| − δ.
- Confidence targets (§4.2): answer iff confidence > t; +1 right, 0 "I don't know",
  −t/(1−t) wrong. At t = 0 a wrong answer costs nothing, so abstaining never pays.
- Expected calibration error of a stated confidence, with its reliability bins.
"""

from __future__ import annotations

import math

import numpy as np

from deltahall.theory._checks import as_finite_array, check_count, check_unit_interval


def singleton_rate(mentions: np.ndarray) -> float:
    """sr = (#prompts stated exactly once) / N, N = Σ mentions (Definition 2)."""
    counts = as_finite_array(mentions, "mentions", ndim=1)
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("mentions must be non-negative integers")
    n = counts.sum()
    if n == 0:
        raise ValueError("mentions must state at least one fact (N = 0)")
    return float((counts == 1).sum() / n)


def singleton_rate_bound(sr: float, min_errors: int, n_train: int, delta: float = 0.0) -> float:
    """Theorem 2's lower bound on the error rate; ≤ 0 means vacuous at this N."""
    e = check_count(min_errors, "min_errors")
    n = check_count(n_train, "n_train")
    return float(sr - 2.0 / e - (35.0 + 6.0 * math.log(n)) / math.sqrt(n) - delta)


def iiv_bound(err_iiv: float, max_valid: int, min_errors: int, delta: float = 0.0) -> float:
    """Theorem 1: err ≥ 2·err_iiv − max_c|V_c| / min_c|E_c| − δ."""
    v, e = check_count(max_valid, "max_valid"), check_count(min_errors, "min_errors")
    return float(2.0 * err_iiv - v / e - delta)


def confidence_target_points(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the points (answer iff confidence > t; +1 right, −t/(1−t) wrong, 0 for
    "I don't know") and whether it answered. Kalai et al. §4.2's explicit confidence target."""
    t = float(threshold)
    if not 0.0 <= t < 1.0:
        raise ValueError(f"confidence target t must lie in [0, 1), got {threshold!r}")
    conf = check_unit_interval(confidence, "confidence", ndim=1)
    right = np.asarray(correct, dtype=bool)
    if right.shape != conf.shape or conf.size == 0:
        raise ValueError("confidence and correct must be non-empty and of the same length")
    answered = conf > t
    return np.where(answered, np.where(right, 1.0, -t / (1.0 - t)), 0.0), answered


def confidence_target_scores(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> dict[str, float]:
    """Mean score and abstention rate when the model answers iff confidence > t."""
    points, answered = confidence_target_points(confidence, correct, threshold)
    return {"score": float(points.mean()), "abstain_rate": float(1.0 - answered.mean())}


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> tuple[float, list[dict]]:
    """ECE = Σ_b (n_b / n) |accuracy_b − mean confidence_b| over equal-width bins of [0, 1]
    (the last bin closed); returns it and the reliability diagram's bins."""
    conf = check_unit_interval(confidence, "confidence", ndim=1)
    right = np.asarray(correct, dtype=float)
    if right.shape != conf.shape or conf.size == 0:
        raise ValueError("confidence and correct must be non-empty and of the same length")
    edges = np.linspace(0.0, 1.0, check_count(n_bins, "n_bins") + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    ece, bins = 0.0, []
    for b in range(n_bins):
        inside = which == b
        if not inside.any():
            continue
        acc, mean_conf = float(right[inside].mean()), float(conf[inside].mean())
        ece += inside.mean() * abs(acc - mean_conf)
        bins.append(
            {
                "low": edges[b],
                "high": edges[b + 1],
                "n": int(inside.sum()),
                "accuracy": acc,
                "confidence": mean_conf,
            }
        )
    return float(ece), bins
