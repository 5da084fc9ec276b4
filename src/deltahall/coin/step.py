"""One training step of the coin regressor with its backward pass written out (issue 15).

The model is tiny (d 64, at most 12 tokens), so autograd's bookkeeping, the generic
attention kernels and PyTorch's Bernoulli sampler cost more than the arithmetic. This step
computes the loss and the gradients of `CoinTransformer.forward` + `backward()` (tests
compare them to float rounding) with kernels that suit the shapes: rows token-major, so
attention over the few tokens is broadcast products with the batch innermost (vectorised,
4x the generic kernels here); 2-D matmuls; no bool tensors (slow to convert on the CPU);
each gradient written in place into the flat buffer the optimizer steps.

Dropout masks come from one integer draw per step, two 16-bit fields per 31-bit draw: an
element is kept iff its field is below the (1 - p) quantile of the field's range, so p is
honoured to 1/32768 (p = 0.1 drops with probability 0.100006), written as floats by the
comparison itself, at a third of the Bernoulli sampler's cost.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from deltahall.coin.model import CoinTransformer

LN = torch.ops.aten.native_layer_norm
LN_BACKWARD = torch.ops.aten.native_layer_norm_backward
THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward
FIELD = 1 << 15
ALL = [True, True, True]


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


def flat_parameters(model: torch.nn.Module) -> torch.nn.Parameter:
    """The model's parameters made views into one flat Parameter, their `.grad` views into
    its `.grad`: an optimizer over it runs one fused kernel on one tensor (per-tensor
    bookkeeping cost a millisecond a step here). AdamW is elementwise: the same update."""
    params = list(model.parameters())
    flat = torch.nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for param in params:
        size = param.numel()
        param.data = flat.data[offset : offset + size].view_as(param)
        param.grad = flat.grad[offset : offset + size].view_as(param)
        offset += size
    return flat


def dropout_masks(p: float, sizes: list[int]) -> list[torch.Tensor]:
    """A step's dropout masks, scaled by 1 / (1 - p), from one draw of torch's global
    generator (seeded once per run: same seed, same masks)."""
    total = sum(sizes)
    half = (total + 1) // 2
    draws = torch.empty(half, dtype=torch.int32).random_()  # on [0, 2^31): bit 31 is 0
    masks = torch.empty(2 * half)
    # Each field is compared on the whole contiguous int32 (a strided int16 view is 10x
    # slower): high field uniform on [0, 2^15), below K iff the draw is below K * 2^16;
    # low field as a signed int16 made unsigned by flipping its sign bit.
    torch.lt(draws, round(FIELD * (1.0 - p)) << 16, out=masks[half:])
    draws.bitwise_xor_(FIELD).bitwise_and_(2 * FIELD - 1)
    torch.lt(draws, round(2 * FIELD * (1.0 - p)), out=masks[:half])
    return list(masks[:total].mul_(1.0 / (1.0 - p)).split(sizes))


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

    @torch.no_grad()
    def __call__(self, coin_ids: torch.Tensor, targets: torch.Tensor, weights) -> float:
        for param in self.params:  # written in place: views of flat_parameters' buffer
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        embed, norm, linear = self.model.embed.weight, self.norm, self.linear
        p = self.model.dropout if self.model.training else 0.0
        batch, tokens = coin_ids.shape
        width = embed.shape[1]
        masks = iter(dropout_masks(p, self._mask_sizes(batch, tokens, width)) if p else [])
        ids = coin_ids.t().reshape(-1)
        x = embed[ids]
        tape = []
        for layer in self.layers:
            x, saved = self._layer_forward(layer, x, batch, tokens, masks)
            tape.append(saved)
        pooled = x.view(tokens, batch, width).mean(0)
        head_in, mean, rstd = LN(pooled, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        error = _linear(head_in, linear).squeeze(-1) - targets
        loss = (weights * error * error).sum()
        grad = _linear_backward((2 * weights * error).unsqueeze(-1), head_in, linear)
        grad = _norm_backward(grad, pooled, norm, mean, rstd)
        grad = (grad / tokens).repeat(tokens, 1)
        for layer, saved in zip(reversed(self.layers), reversed(tape)):
            grad = self._layer_backward(layer, grad, saved, batch, tokens)
        embed.grad.zero_().index_add_(0, ids, grad)
        return float(loss)

    def _mask_sizes(self, batch: int, tokens: int, width: int) -> list[int]:
        rows = batch * tokens
        per_layer = [rows * tokens * self.heads, rows * width, rows * self.ff, rows * width]
        return per_layer * len(self.layers)

    def _layer_forward(self, layer, x, batch: int, tokens: int, masks) -> tuple:
        """Pre-norm layer on (T·B, W) rows: x + drop(SA(LN1 x)), then + drop(FF(LN2 .))."""
        width, attn, n1, n2 = x.shape[1], layer.self_attn, layer.norm1, layer.norm2
        heads, dim = self.heads, width // self.heads
        h1, mean1, rstd1 = LN(x, n1.normalized_shape, n1.weight, n1.bias, n1.eps)
        # (3W, T·B): q, k, v as (H, D, T, B), the batch innermost
        qkv = torch.addmm(attn.in_proj_bias.unsqueeze(1), attn.in_proj_weight, h1.t())
        q, k, v = qkv.view(3, heads, dim, tokens, batch).unbind(0)
        scores = (q.unsqueeze(3) * k.unsqueeze(2)).sum(1) * dim**-0.5  # (H, Ti, Tj, B)
        weights = scores.softmax(2)
        mask_a = next(masks, None)
        dropped = weights if mask_a is None else weights * mask_a.view_as(weights)
        mixed = (dropped.unsqueeze(1) * v.unsqueeze(2)).sum(3).view(width, -1)  # (W, T·B)
        z = torch.addmm(attn.out_proj.bias, mixed.t(), attn.out_proj.weight.t())
        mask1 = next(masks, None)
        x_mid = x + (z if mask1 is None else z * mask1.view_as(z))
        h2, mean2, rstd2 = LN(x_mid, n2.normalized_shape, n2.weight, n2.bias, n2.eps)
        r = torch.relu(_linear(h2, layer.linear1))
        mask2 = next(masks, None)
        r = r if mask2 is None else r * mask2.view_as(r)
        f = _linear(r, layer.linear2)
        mask3 = next(masks, None)
        x_out = x_mid + (f if mask3 is None else f * mask3.view_as(f))
        saved = (x, mean1, rstd1, h1, q, k, v, weights, mask_a, dropped, mixed)
        return x_out, saved + (mask1, x_mid, mean2, rstd2, h2, mask2, r, mask3)

    def _layer_backward(self, layer, grad, saved, batch: int, tokens: int) -> torch.Tensor:
        x, mean1, rstd1, h1, q, k, v, weights, mask_a, dropped, mixed = saved[:11]
        mask1, x_mid, mean2, rstd2, h2, mask2, r, mask3 = saved[11:]
        width, attn = x.shape[1], layer.self_attn
        heads, dim = self.heads, width // self.heads
        g_f = grad if mask3 is None else grad * mask3.view_as(grad)
        g_r = _linear_backward(g_f, r, layer.linear2)
        g_r = g_r if mask2 is None else g_r * mask2.view_as(g_r)
        g_u = THRESHOLD_BACKWARD(g_r, r, 0)  # ReLU: r > 0 iff u > 0 and kept
        g_h2 = _linear_backward(g_u, h2, layer.linear1)
        grad = grad + _norm_backward(g_h2, x_mid, layer.norm2, mean2, rstd2)
        g_z = grad if mask1 is None else grad * mask1.view_as(grad)
        out = attn.out_proj
        torch.mm(g_z.t(), mixed.t(), out=out.weight.grad)
        torch.sum(g_z, 0, out=out.bias.grad)
        g_mixed = (out.weight.t() @ g_z.t()).view(heads, dim, tokens, batch)
        g_dropped = (g_mixed.unsqueeze(3) * v.unsqueeze(2)).sum(1)  # (H, Ti, Tj, B)
        g_v = (dropped.unsqueeze(1) * g_mixed.unsqueeze(3)).sum(2)  # (H, D, Tj, B)
        g_w = g_dropped if mask_a is None else g_dropped * mask_a.view_as(g_dropped)
        g_s = weights * (g_w - (g_w * weights).sum(2, keepdim=True)) * dim**-0.5
        g_q = (g_s.unsqueeze(1) * k.unsqueeze(2)).sum(3)  # (H, D, Ti, B)
        g_k = (g_s.unsqueeze(1) * q.unsqueeze(3)).sum(2)  # (H, D, Tj, B)
        g_qkv = torch.stack([g_q, g_k, g_v]).view(3 * width, -1)  # (3W, T·B)
        torch.mm(g_qkv, h1, out=attn.in_proj_weight.grad)
        torch.sum(g_qkv, 1, out=attn.in_proj_bias.grad)
        g_h1 = g_qkv.t() @ attn.in_proj_weight
        return grad + _norm_backward(g_h1, x, layer.norm1, mean1, rstd1)
