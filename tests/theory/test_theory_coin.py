"""Exact reference values of the coin experiment (§6.1), checked against the brief's numbers."""

from itertools import combinations, product

import numpy as np
import pytest

from deltahall.theory import coin_head_probs, coin_reference_values, round_total


def test_head_probs() -> None:
    np.testing.assert_allclose(coin_head_probs(2), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(coin_head_probs(1), [0.5, 1.0])
    with pytest.raises(ValueError, match="n_choose"):
        coin_head_probs(0)


@pytest.mark.parametrize(
    "n, loss, opt, mode",
    [
        (2, 0.3125, 0.5000, 0.6042),
        (3, 0.4861, 0.4535, 0.5160),
        (5, 0.8250, 0.3704, 0.4114),
    ],
)
def test_reference_values_ceil(n: int, loss: float, opt: float, mode: float) -> None:
    ref = coin_reference_values(n, "ceil")
    assert set(ref) == {"optimal_loss", "optimal_cond_prob", "mode_cond_prob"}
    assert round(ref["optimal_loss"], 4) == loss
    assert round(ref["optimal_cond_prob"], 4) == opt
    assert round(ref["mode_cond_prob"], 4) == mode


def test_n2_loss_by_hand() -> None:
    # p(1-p) = 3/16, 1/4, 3/16, 0; each coin is in 3 of the 6 pairs: mean = 3·(10/16)/6
    assert coin_reference_values(2, "ceil")["optimal_loss"] == pytest.approx(0.3125, abs=1e-15)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("rounding", ["ceil", "round"])
def test_against_flip_enumeration(n: int, rounding: str) -> None:
    """Independent check: enumerate every subset and every head/tail outcome directly."""
    probs = coin_head_probs(n)
    opt, mode = [], []
    for subset in combinations(range(2 * n), n):
        q = probs[list(subset)]
        pmf = np.zeros(n + 1)
        for flips in product((0, 1), repeat=n):
            pmf[sum(flips)] += np.prod(np.where(flips, q, 1 - q))
        total = round(q.sum(), 9)
        k = int(np.ceil(total)) if rounding == "ceil" else int(np.floor(total + 0.5))
        opt.append(pmf[k])
        mode.append(pmf.max())
    ref = coin_reference_values(n, rounding)
    assert ref["optimal_cond_prob"] == pytest.approx(np.mean(opt), abs=1e-12)
    assert ref["mode_cond_prob"] == pytest.approx(np.mean(mode), abs=1e-12)


def test_round_total_rules() -> None:
    x = np.array([1.0, 1.5, 2.5, 0.49, 2.01])
    np.testing.assert_array_equal(round_total(x, "ceil"), [1, 2, 3, 1, 3])
    # half up, not numpy's half-to-even (which would give 2 for 2.5)
    np.testing.assert_array_equal(round_total(x, "round"), [1, 2, 3, 0, 2])


def test_round_total_ignores_float_noise() -> None:
    """Real N = 6 subsets whose exact sums are 3 and 7/2 but whose float sums are off by an ulp."""
    probs = coin_head_probs(6)
    over = probs[[1, 3, 4, 5, 8, 9]].sum()  # 3.0000000000000004: a bare ceil gives 4
    below = probs[[2, 3, 6, 7, 8, 10]].sum()  # 3.4999999999999996: a bare floor(x+.5) gives 3
    assert over > 3.0 and below < 3.5  # the artefacts this guards against are real
    assert round_total(np.array([over]), "ceil")[0] == 3
    assert round_total(np.array([below]), "round")[0] == 4
    with pytest.raises(ValueError, match="rounding"):
        round_total(np.array([1.0]), "floor")  # type: ignore[arg-type]
