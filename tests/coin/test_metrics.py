"""Exact coin scores against hand computations and the issue's reference figures."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.coin.data import regime_table
from deltahall.coin.metrics import (
    pmf_at,
    population_reference,
    reference_estimators,
    score_estimates,
    state_pmfs,
)
from deltahall.theory import coin_reference_values


def test_pmf_lookup_is_zero_outside_support():
    pmfs = state_pmfs(np.array([[[0.25, 0.75]]]))  # by hand: 0.1875, 0.625, 0.1875
    np.testing.assert_allclose(pmfs[0, 0], [0.1875, 0.625, 0.1875])
    np.testing.assert_allclose(
        pmf_at(np.repeat(pmfs, 4, 0), np.array([-1, 0, 1, 3]))[:, 0], [0, 0.1875, 0.625, 0]
    )


def test_score_estimates_by_hand():
    # coins {0.25, 0.75}: estimate 0.4 -> ceil 1 -> P = 0.625 ; estimate 1.7 -> 2 -> 0.1875
    pmfs = state_pmfs(np.array([[[0.25, 0.75]], [[0.25, 0.75]]]))
    scores = score_estimates(np.array([0.4, 1.7]), np.array([1, 2]), pmfs, "ceil", delta=0.2)
    assert scores["loss"] == pytest.approx((0.6**2 + 0.3**2) / 2)
    assert scores["cond_prob"] == pytest.approx((0.625 + 0.1875) / 2)
    assert scores["delta_hall_rate"] == pytest.approx(0.5)  # 0.1875 <= 0.2 < 0.625


@pytest.mark.parametrize(
    "n, loss, opt, mode",
    [(2, 0.3125, 0.5000, 0.6042), (3, 0.4861, 0.4535, 0.5160), (5, 0.8250, 0.3704, 0.4114)],
)
def test_population_reference_matches_the_issue_figures(n, loss, opt, mode):
    table, weights = regime_table(n, "observed")
    ref = population_reference(table, weights, n, "ceil", delta=0.25)
    assert round(ref["optimal_loss"], 4) == loss
    assert round(ref["optimal_cond_prob"], 4) == opt
    assert round(ref["mode_cond_prob"], 4) == mode
    # the mode is the best any estimator can do on cond_prob
    assert ref["mode_cond_prob"] >= ref["optimal_cond_prob"]


def test_irreducible_loss_is_sum_p_one_minus_p():
    probs = np.array([[[0.1, 0.5, 0.9]]])
    refs = reference_estimators(state_pmfs(probs), np.ones(1))
    assert refs["optimal"][0] == pytest.approx(1.5)
    assert refs["optimal_var"][0] == pytest.approx(0.09 + 0.25 + 0.09)


def test_hidden_regimes_make_the_l2_optimum_hallucinate():
    table, weights = regime_table(4, "hidden", shrink=0.1)  # the default profile's variant
    ref = population_reference(table, weights, 4, "ceil", delta=0.25)
    # between the modes the optimum fits neither regime, while the mode does
    assert ref["optimal_delta_hall_rate"] > 0.9
    assert ref["mode_delta_hall_rate"] < 0.1


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("rounding", ["ceil", "round"])
def test_population_reference_agrees_with_theory(n, rounding):
    """The S-state scorer with one state must equal theory's closed enumeration."""
    table, weights = regime_table(n, "observed")
    mine = population_reference(table, weights, n, rounding, delta=0.25)
    theirs = coin_reference_values(n, rounding)
    for key in ("optimal_loss", "optimal_cond_prob"):
        assert mine[key] == pytest.approx(theirs[key], abs=1e-12)
    assert mine["mode_cond_prob"] == pytest.approx(theirs["mode_cond_prob"], abs=1e-12)
