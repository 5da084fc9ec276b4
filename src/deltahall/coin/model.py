"""The coin regressor: a transformer encoder over the N chosen coin labels (paper §6.1)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from deltahall.coin.config import CoinModelConfig


class CoinTransformer(nn.Module):
    """Coin labels -> real-valued estimate of the number of heads.

    One token per chosen coin and no positional encoding: the total does not depend on the
    order in which coins were picked, so the model is a set function (mean-pooled encoder).

    The layers are PyTorch's own pre-norm `nn.TransformerEncoderLayer`s (their parameters,
    initialisation and state dict), but the forward pass is written out here: for N <= 12
    tokens, plain matmul attention is cheaper on the CPU than the generic scaled-dot-product
    kernel and the modules' dispatch (15 % per step at N = 2, measured), same arithmetic.
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
        self.n_heads, self.dropout = cfg.n_heads, cfg.dropout

    def forward(self, coin_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(coin_ids)
        for layer in self.encoder.layers:
            hidden = self._layer(layer, hidden)
        return self.head(hidden.mean(dim=1)).squeeze(-1)

    def _layer(self, layer: nn.TransformerEncoderLayer, x: torch.Tensor) -> torch.Tensor:
        """x + SA(LN1(x)), then + FF(LN2(.)): nn.TransformerEncoderLayer with norm_first,
        ReLU, dropout on the attention weights and after each block."""
        p = self.dropout if self.training else 0.0
        batch, tokens, width = x.shape
        heads, attn = self.n_heads, layer.self_attn
        h = F.layer_norm(x, (width,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
        qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)
        q, k, v = qkv.view(batch, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
        weights = ((q @ k.transpose(-1, -2)) * (width // heads) ** -0.5).softmax(dim=-1)
        mixed = (F.dropout(weights, p) @ v).transpose(1, 2).reshape(batch, tokens, width)
        x = x + F.dropout(F.linear(mixed, attn.out_proj.weight, attn.out_proj.bias), p)
        h = F.layer_norm(x, (width,), layer.norm2.weight, layer.norm2.bias, layer.norm2.eps)
        h = F.dropout(F.relu(layer.linear1(h)), p)
        return x + F.dropout(layer.linear2(h), p)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
