"""One training step of the coin regressor with its backward pass written out (issue 15).

The model is tiny (d 64, at most 12 tokens), so autograd's bookkeeping, the generic
attention kernels and PyTorch's Bernoulli sampler cost more than the arithmetic. This step
computes the loss and the gradients of `CoinTransformer.forward` + `backward()` (tests
compare them to float rounding) with kernels that suit the shapes: rows token-major, so
attention over the few tokens runs as compiled loops with the batch innermost
(coin/kernels.py); 2-D matmuls; no bool tensors (slow to convert on the CPU); each
gradient written in place into the flat buffer the optimizer steps.

Dropout masks: an element is kept iff its 16-bit field of a counter-based random stream is
below the (1 - p) quantile of the field's range, so p is honoured to 1/65536 (p = 0.1 drops
with probability 0.100006), written in one compiled pass (coin/kernels.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from deltahall.coin import kernels
from deltahall.coin.model import CoinTransformer

LN = torch.native_layer_norm  # the direct binding: 3 µs a call less than torch.ops'
LN_BACKWARD = torch.ops.aten.native_layer_norm_backward
FIELD = 1 << 16  # a mask element's random field: 16 bits
ALL = [True, True, True]
NO_MASK = np.zeros((0, 0, 0, 0), dtype=np.float32)


def _linear(x: torch.Tensor, module) -> torch.Tensor:
    return torch.addmm(module.bias, x, module.weight.t())


def _linear_backward(grad: torch.Tensor, x: torch.Tensor, module) -> torch.Tensor:
    """Write d weight, d bias of y = x W^T + b into `.grad`; return d x."""
    torch.mm(grad.t(), x, out=module.weight.grad)
    torch.sum(grad, 0, out=module.bias.grad)
    return grad @ module.weight


def _norm_backward(grad: torch.Tensor, x: torch.Tensor, norm, mean, rstd) -> torch.Tensor:
    dx, d_weight, d_bias = LN_BACKWARD(
        grad, x, norm.normalized_shape, mean, rstd, norm.weight, norm.bias, ALL
    )
    norm.weight.grad.copy_(d_weight)
    norm.bias.grad.copy_(d_bias)
    return dx


def dropout_masks(p: float, sizes: list[int], buffers: dict | None = None) -> list[torch.Tensor]:
    """A step's dropout masks, scaled by 1 / (1 - p): `kernels.dropout_masks` from a seed drawn
    from torch's global generator (seeded once per run: same seed, same masks). `buffers`
    keeps the masks' memory from one step to the next: megabytes allocated afresh each step
    are mapped afresh, a page fault every 4 KiB (720 a step at N = 5, measured)."""
    total = sum(sizes)
    masks = None if buffers is None else buffers.get(total)
    if masks is None:
        masks = torch.empty(total)
        if buffers is not None:
            buffers[total] = masks
    seed = np.uint64(torch.randint(0, 2**63 - 1, ()).item())
    threshold, scale = np.uint64(round(FIELD * (1.0 - p))), np.float32(1.0 / (1.0 - p))
    kernels.dropout_masks(seed, threshold, scale, masks.numpy())
    return list(masks.split(sizes))


def _flat(mask: torch.Tensor | None) -> np.ndarray:
    """A mask as the kernels take it: flat, or empty for no dropout."""
    return NO_MASK.reshape(0) if mask is None else mask.numpy()


def _plain(module: torch.nn.Module) -> SimpleNamespace:
    """A module's parameters and settings (recursively) as plain attributes: nn.Module's
    attribute lookup costs a microsecond, a few hundred times a step here."""
    found = {name: getattr(module, name, None) for name in ("eps", "normalized_shape")}
    found |= dict(module.named_parameters(recurse=False))
    found |= {name: _plain(child) for name, child in module.named_children()}
    return SimpleNamespace(**{k: v for k, v in found.items() if v is not None})


class ManualStep:
    """`step(coin_ids, targets, weights)`: loss = Σ_b w_b (f(x_b) − target_b)², every
    parameter's `.grad` set, the loss returned as a float. Plain MSE: w = 1/B; collapsed
    batches: w = count / B per distinct set. Hidden rows are token-major (t·B + b)."""

    def __init__(self, model: CoinTransformer):
        self.model, self.heads = model, model.n_heads
        self.params = list(model.parameters())
        self.layers = [_plain(layer) for layer in model.encoder.layers]
        self.norm, self.linear = (_plain(m) for m in model.head)
        self.ff = model.encoder.layers[0].linear1.out_features
        self.mask_buffers: dict = {}  # dropout_masks' memory, reused step after step

    @torch.no_grad()
    def __call__(self, coin_ids: torch.Tensor, targets: torch.Tensor, weights) -> float:
        for param in self.params:  # written in place: views of flat_parameters' buffer
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        embed, norm, linear = self.model.embed.weight, self.norm, self.linear
        p = self.model.dropout if self.model.training else 0.0
        batch, tokens = coin_ids.shape
        width = embed.shape[1]
        sizes = self._mask_sizes(batch, tokens, width)
        masks = iter(dropout_masks(p, sizes, self.mask_buffers) if p else [])
        ids = coin_ids.t().reshape(-1)
        x, table = embed[ids], embed  # the first layer's rows are embedding rows
        tape = []
        for layer in self.layers:
            x, saved = self._layer_forward(layer, x, batch, tokens, masks, table, ids)
            tape.append(saved)
            table = None
        pooled = x.view(tokens, batch, width).mean(0)
        head_in, mean, rstd = LN(pooled, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        error = _linear(head_in, linear).squeeze(-1) - targets
        loss = (weights * error * error).sum()
        grad = _linear_backward((2 * weights * error).unsqueeze(-1), head_in, linear)
        grad = _norm_backward(grad, pooled, norm, mean, rstd)
        grad = (grad / tokens).repeat(tokens, 1)
        for layer, saved in zip(reversed(self.layers), reversed(tape)):
            grad = self._layer_backward(layer, grad, saved, batch, tokens)
        return float(loss)

    def _mask_sizes(self, batch: int, tokens: int, width: int) -> list[int]:
        rows = batch * tokens
        per_layer = [rows * tokens * self.heads, rows * width, rows * self.ff, rows * width]
        return per_layer * len(self.layers)

    def _layer_forward(self, layer, x, batch: int, tokens: int, masks, table, ids) -> tuple:
        """Pre-norm layer on (T·B, W) rows: x + drop(SA(LN1 x)), then + drop(FF(LN2 .)).
        `table` (or None): x is table[ids], so LN1 and the q, k, v projection run once per
        distinct row (the first layer's 2N embedding rows) and are gathered after."""
        width, attn, n1, n2 = x.shape[1], layer.self_attn, layer.norm1, layer.norm2
        heads, dim = self.heads, width // self.heads
        norm_in = x if table is None else table
        h1, mean1, rstd1 = LN(norm_in, n1.normalized_shape, n1.weight, n1.bias, n1.eps)
        # (3W, T·B): q, k, v as (H, D, T, B), the batch innermost (coin/kernels.py)
        qkv = torch.addmm(attn.in_proj_bias.unsqueeze(1), attn.in_proj_weight, h1.t())
        qkv = qkv if table is None else qkv.index_select(1, ids)
        q, k, v = qkv.numpy().reshape(3, heads, dim, tokens, batch)
        scores = qkv.new_empty(heads, tokens, tokens, batch)
        kernels.scores(q, k, dim**-0.5, scores.numpy())
        weights = scores.softmax(2)  # (H, Ti, Tj, B)
        mask_a = next(masks, None)
        dropped = weights if mask_a is None else weights * mask_a.view_as(weights)
        mixed = qkv.new_empty(width, tokens * batch)  # (W, T·B)
        kernels.mix(dropped.numpy(), v, mixed.numpy().reshape(heads, dim, tokens, batch))
        z = torch.addmm(attn.out_proj.bias, mixed.t(), attn.out_proj.weight.t())
        mask1 = next(masks, None)
        x_mid = x + z if mask1 is None else torch.addcmul(x, z, mask1.view_as(z))
        h2, mean2, rstd2 = LN(x_mid, n2.normalized_shape, n2.weight, n2.bias, n2.eps)
        r = _linear(h2, layer.linear1)
        mask2 = next(masks, None)
        kernels.relu_dropout(r.numpy().reshape(-1), _flat(mask2))
        f = _linear(r, layer.linear2)
        mask3 = next(masks, None)
        x_out = x_mid + f if mask3 is None else torch.addcmul(x_mid, f, mask3.view_as(f))
        saved = (norm_in, ids if table is not None else None, mean1, rstd1, h1, q, k, v, weights)
        return x_out, saved + (
            mask_a,
            dropped,
            mixed,
            mask1,
            x_mid,
            mean2,
            rstd2,
            h2,
            mask2,
            r,
            mask3,
        )

    def _layer_backward(self, layer, grad, saved, batch: int, tokens: int) -> torch.Tensor:
        norm_in, ids, mean1, rstd1, h1, q, k, v, weights, mask_a, dropped, mixed = saved[:12]
        mask1, x_mid, mean2, rstd2, h2, mask2, r, mask3 = saved[12:]
        width, attn = norm_in.shape[1], layer.self_attn
        heads, dim = self.heads, width // self.heads
        g_f = grad if mask3 is None else grad * mask3.view_as(grad)
        g_r = _linear_backward(g_f, r, layer.linear2)
        kernels.relu_dropout_backward(g_r.numpy().reshape(-1), r.numpy().reshape(-1), _flat(mask2))
        g_h2 = _linear_backward(g_r, h2, layer.linear1)
        grad = grad + _norm_backward(g_h2, x_mid, layer.norm2, mean2, rstd2)
        g_z = grad if mask1 is None else grad * mask1.view_as(grad)
        out = attn.out_proj
        torch.mm(g_z.t(), mixed.t(), out=out.weight.grad)
        torch.sum(g_z, 0, out=out.bias.grad)
        g_mixed = (out.weight.t() @ g_z.t()).numpy().reshape(heads, dim, tokens, batch)
        g_qkv = grad.new_empty(3 * width, tokens * batch)  # (3W, T·B)
        g_q, g_k, g_v = g_qkv.numpy().reshape(3, heads, dim, tokens, batch)
        mask = NO_MASK if mask_a is None else mask_a.numpy().reshape(weights.shape)  # 4-D
        scratch = np.empty(weights.shape, dtype=q.dtype)
        weights_np, dropped_np = weights.numpy(), dropped.numpy()
        scale = dim**-0.5
        kernels.backward(
            g_mixed, q, k, v, weights_np, mask, dropped_np, scale, g_q, g_k, g_v, scratch
        )
        if ids is not None:  # per distinct row: the sum over its copies
            g_qkv = g_qkv.new_zeros(3 * width, len(norm_in)).index_add_(1, ids, g_qkv)
        torch.mm(g_qkv, h1, out=attn.in_proj_weight.grad)
        torch.sum(g_qkv, 1, out=attn.in_proj_bias.grad)
        g_h1 = g_qkv.t() @ attn.in_proj_weight
        g_in = _norm_backward(g_h1, norm_in, layer.norm1, mean1, rstd1)
        if ids is None:
            return grad + g_in
        return self.model.embed.weight.grad.copy_(g_in).index_add_(0, ids, grad)
