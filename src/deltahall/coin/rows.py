"""Row-wise loops of the coin step (coin/fused.py): LayerNorm forward and backward, softmax
over the attention's key axis, residual branches with bias and dropout, column sums.

Row statistics accumulate in float64 and are stored in the rows' dtype, which the rest of the
row's arithmetic then uses: one rounding, as torch's float32 LayerNorm. reassoc lets the row
sums vectorise (a tree the compiled code fixes: same inputs, same bits on one machine).
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
COMPILED_IN = {**JIT, "cache": False}  # helpers compiled into fused.train_step's cached code


@njit(**JIT)
def norm_rows(x, weight, shift, eps, out, mean, rstd):
    """out = LayerNorm(x) · weight + shift per row; each row's mean and 1 / std kept."""
    rows, width = x.shape
    for r in range(rows):
        total = 0.0
        for c in range(width):
            total += x[r, c]
        mean[r] = total / width
        mu = mean[r]
        squares = 0.0
        for c in range(width):
            squares += (x[r, c] - mu) ** 2
        rstd[r] = 1.0 / np.sqrt(squares / width + eps)
        scale = rstd[r]
        for c in range(width):
            out[r, c] = (x[r, c] - mu) * scale * weight[c] + shift[c]


@njit(**JIT)
def norm_backward(g_out, x, mean, rstd, weight, grad, d_weight, d_shift):
    """grad += d x of norm_rows given d out; d_weight and d_shift set to their gradients."""
    rows, width = x.shape
    d_weight[:] = 0.0
    d_shift[:] = 0.0
    for r in range(rows):
        mu, scale = mean[r], rstd[r]
        mean_g, mean_g_hat = 0.0, 0.0
        for c in range(width):
            x_hat = (x[r, c] - mu) * scale
            d_weight[c] += g_out[r, c] * x_hat
            d_shift[c] += g_out[r, c]
            mean_g += g_out[r, c] * weight[c]
            mean_g_hat += g_out[r, c] * weight[c] * x_hat
        mean_g, mean_g_hat = mean_g / width, mean_g_hat / width
        for c in range(width):
            x_hat = (x[r, c] - mu) * scale
            grad[r, c] += scale * (g_out[r, c] * weight[c] - mean_g - x_hat * mean_g_hat)


@njit(**JIT)
def residual(x, z, bias, mask, out):
    """out = x + (z + bias) · mask; an empty mask: no dropout."""
    rows, width = x.shape
    masked = mask.shape[0] > 0
    for r in range(rows):
        for c in range(width):
            branch = z[r, c] + bias[c]
            out[r, c] = x[r, c] + (branch * mask[r, c] if masked else branch)


@njit(**JIT)
def masked_columns(grad, mask, out, d_bias):
    """out = grad · mask (grad for an empty mask), d_bias = out's column sums."""
    rows, width = grad.shape
    masked = mask.shape[0] > 0
    d_bias[:] = 0.0
    for r in range(rows):
        for c in range(width):
            out[r, c] = grad[r, c] * mask[r, c] if masked else grad[r, c]
            d_bias[c] += out[r, c]


@njit(**JIT)
def relu_bias_dropout(u, bias, mask):
    """u ← max(u + bias, 0) · mask in place; an empty mask: no dropout."""
    rows, features = u.shape
    masked = mask.shape[0] > 0
    for r in range(rows):
        for c in range(features):
            value = max(u[r, c] + bias[c], 0.0)
            u[r, c] = value * mask[r, c] if masked else value


@njit(**JIT)
def relu_dropout_backward(grad, r, mask, d_bias):
    """grad ← grad · mask where r (relu_bias_dropout's output) > 0, else 0; d_bias = the
    column sums of the result (the gradient of the bias inside the ReLU)."""
    rows, features = grad.shape
    masked = mask.shape[0] > 0
    d_bias[:] = 0.0
    for row in range(rows):
        for c in range(features):
            value = 0.0
            if r[row, c] > 0.0:
                value = grad[row, c] * mask[row, c] if masked else grad[row, c]
            grad[row, c] = value
            d_bias[c] += value


@njit(**JIT)
def softmax_keys(scores):
    """scores (H, Ti, Tj, B) ← softmax over j, in place: exp(s − max_j s) / Σ_j."""
    heads, tokens, _, batch = scores.shape
    top = np.empty(batch, dtype=scores.dtype)
    total = np.empty(batch, dtype=np.float64)
    for h in range(heads):
        for i in range(tokens):
            for b in range(batch):
                top[b] = scores[h, i, 0, b]
                total[b] = 0.0
            for j in range(1, tokens):
                for b in range(batch):
                    top[b] = max(top[b], scores[h, i, j, b])
            for j in range(tokens):
                for b in range(batch):
                    scores[h, i, j, b] = np.exp(scores[h, i, j, b] - top[b])
                    total[b] += scores[h, i, j, b]
            for j in range(tokens):
                for b in range(batch):
                    scores[h, i, j, b] = scores[h, i, j, b] / total[b]
