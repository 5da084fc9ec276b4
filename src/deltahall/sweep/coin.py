"""Sweep objective of the coin experiment (paper §6.1): one training of the coin regressor.

The knobs (sweep.coin.space) override coin.model and coin.train; coin.eval scores every epoch.
Each seed has its own generated dataset (sweep.coin.n_choose, n_examples), the same in every
trial, so trials differ by their knobs only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from deltahall.coin import keys
from deltahall.coin.data import CoinData, generate_coin_data, split_train_val
from deltahall.coin.metrics import score_totals, state_pmfs
from deltahall.coin.train import predict, train_coin_model
from deltahall.config import Params
from deltahall.seeding import derive_seed
from deltahall.sweep.space import override, probes
from deltahall.sweep.trial import EpochCallback, SeedRun
from deltahall.theory import round_total

LOSS = keys.VAL_LOSS
RATE = keys.DELTA_RATE
SCORE = "P(K = k̂ | best state) of each validation estimate"


@lru_cache(maxsize=8)
def _data(
    n_choose: int, n_examples: int, val_fraction: float, seed: int
) -> tuple[CoinData, CoinData]:
    data = generate_coin_data(n_choose, n_examples, derive_seed("sweep-coin-data", n_choose, seed))
    return split_train_val(data, val_fraction)


def check(params: Params) -> None:
    """Fail before the first trial if the space's corners give an invalid coin config."""
    for knobs in probes(params.sweep.coin.space):
        _configs(params, knobs)


def base_params(params: Params) -> dict[str, Any]:
    return params.coin.model_dump(mode="json", include={"val_fraction", "model", "train", "eval"})


def _configs(params: Params, knobs: dict[str, Any]):
    where = "sweep.coin.space"
    return (override(params.coin.model, knobs, where), override(params.coin.train, knobs, where))


def train(params: Params, knobs: dict[str, Any], seed: int, on_epoch: EpochCallback) -> SeedRun:
    cfg = params.sweep.coin
    model_cfg, train_cfg = _configs(params, knobs)
    train_set, val = _data(cfg.n_choose, cfg.n_examples, params.coin.val_fraction, seed)
    result = train_coin_model(
        train_set,
        val,
        2 * cfg.n_choose,
        model_cfg,
        train_cfg,
        params.coin.eval,
        derive_seed("sweep-coin-train", seed),
        on_epoch,
    )
    estimates = round_total(predict(result.model, val.coin_ids), params.coin.eval.rounding)
    scores = score_totals(state_pmfs(val.state_probs), estimates, params.coin.eval.delta)
    return SeedRun(
        result.history, [round(float(s), 5) for s in scores["cond_prob"]], params.coin.eval.delta
    )
