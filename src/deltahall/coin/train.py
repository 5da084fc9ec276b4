"""Training loop of the coin regressor: MSE on the observed number of heads, exact scoring
of the validation estimates after every epoch. No I/O: the caller gets each epoch's metrics
through `on_epoch` and decides where they go (files first, MLflow second)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from deltahall.coin import keys
from deltahall.coin.config import CoinEvalConfig, CoinModelConfig, CoinTrainConfig
from deltahall.coin.data import CoinData
from deltahall.coin.metrics import score_estimates, state_pmfs
from deltahall.coin.model import CoinTransformer
from deltahall.seeding import seed_everything

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    model: CoinTransformer
    history: list[dict[str, float]] = field(default_factory=list)


def predict(model: nn.Module, coin_ids: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(coin_ids), batch_size):
            batch = torch.from_numpy(coin_ids[start : start + batch_size])
            out.append(model(batch).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: CoinData,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass in a seeded random order; returns the example-weighted mean training MSE."""
    model.train()
    coin_ids = torch.from_numpy(data.coin_ids)
    targets = torch.from_numpy(data.heads).float()
    order = torch.randperm(len(data), generator=generator)
    total, seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        loss = nn.functional.mse_loss(model(coin_ids[idx]), targets[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
        seen += len(idx)
    return total / seen


def train_coin_model(
    train: CoinData,
    val: CoinData,
    n_coins: int,
    model_cfg: CoinModelConfig,
    train_cfg: CoinTrainConfig,
    eval_cfg: CoinEvalConfig,
    seed: int,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train from `seed` (same seed, same numbers) and score the validation set every epoch.

    Metrics per epoch: train/loss, val/loss, val/cond_prob (mean exact P(K = k_hat | state) of
    the rounded estimate under its best-matching latent state), val/delta_hall_rate.
    """
    torch.set_num_threads(train_cfg.torch_threads)
    seed_everything(seed)
    model = CoinTransformer(n_coins, model_cfg)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    val_pmfs = state_pmfs(val.state_probs)  # exact, computed once
    result = TrainResult(model)
    for epoch in range(1, train_cfg.epochs + 1):
        started = time.perf_counter()
        train_loss = train_one_epoch(model, optimizer, train, train_cfg.batch_size, generator)
        scores = score_estimates(
            predict(model, val.coin_ids), val.heads, val_pmfs, eval_cfg.rounding, eval_cfg.delta
        )
        metrics = {
            keys.TRAIN_LOSS: train_loss,
            **{keys.val_key(k): v for k, v in scores.items()},
            keys.EPOCH_TIME: time.perf_counter() - started,
        }
        result.history.append({"epoch": epoch, **metrics})
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    return result
