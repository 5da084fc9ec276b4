"""The coin regressor: a transformer encoder over the N chosen coin labels (paper §6.1)."""

from __future__ import annotations

import torch
from torch import nn

from deltahall.coin.config import CoinModelConfig


class CoinTransformer(nn.Module):
    """Coin labels -> real-valued estimate of the number of heads.

    One token per chosen coin and no positional encoding: the total does not depend on the
    order in which coins were picked, so the model is a set function (mean-pooled encoder).
    """

    def __init__(self, n_coins: int, cfg: CoinModelConfig):
        super().__init__()
        self.embed = nn.Embedding(n_coins, cfg.d_model)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.n_heads, cfg.ff_dim, cfg.dropout, batch_first=True, norm_first=True
        )
        # nested tensors only help padded batches; ours are dense and fixed-length
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, 1))

    def forward(self, coin_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(coin_ids))
        return self.head(hidden.mean(dim=1)).squeeze(-1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
