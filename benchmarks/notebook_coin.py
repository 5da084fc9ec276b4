"""A straightforward notebook-style implementation of the coin experiment (paper §6.1), kept
as the yardstick of `make bench` (issue 15): nothing here is used by the pipeline.

The N chosen coins are packed into one input vector (a multi-hot of the 2N labels), so the
transformer sees a single token; Adam on the MSE, batch-64 training, then a batch-1 validation
pass that rounds each estimate and scores it with a pure-Python Poisson-binomial DP per state.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn


class PackedCoinModel(nn.Module):
    def __init__(self, n_coins: int, d: int, heads: int, layers: int, ff: int, dropout: float):
        super().__init__()
        self.inp = nn.Linear(n_coins, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.encoder(self.inp(x).unsqueeze(1))[:, 0]).squeeze(-1)


def poisson_binomial(probs: list[float]) -> list[float]:
    pmf = [1.0]
    for p in probs:
        nxt = [0.0] * (len(pmf) + 1)
        for k, mass in enumerate(pmf):
            nxt[k] += mass * (1 - p)
            nxt[k + 1] += mass * p
        pmf = nxt
    return pmf


def packed(coin_ids: np.ndarray, n_coins: int) -> torch.Tensor:
    x = np.zeros((len(coin_ids), n_coins), dtype=np.float32)
    np.put_along_axis(x, coin_ids, 1.0, axis=1)
    return torch.from_numpy(x)


def train_epoch(model, optimizer, x, y, batch_size: int, generator) -> float:
    model.train()
    order = torch.randperm(len(x), generator=generator)
    total = 0.0
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(x)


def validate(model, x, state_probs: np.ndarray, delta: float) -> tuple[float, float]:
    """(mean P(K = k̂ | best state), δ-hallucination rate), one example at a time."""
    model.eval()
    cond, hallucinated = 0.0, 0
    with torch.no_grad():
        for i in range(len(x)):
            k_hat = math.ceil(model(x[i : i + 1]).item())
            probs = []
            for state in state_probs[i]:
                pmf = poisson_binomial([float(p) for p in state])
                probs.append(pmf[k_hat] if 0 <= k_hat < len(pmf) else 0.0)
            cond += max(probs)
            hallucinated += all(p <= delta for p in probs)
    return cond / len(x), hallucinated / len(x)


class NotebookRun:
    """The notebook's experiment, one epoch (train pass + validation pass) per `epoch()` call,
    so that `make bench` can interleave its epochs with deltahall's."""

    def __init__(self, train, val, n_coins: int, cfg: dict):
        torch.manual_seed(0)
        self.model = PackedCoinModel(
            n_coins, cfg["d_model"], cfg["n_heads"], cfg["n_layers"], cfg["ff_dim"], cfg["dropout"]
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"])
        self.generator = torch.Generator().manual_seed(0)
        self.x_train = packed(train.coin_ids, n_coins)
        self.y_train = torch.from_numpy(train.heads).float()
        self.x_val, self.state_probs = packed(val.coin_ids, n_coins), val.state_probs
        self.batch_size = cfg["batch_size"]

    def epoch(self) -> float:
        """Wall seconds of one more epoch."""
        started = time.perf_counter()
        train_epoch(
            self.model, self.optimizer, self.x_train, self.y_train, self.batch_size, self.generator
        )
        validate(self.model, self.x_val, self.state_probs, 0.2955)
        return time.perf_counter() - started
