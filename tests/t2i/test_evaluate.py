"""The two tests of paper §6.3 on hand-made embeddings, with a judge whose verdicts are known."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.t2i.evaluate import epoch_metrics, hallucination_flags, prompt_metrics
from deltahall.t2i.keys import judged_keys

MODES = np.array([[2.0, 0.0], [-2.0, 0.0]])


def two_mode_judge(embeddings: np.ndarray) -> np.ndarray:
    """Inside iff within 0.5 of one of two modes: a two-class HCDR union in 2-D."""
    dist = np.linalg.norm(embeddings[:, None, :] - MODES[None], axis=-1)
    return dist.min(axis=1) > 0.5


def test_flags_follow_the_judge_and_check_its_shape():
    emb = np.array([[2.0, 0.1], [0.0, 0.0], [-2.2, 0.0]])
    assert hallucination_flags(two_mode_judge, emb).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="judge returned shape"):
        hallucination_flags(lambda e: np.zeros((len(e), 2), bool), emb)


def test_every_image_inside_yet_their_mean_outside():
    # Half the samples at each mode: no image hallucinates, the mean (0, 0) lies between the
    # modes, outside both HCDRs: the estimator-level test of the reference code flags it.
    emb = np.repeat(MODES, 4, axis=0)
    m, flags = prompt_metrics(two_mode_judge, emb, "mixed", n_boot=200, level=0.95, seed=0)
    assert not flags.any()
    assert m["val/hall_rate/mixed"] == 0.0
    assert m["val/hall_rate/mixed_low"] == m["val/hall_rate/mixed_high"] == 0.0
    assert m["val/mean_hall/mixed"] == 1.0
    # resampling 8 images can put them all at one mode (mean inside): the CI spans [0, 1]
    assert m["val/mean_hall/mixed_low"] == 0.0 and m["val/mean_hall/mixed_high"] == 1.0


def test_rate_and_ci_by_hand():
    emb = np.array([[2.0, 0.0]] * 3 + [[0.0, 5.0]] * 1)  # 1 of 4 outside
    m, _ = prompt_metrics(two_mode_judge, emb, "zero", n_boot=500, level=0.9, seed=3)
    assert m["val/hall_rate/zero"] == 0.25
    assert 0.0 <= m["val/hall_rate/zero_low"] < 0.25 < m["val/hall_rate/zero_high"] <= 1.0
    assert m["val/mean_hall/zero"] == 1.0  # mean (1.5, 1.25) is 1.35 from the mode
    again, _ = prompt_metrics(two_mode_judge, emb, "zero", n_boot=500, level=0.9, seed=3)
    assert again == m  # same seed, same numbers


def test_epoch_metrics_pool_images_and_count_prompts():
    embeddings = {
        "zero": np.array([[2.0, 0.0]] * 4),  # 0 of 4, mean inside
        "one": np.array([[-2.0, 0.0]] * 2 + [[0.0, 9.0]] * 2),  # 2 of 4, mean outside
        "mixed": np.repeat(MODES, 3, axis=0),
    }  # 0 of 6, mean outside
    m = epoch_metrics(two_mode_judge, embeddings, n_boot=100, level=0.95, seed=1)
    assert set(m) == set(judged_keys(["zero", "one", "mixed"]))
    assert m["val/hall_rate"] == pytest.approx(2 / 14)  # pooled over images, not prompts
    assert m["val/hall_rate/one"] == 0.5
    assert m["val/mean_hall"] == pytest.approx(2 / 3)  # share of prompts whose mean is outside
    assert [m["val/mean_hall/zero"], m["val/mean_hall/one"], m["val/mean_hall/mixed"]] == [0, 1, 1]
    for key in ("val/hall_rate", "val/mean_hall"):
        assert m[f"{key}_low"] <= m[key] <= m[f"{key}_high"]
