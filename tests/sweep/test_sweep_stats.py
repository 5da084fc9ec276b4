"""The pure statistics of the sweeps, checked against hand computations (and scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from deltahall.sweep import stats
from deltahall.sweep.analysis import analyse, within_runs


def test_spearman_and_kendall_by_hand():
    # d = ranks(loss) - ranks(rate) = [0, -1, 1, 0]: rho = 1 - 6*2 / (4*15) = 0.8
    # pairs: (2,3) discordant, the other 5 concordant: tau = (5 - 1) / 6
    assert stats.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert stats.kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert stats.spearman([1, 2, 3], [9, 5, 1]) == pytest.approx(-1.0)
    assert stats.kendall([1, 2, 3], [9, 5, 1]) == pytest.approx(-1.0)


def test_ties_use_average_ranks_and_tau_b():
    # rate ranks [1.5, 1.5, 3.5, 3.5]: centred loss ranks [-1.5, -.5, .5, 1.5], rate [-1, -1, 1, 1]
    # rho = 4 / sqrt(5 * 4); tau-b: C = 4, D = 0, 6 pairs, 2 tied in rate: 4 / sqrt(6 * 4)
    loss, rate = [1, 2, 3, 4], [0, 0, 1, 1]
    assert stats.spearman(loss, rate) == pytest.approx(4 / math.sqrt(20))
    assert stats.kendall(loss, rate) == pytest.approx(4 / math.sqrt(24))


def test_agree_with_scipy_on_random_data_with_ties():
    rng = np.random.default_rng(0)
    loss, rate = rng.normal(size=30), rng.integers(0, 4, size=30).astype(float)
    assert stats.spearman(loss, rate) == pytest.approx(scipy_stats.spearmanr(loss, rate)[0])
    assert stats.kendall(loss, rate) == pytest.approx(scipy_stats.kendalltau(loss, rate)[0])


def test_no_variation_has_no_correlation_but_a_still_rate_has_no_association():
    assert math.isnan(stats.spearman([1, 2, 3], [0.5, 0.5, 0.5]))
    assert math.isnan(stats.kendall([1, 1, 1], [1, 2, 3]))
    # the loss moved, the rate did not: association 0 (the rate was not lowered)
    assert stats.association([1, 2, 3], [0.5, 0.5, 0.5], "kendall") == 0.0
    assert stats.correlation_ci([1, 2, 3], [2, 2, 2]) == (0.0, 0.0, 0.0)
    assert math.isnan(stats.association([1, 1, 1], [1, 2, 3]))  # the loss did not move
    assert all(math.isnan(v) for v in stats.correlation_ci([1, 1, 1], [1, 2, 3]))
    assert all(math.isnan(v) for v in stats.correlation_ci([1, 2], [1, 2]))  # < 3 pairs


def test_correlation_ci_by_enumeration():
    # Pairs a=(1,1), b=(2,3), c=(3,2). Of the 27 equally likely resamples, 3 repeat one pair
    # (left out), 6 hold all three (rho 0.5, tau 1/3), 12 hold {a,b} or {a,c} (+1) and 6 hold
    # {b,c} (-1). So P(-1) = .25, P(0.5) = .25, P(1) = .5: the 30 % and 70 % quantiles (a 40 %
    # interval) are 0.5 and 1.
    loss, rate = [1, 2, 3], [1, 3, 2]
    est, low, high = stats.correlation_ci(loss, rate, "spearman", n_boot=4000, level=0.4)
    assert (est, low, high) == pytest.approx((0.5, 0.5, 1.0))
    est, low, high = stats.correlation_ci(loss, rate, "kendall", n_boot=4000, level=0.4)
    assert (est, low, high) == pytest.approx((1 / 3, 1 / 3, 1.0))
    # 95 %: the 2.5 % quantile is -1
    assert stats.correlation_ci(loss, rate, n_boot=4000)[1] == pytest.approx(-1.0)


def test_correlation_ci_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    loss = rng.normal(size=20)
    rate = loss + rng.normal(size=20)
    first = stats.correlation_ci(loss, rate, seed=3)
    assert first == stats.correlation_ci(loss, rate, seed=3)
    assert first[1] <= first[0] <= first[2]
    assert stats.correlation_ci(np.arange(10), np.arange(10) ** 2) == pytest.approx((1, 1, 1))
    with pytest.raises(ValueError, match="unknown correlation"):
        stats.correlation_ci(loss, rate, "pearson")


def test_verdict_rule_is_symmetric():
    assert stats.verdict(0.35, 0.6, 0.3) == stats.LOWERS
    assert stats.verdict(0.1, 0.6, 0.3) == stats.INCONCLUSIVE  # above 0, not above +m
    assert stats.verdict(-0.05, 0.29, 0.3) == stats.DOES_NOT  # inside (-m, +m)
    assert stats.verdict(-0.5, 0.2, 0.3) == stats.INCONCLUSIVE  # straddles -m
    assert stats.verdict(-0.9, -0.4, 0.3) == stats.DOES_NOT  # below -m: lower loss, more rate
    assert stats.verdict(-0.2, 0.5, 0.3) == stats.INCONCLUSIVE
    assert stats.verdict(-0.1, 0.3, 0.3) == stats.INCONCLUSIVE  # 0.3 is not below 0.3
    assert stats.verdict(0.3, 0.9, 0.3) == stats.INCONCLUSIVE  # 0.3 is not above 0.3
    # the same evidence either way: mirror images get mirror verdicts
    assert stats.verdict(0.31, 0.9, 0.3) == stats.LOWERS
    assert stats.verdict(-0.9, -0.31, 0.3) == stats.DOES_NOT
    assert stats.verdict(float("nan"), float("nan")) == stats.INCONCLUSIVE


def test_cluster_bootstrap_resamples_whole_trials():
    # trial 0's two seeds agree (+1, +1); trial 1's two agree (-1, -1): resampling trials
    # gives means of only -1, 0, +1; resampling runs as if independent gives -0.5 and +0.5 too
    values, trials = [1.0, 1.0, -1.0, -1.0], [0, 0, 1, 1]
    est, low, high = stats.cluster_mean_ci(values, trials, n_boot=2000, level=0.5, seed=1)
    assert est == 0.0 and {low, high} <= {-1.0, 0.0, 1.0}
    per_run = stats.cluster_mean_ci(values, [0, 1, 2, 3], n_boot=2000, level=0.5, seed=1)
    assert {per_run[1], per_run[2]} == {-0.5, 0.5}
    assert all(math.isnan(v) for v in stats.cluster_mean_ci([1.0, 2.0], [0, 0]))


def test_pareto_front_by_hand():
    points = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 5)]
    # (3,4) is dominated by (2,3), (5,5) by (2,3) and (4,1); both copies of (2,3) stay
    assert stats.pareto_front(points).tolist() == [True, True, False, True, True, False]
    assert stats.pareto_front(np.zeros((0, 2))).tolist() == []


def test_the_within_run_ci_ignores_undefined_runs():
    runs = [0, 1, 2]  # each run its own cluster
    assert stats.cluster_mean_ci([float("nan"), 0.5, 0.5], runs) == pytest.approx((0.5, 0.5, 0.5))
    assert all(math.isnan(v) for v in stats.cluster_mean_ci([float("nan"), 0.5], runs[:2]))


def test_analyse_gives_each_verdict():
    loss = np.arange(6.0)
    up = analyse(loss, loss / 10, [], n_boot=200)
    assert up["verdict"] == stats.LOWERS
    assert up["across_trials"]["spearman"] == pytest.approx({"estimate": 1, "low": 1, "high": 1})
    assert analyse(loss, -loss, [], n_boot=200)["verdict"] == stats.DOES_NOT
    still = analyse(loss, np.full(6, 1.0), [], n_boot=200)  # every trial hallucinates always
    assert still["verdict"] == stats.DOES_NOT and still["rate_range"] == [1.0, 1.0]
    assert still["across_trials"]["kendall"] == {"estimate": 0.0, "low": 0.0, "high": 0.0}
    few = analyse(loss[:2], loss[:2], [], n_boot=200)
    assert few["verdict"] == stats.INCONCLUSIVE


def test_within_runs_by_hand():
    # run 1: loss falls, rate falls (+1); run 2: loss falls, rate rises (-1); run 3: rate still
    # (0); run 4: the loss never moves (undefined); run 5: 2 epochs only (left out).
    # Mean over the 3 defined runs: (1 - 1 + 0) / 3 = 0. Resampling the 3 values: P(mean = -1)
    # = 1/27 (3.7 %), P(mean = -2/3) = 3/27: the 5 % quantile is -2/3, the 95 % one +2/3, and
    # the 2.5 % / 97.5 % ones are -1 and +1.
    curves = [
        (np.array([3.0, 2, 1]), np.array([0.3, 0.2, 0.1])),
        (np.array([3.0, 2, 1]), np.array([0.1, 0.2, 0.3])),
        (np.array([3.0, 2, 1]), np.array([0.2, 0.2, 0.2])),
        (np.array([1.0, 1, 1]), np.array([0.3, 0.2, 0.1])),
        (np.array([2.0, 1]), np.array([0.2, 0.1])),
    ]
    out = within_runs(curves, n_boot=4000, level=0.9, seed=0)
    assert out["n_runs"] == 4 and out["n_defined_spearman"] == 3 and out["n_rate_constant"] == 1
    assert out["spearman"] == pytest.approx({"estimate": 0.0, "low": -2 / 3, "high": 2 / 3})
    wide = within_runs(curves, n_boot=4000, level=0.95, seed=0)["kendall"]
    assert wide == pytest.approx({"estimate": 0.0, "low": -1.0, "high": 1.0})
