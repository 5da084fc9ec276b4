"""Training loop of the coin regressor: MSE on the observed number of heads, exact scoring
of the validation estimates after every epoch. No I/O: the caller gets each epoch's metrics
through `on_epoch` and decides where they go (files first, MLflow second)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from deltahall.coin import keys
from deltahall.coin.config import CoinEvalConfig, CoinModelConfig, CoinTrainConfig
from deltahall.coin.data import CoinData
from deltahall.coin.metrics import score_estimates, state_pmfs
from deltahall.coin.model import CoinTransformer
from deltahall.coin.optim import FlatAdamW, flat_parameters
from deltahall.coin.step import ManualStep
from deltahall.seeding import seed_everything

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    model: CoinTransformer
    history: list[dict[str, float]] = field(default_factory=list)


def canonical(coin_ids: np.ndarray) -> np.ndarray:
    """Each example's coins in label order: the model is a set function (no positions, mean
    pooling), so the draw order carries nothing, and equal sets become equal rows."""
    return np.sort(coin_ids, axis=1)


@dataclass
class DistinctSets:
    """A dataset's coin sets folded to the at most C(2N, N) distinct ones (6, 20, 252)."""

    sets: torch.Tensor  # (S, N) each distinct set once
    index: torch.Tensor  # (M,) which distinct set each example holds

    @classmethod
    def of(cls, coin_ids: np.ndarray) -> DistinctSets:
        sets, index = np.unique(canonical(coin_ids), axis=0, return_inverse=True)
        return cls(torch.from_numpy(sets), torch.from_numpy(index.reshape(-1)))


def predict(model: nn.Module, coin_ids: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The model's estimate for every example: one forward pass per distinct coin set."""
    model.eval()
    folded = DistinctSets.of(coin_ids)
    out = []
    with torch.no_grad():
        for start in range(0, len(folded.sets), batch_size):
            out.append(model(folded.sets[start : start + batch_size]).double())
    return torch.cat(out)[folded.index].numpy() if out else np.zeros(0)


def _collapsed_batch(folded: DistinctSets, idx, targets) -> tuple:
    """(sets, mean targets, weights, spread) of a batch with each distinct set once:
    Σ_sets (count / B) (f(set) − mean target)² has exactly the gradient of the plain MSE;
    the within-set variance of the targets (`spread`), which has none, is added back to the
    reported loss."""
    index, y = folded.index[idx], targets[idx]
    counts = torch.bincount(index, minlength=len(folded.sets))
    present = counts.nonzero().squeeze(1)
    mean = torch.bincount(index, weights=y, minlength=len(folded.sets)) / counts.clamp(min=1)
    share = counts[present].float() / len(idx)
    spread = ((y - mean[index]) ** 2).mean().item()
    return folded.sets[present], mean[present].float(), share, spread


def train_one_epoch(
    model: nn.Module,
    optimizer: FlatAdamW,
    data: CoinData,
    batch_size: int,
    generator: torch.Generator,
    collapse: bool = False,
) -> float:
    """One pass in a seeded random order; returns the example-weighted mean training MSE.
    `collapse` forwards each distinct coin set of a batch once (exact without dropout).
    Gradients come from the written-out backward pass of `step.ManualStep`."""
    model.train()
    step = ManualStep(model, optimizer.param)
    folded = DistinctSets.of(data.coin_ids)
    coin_ids = folded.sets[folded.index]
    targets = torch.from_numpy(data.heads).double()
    order = torch.randperm(len(data), generator=generator)
    total, seen = 0.0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if collapse:
            sets, means, weights, spread = _collapsed_batch(folded, idx, targets)
            value = step(sets, means, weights) + spread
        else:
            weights = torch.full((len(idx),), 1.0 / len(idx))
            value = step(coin_ids[idx], targets[idx].float(), weights)
        optimizer.step()
        total += value * len(idx)
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
    # the step's matmuls run in scipy's BLAS (coin/fused.py): as many threads as torch's
    with threadpool_limits(train_cfg.torch_threads, user_api="blas"):
        return _train(train, val, n_coins, model_cfg, train_cfg, eval_cfg, seed, on_epoch)


def _train(train, val, n_coins, model_cfg, train_cfg, eval_cfg, seed, on_epoch) -> TrainResult:
    seed_everything(seed)
    model = CoinTransformer(n_coins, model_cfg)
    if train_cfg.collapse_duplicates and model_cfg.dropout > 0:
        raise ValueError(
            f"coin.train.collapse_duplicates is exact only without dropout; coin.model.dropout "
            f"is {model_cfg.dropout} (set one of them off)"
        )
    optimizer = FlatAdamW(flat_parameters(model), train_cfg.lr, train_cfg.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    val_pmfs = state_pmfs(val.state_probs)  # exact, computed once
    result = TrainResult(model)
    for epoch in range(1, train_cfg.epochs + 1):
        started = time.perf_counter()
        train_loss = train_one_epoch(
            model, optimizer, train, train_cfg.batch_size, generator, train_cfg.collapse_duplicates
        )
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
