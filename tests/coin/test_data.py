"""Coin data generation (paper §6.1): the distribution it promises, and determinism."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from deltahall.coin.data import (
    generate_coin_data,
    load_coin_data,
    regime_table,
    save_coin_data,
    split_train_val,
)
from deltahall.theory import coin_head_probs


def test_examples_choose_n_distinct_coins_uniformly():
    data = generate_coin_data(2, 30_000, seed=1)
    assert data.coin_ids.shape == (30_000, 2) and data.coin_ids.dtype == np.int64
    assert (data.coin_ids[:, 0] != data.coin_ids[:, 1]).all()
    subsets, counts = np.unique(np.sort(data.coin_ids, axis=1), axis=0, return_counts=True)
    assert len(subsets) == comb(4, 2)
    # each of the 6 subsets ~ 5000 times; 5 sigma of a binomial(30000, 1/6) is ~ 320
    assert np.abs(counts - 5000).max() < 320


def test_heads_follow_the_chosen_coins_probabilities():
    data = generate_coin_data(3, 40_000, seed=2)
    expected = data.state_probs[:, 0, :].sum(axis=1)
    assert abs(data.heads.mean() - expected.mean()) < 0.02
    # coin 5 (p = 1) always lands heads: any example that chose it has >= 1 head
    assert (data.heads[(data.coin_ids == 5).any(axis=1)] >= 1).all()
    assert data.heads.min() >= 0 and data.heads.max() <= 3


def test_hidden_variant_draws_an_unrevealed_regime():
    table, weights = regime_table(3, "hidden", shrink=0.2)
    np.testing.assert_allclose(table[0], coin_head_probs(3) * 0.2)
    np.testing.assert_allclose(table[1], 1 - (1 - coin_head_probs(3)) * 0.2)
    data = generate_coin_data(3, 20_000, seed=3, variant="hidden", shrink=0.2)
    assert data.state_probs.shape == (20_000, 2, 3)
    assert abs(data.state.mean() - 0.5) < 0.02
    # bimodal totals: low regime mostly 0-1 heads, high regime mostly 2-3
    assert data.heads[data.state == 0].mean() < 0.9 and data.heads[data.state == 1].mean() > 2.1


def test_same_seed_same_data_and_save_load_round_trip(tmp_path):
    a, b = generate_coin_data(2, 500, seed=7), generate_coin_data(2, 500, seed=7)
    assert np.array_equal(a.coin_ids, b.coin_ids) and np.array_equal(a.heads, b.heads)
    assert not np.array_equal(a.heads, generate_coin_data(2, 500, seed=8).heads)
    save_coin_data(a, tmp_path / "d" / "x.npz")
    c = load_coin_data(tmp_path / "d" / "x.npz", n_coins=6)
    assert np.array_equal(a.state_probs, c.state_probs) and np.array_equal(a.heads, c.heads)
    with pytest.raises(FileNotFoundError, match="coin-data"):
        load_coin_data(tmp_path / "missing.npz", n_coins=6)


def test_split_keeps_every_example_once():
    data = generate_coin_data(2, 100, seed=0)
    train, val = split_train_val(data, 0.2)
    assert (len(train), len(val)) == (80, 20)
    assert np.array_equal(np.concatenate([train.heads, val.heads]), data.heads)
    with pytest.raises(ValueError, match="unknown coin variant"):
        regime_table(2, "secret")
