"""The facts experiment's numbers from per-fact outcomes (pure numpy; Kalai et al.).

Per arbitrary fact: how often it was stated and the flags deltahall.scoring gave the base
model's answer (exact: right; delta_hallucinated; score_<t>/abstain_<t> from its probability).
Out: accuracy and error (a wrong answer; the base never abstains) by mention bin with
bootstrap CIs, the δ-hallucination rate beside the error rate, the gate figure, calibration
(ECE and reliability bins) and the confidence-target table with CIs.
"""

from __future__ import annotations

import numpy as np

from deltahall.facts.config import parse_bin
from deltahall.scoring import estimates
from deltahall.stats import bootstrap_ci
from deltahall.theory.kalai import expected_calibration_error


def share_with_ci(flags: np.ndarray, n_boot: int, level: float, seed: int) -> dict:
    """{"n", "rate", "low", "high"}: the share of true flags with its bootstrap CI."""
    if flags.size == 0:
        return {"n": 0, "rate": None, "low": None, "high": None}
    rate, low, high = bootstrap_ci(flags.astype(float), n_boot, level, seed)
    return {"n": int(flags.size), "rate": rate, "low": low, "high": high}


def in_bin(mentions: np.ndarray, label: str) -> np.ndarray:
    low, high = parse_bin(label)
    return (mentions >= low) & (mentions <= (np.inf if high is None else high))


def rate_by_mentions(
    mentions: np.ndarray, flags: np.ndarray, bins: list[str], n_boot: int, level: float
) -> dict[str, dict]:
    """The share of `flags` per mention bin, each with its bootstrap CI."""
    flags = np.asarray(flags, dtype=bool)
    return {
        b: share_with_ci(flags[in_bin(mentions, b)], n_boot, level, i) for i, b in enumerate(bins)
    }


def error_by_mentions(
    mentions: np.ndarray, correct: np.ndarray, bins: list[str], n_boot: int, level: float
) -> dict[str, dict]:
    return rate_by_mentions(mentions, ~np.asarray(correct, dtype=bool), bins, n_boot, level)


def seen_often(
    mentions: np.ndarray, correct: np.ndarray, gate_mentions: int, n_boot: int, level: float
) -> dict:
    """Accuracy on the facts stated >= gate_mentions times: the knowledge gate's figure."""
    mentions, correct = np.asarray(mentions), np.asarray(correct, dtype=bool)
    return share_with_ci(correct[mentions >= gate_mentions], n_boot, level, 101)


def hallucination_rate(correct: np.ndarray, n_boot: int, level: float) -> dict:
    """The share of wrong answers over every fact asked (the base never abstains)."""
    return share_with_ci(~np.asarray(correct, dtype=bool), n_boot, level, 100)


def confidence_targets(flags: dict, targets: list[float], n_boot: int, level: float) -> dict:
    """{t: score, abstain_rate and their CIs}: Kalai et al.'s penalised score per target."""
    out = {}
    for t in targets:
        est = estimates(
            {k: flags[f"{k}_{t:g}"] for k in ("score", "abstain")}, n_boot, level, seed=102
        )
        score, abstain = est["score"], est["abstain"]
        out[str(t)] = {
            "score": score.value,
            "score_low": score.low,
            "score_high": score.high,
            "abstain_rate": abstain.value,
            "abstain_low": abstain.low,
            "abstain_high": abstain.high,
        }
    return out


def analyse_facts(
    mentions: np.ndarray,
    flags: dict[str, np.ndarray],
    confidence: np.ndarray,
    bins: list[str],
    gate_mentions: int,
    targets: list[float],
    ece_bins: int,
    n_boot: int,
    level: float,
) -> dict:
    """`flags`: deltahall.scoring.per_example of the answers (correct_if="exact")."""
    mentions, correct = np.asarray(mentions), np.asarray(flags["exact"], dtype=bool)
    ece, reliability = expected_calibration_error(confidence, correct, ece_bins)
    return {
        "n_facts": int(mentions.size),
        "hallucination_rate": hallucination_rate(correct, n_boot, level),
        "delta_hall_rate": share_with_ci(flags["delta_hallucinated"], n_boot, level, 103),
        "error_rate_by_mentions": error_by_mentions(mentions, correct, bins, n_boot, level),
        "accuracy_seen_often": seen_often(mentions, correct, gate_mentions, n_boot, level),
        "ece_base": ece,
        "reliability": reliability,
        "confidence_targets": confidence_targets(flags, targets, n_boot, level),
    }
