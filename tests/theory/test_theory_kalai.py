"""Kalai et al.'s bounds and scoring rules against hand computations."""

import math

import numpy as np
import pytest

from deltahall.theory.kalai import (
    confidence_target_scores,
    expected_calibration_error,
    iiv_bound,
    singleton_rate,
    singleton_rate_bound,
)


def test_singleton_rate_counts_prompts_stated_once_over_all_examples():
    # facts stated 0, 1, 1, 2, 5 times: N = 9 examples, 2 singletons -> sr = 2/9
    assert singleton_rate(np.array([0, 1, 1, 2, 5])) == pytest.approx(2 / 9)
    assert singleton_rate(np.array([3, 3])) == 0.0
    with pytest.raises(ValueError, match="N = 0"):
        singleton_rate(np.array([0, 0]))
    with pytest.raises(ValueError, match="non-negative integers"):
        singleton_rate(np.array([1.5]))


def test_singleton_rate_bound_by_hand_and_vacuous_at_small_n():
    # sr .2, 364 wrong birthdays, N = 1e8: .2 − 2/364 − (35 + 6 ln 1e8)/1e4 = 0.185...
    expected = 0.2 - 2 / 364 - (35 + 6 * math.log(1e8)) / 1e4
    assert singleton_rate_bound(0.2, 364, 10**8) == pytest.approx(expected)
    assert singleton_rate_bound(0.2, 364, 10**8, delta=0.05) == pytest.approx(expected - 0.05)
    # N = 2000 (our world's scale): (35 + 6 ln 2000)/√2000 ≈ 1.80 > 1: vacuous
    assert singleton_rate_bound(0.3, 50, 2000) < 0


def test_iiv_bound_by_hand():
    assert iiv_bound(0.3, 2, 40) == pytest.approx(0.6 - 0.05)
    assert iiv_bound(0.3, 2, 40, delta=0.1) == pytest.approx(0.45)


def test_confidence_targets_by_hand():
    conf = np.array([0.95, 0.8, 0.6, 0.3])
    right = np.array([True, False, True, False])
    # t = 0: all answer: (1 + 0 + 1 + 0) / 4; wrong answers cost nothing
    assert confidence_target_scores(conf, right, 0.0) == {"score": 0.5, "abstain_rate": 0.0}
    # t = .75: answer the .95 (right, +1) and .8 (wrong, −3); abstain twice
    out = confidence_target_scores(conf, right, 0.75)
    assert out["score"] == pytest.approx((1 - 3) / 4) and out["abstain_rate"] == 0.5
    # all abstain
    assert confidence_target_scores(conf, right, 0.99) == {"score": 0.0, "abstain_rate": 1.0}


def test_binary_grading_never_rewards_abstaining_and_a_target_can():
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=500)
    right = rng.uniform(size=500) < conf  # calibrated: right with probability = confidence
    # t = 0: a wrong answer scores 0, like "I don't know", so no abstention can raise the score
    wrong_only = np.zeros(500, dtype=bool)
    assert confidence_target_scores(conf, wrong_only, 0.0)["score"] == 0.0
    assert confidence_target_scores(conf, wrong_only, 0.5)["score"] < 0  # at t > 0 it costs
    # t = .75: answering only above t beats answering everything (confidence 1 for all)
    at_t = confidence_target_scores(conf, right, 0.75)["score"]
    always = confidence_target_scores(np.ones(500), right, 0.75)["score"]
    assert at_t > 0 > always


def test_ece_by_hand():
    conf = np.array([0.1, 0.15, 0.9, 0.95, 1.0])
    right = np.array([0, 1, 1, 1, 0])
    ece, bins = expected_calibration_error(conf, right, n_bins=2)
    # bin [0, .5): conf .125, acc .5 (2 of 5); bin [.5, 1]: conf .95, acc 2/3 (3 of 5)
    assert ece == pytest.approx(0.4 * abs(0.5 - 0.125) + 0.6 * abs(2 / 3 - 0.95))
    assert [b["n"] for b in bins] == [2, 3]
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([1, 1]))[0] == 0.0
