"""Theorem 5.1's lower bound: the optimisation over α, hand cases and vacuous cases."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltahall.theory import best_alpha, theorem_5_1_lower_bound


def test_hand_case_r_zero() -> None:
    """N = 10, uniform p, equal σ, r = 0: k = d²/σ = 1/10 and with t = α² the objective
    (1 − 1/t)(1 − k t)² is stationary where 2k t² − k t − 1 = 0, i.e. t = 2.5, P = 0.6·0.75²."""
    res = theorem_5_1_lower_bound(np.full(10, 0.1), np.full(10, 5.0), np.full(10, 1 / 3), 0.0)
    assert res.d == pytest.approx(math.sqrt(0.5))
    np.testing.assert_allclose(res.alphas**2, 2.5, rtol=1e-7)
    np.testing.assert_allclose(res.P, 0.3375, rtol=1e-12)
    assert res.all_applicable
    assert res.bound == pytest.approx((0.3375 / 3) ** 10, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**31 - 1))
def test_r_zero_closed_form(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, sigma = rng.dirichlet(np.ones(n)), rng.uniform(0.1, 10, size=n)
    res = theorem_5_1_lower_bound(p, sigma, np.ones(n), 0.0)
    for i in range(n):
        k = res.d**2 / sigma[i]
        t = (k + math.sqrt(k * k + 8 * k)) / (4 * k)
        if k < 1:  # α_max² = 1/k > 1 and the stationary point lies inside (1, α_max)
            assert res.alphas[i] ** 2 == pytest.approx(t, rel=1e-6)
            assert res.P[i] == pytest.approx((1 - 1 / t) * (1 - k * t) ** 2, rel=1e-9, abs=1e-15)
        else:
            assert not res.applicable[i] and res.P[i] == 0.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 3.0), st.floats(0.0, 3.0), st.floats(0.5, 50.0))
def test_best_alpha_beats_a_dense_grid(d: float, r: float, sigma: float) -> None:
    alpha, best = best_alpha(d, r, sigma)
    alpha_max = (math.sqrt(sigma) - r) / d
    if alpha_max <= 1:
        assert math.isnan(alpha) and best == 0.0
        return
    grid = np.linspace(1, alpha_max, 20_001)
    values = (1 - grid**-2) * (1 - (grid * d + r) ** 2 / sigma) ** 2
    assert 1 < alpha <= alpha_max
    assert best >= values.max() - 1e-9
    assert best == pytest.approx((1 - alpha**-2) * (1 - (alpha * d + r) ** 2 / sigma) ** 2)


def test_single_state_is_always_vacuous() -> None:
    # N = 1: d = √σ, so θ(α) = (α√σ + r)²/σ > 1 for every α > 1
    res = theorem_5_1_lower_bound([1.0], [4.0], [0.5], 0.0)
    assert not res.all_applicable and res.bound == 0.0 and math.isnan(res.alphas[0])


def test_one_vacuous_state_zeroes_the_bound() -> None:
    # state 0: √0.4 ≈ 0.632 < d = √(0.01 (0.4 + 45)) ≈ 0.674, so α_max < 1
    res = theorem_5_1_lower_bound(np.full(10, 0.1), [0.4] + [5.0] * 9, np.ones(10), 0.0)
    assert list(res.applicable) == [False] + [True] * 9
    assert res.bound == 0.0 and res.P[1] > 0


@pytest.mark.parametrize(
    "args, match",
    [
        (([0.5, 0.5], [1.0, 1.0], [1.5, 0.5], 0.0), "kurtosis"),
        (([0.5, 0.5], [0.0, 1.0], [0.5, 0.5], 0.0), "sigma_d"),
        (([0.5, 0.5], [1.0, 1.0], [0.5, 0.5], -1.0), "r must"),
        (([0.5, 0.5], [1.0], [0.5, 0.5], 0.0), "same length"),
        (([0.5, 0.6], [1.0, 1.0], [0.5, 0.5], 0.0), "sum to 1"),
    ],
)
def test_validates(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        theorem_5_1_lower_bound(*args)
