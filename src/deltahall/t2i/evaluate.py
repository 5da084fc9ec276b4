"""Judging generated images with the HCDR detector: the two tests of paper §6.3 (pure numpy).

`judge` maps (n, D) raw image embeddings to (n,) booleans, True = outside every class's HCDR
(the registered detector's `hallucinated` column). Per prompt, from its K embeddings:
- per-image rate: share of the K images outside the HCDR union, bootstrap CI over images;
- estimator-level test (reference code): is the *mean* embedding of the K images outside?
  A 0/1 verdict; its bootstrap CI resamples the K images, so [0, 1] means the verdict flips
  with the sample. Overall: the rate over all prompts' images, and the share of prompts whose
  mean embedding is outside (bootstrap over prompts).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deltahall.seeding import derive_seed
from deltahall.stats import bootstrap_ci
from deltahall.t2i import keys

Judge = Callable[[np.ndarray], np.ndarray]


def hallucination_flags(judge: Judge, embeddings: np.ndarray) -> np.ndarray:
    flags = np.asarray(judge(np.asarray(embeddings, dtype=np.float64)), dtype=bool)
    if flags.shape != (len(embeddings),):
        raise ValueError(f"judge returned shape {flags.shape} for {len(embeddings)} embeddings")
    return flags


def mean_embedding_statistic(judge: Judge):
    """A bootstrap_ci statistic: is the mean of the rows (along `axis`) outside the HCDRs?"""

    def statistic(x: np.ndarray, axis: int) -> np.ndarray:
        means = x.mean(axis=axis)
        flat = np.atleast_2d(means)
        return hallucination_flags(judge, flat).astype(float).reshape(means.shape[:-1])

    return statistic


def _with_ci(name: str, values: tuple[float, float, float]) -> dict[str, float]:
    estimate, lower, upper = values
    return {name: estimate, keys.low(name): lower, keys.high(name): upper}


def prompt_metrics(
    judge: Judge, embeddings: np.ndarray, prompt: str, n_boot: int, level: float, seed: int
) -> tuple[dict[str, float], np.ndarray]:
    """val/hall_rate/<prompt> and val/mean_hall/<prompt> (each with _low/_high), and the
    per-image flags, for one prompt's K embeddings."""
    flags = hallucination_flags(judge, embeddings)
    out = _with_ci(
        keys.per_prompt(keys.HALL_RATE, prompt),
        bootstrap_ci(flags.astype(float), n_boot, level, seed),
    )
    out.update(
        _with_ci(
            keys.per_prompt(keys.MEAN_HALL, prompt),
            bootstrap_ci(
                np.asarray(embeddings, dtype=np.float64),
                n_boot,
                level,
                seed,
                mean_embedding_statistic(judge),
            ),
        )
    )
    return out, flags


def epoch_metrics(
    judge: Judge, embeddings: dict[str, np.ndarray], n_boot: int, level: float, seed: int
) -> dict[str, float]:
    """One epoch's metrics: per prompt, and overall (val/hall_rate, val/mean_hall)."""
    metrics: dict[str, float] = {}
    all_flags, verdicts = [], []
    for name, emb in embeddings.items():
        per, flags = prompt_metrics(
            judge, emb, name, n_boot, level, derive_seed("t2i-boot", seed, name)
        )
        metrics.update(per)
        all_flags.append(flags)
        verdicts.append(per[keys.per_prompt(keys.MEAN_HALL, name)])
    pooled = np.concatenate(all_flags).astype(float)
    metrics.update(_with_ci(keys.HALL_RATE, bootstrap_ci(pooled, n_boot, level, seed)))
    metrics.update(
        _with_ci(keys.MEAN_HALL, bootstrap_ci(np.asarray(verdicts), n_boot, level, seed))
    )
    return metrics
