"""The coin step's layer as compiled loops (coin/fused.py): the tape a layer keeps, its
attention and feed-forward blocks forward, their gradients, the dropout masks that reach it,
and the head. Compiled into fused.train_step, not cached on their own (COMPILED_IN).
A layer's parameters are views of the flat buffer at the offsets IN_W ... N2_B name.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from deltahall.coin import kernels
from deltahall.coin.rows import (
    COMPILED_IN,
    masked_columns,
    norm_backward,
    norm_rows,
    relu_bias_dropout,
    relu_dropout_backward,
    residual,
    softmax_keys,
)

IN_W, IN_B, OUT_W, OUT_B, L1_W, L1_B, L2_W, L2_B, N1_W, N1_B, N2_W, N2_B = range(12)


def tape_size(rows, batch, tokens, width, ff, heads):
    """A layer's tape: x, LN1 x, x_mid, LN2 x_mid, q k v, the heads' mix (8 W per row), the
    ReLU's output (ff), four row statistics, the attention weights before and after dropout."""
    return rows * (8 * width + ff + 4) + 2 * heads * tokens * tokens * batch


@njit(**COMPILED_IN)
def mat(flat, start, rows, cols):
    return flat[start : start + rows * cols].reshape(rows, cols)


@njit(**COMPILED_IN)
def block(buffer, k, size, rows, cols):
    """Block k of `size` elements of a buffer, as (rows, cols)."""
    return buffer[k * size : (k + 1) * size].reshape(rows, cols)


@njit(**COMPILED_IN)
def slots(row, rows, batch, tokens, width, ff, heads):
    """A layer's tape row carved, in tape_size's order."""
    a = rows * width
    b = 4 * a + 3 * a
    c = b + a + rows * ff
    e = c + 4 * rows
    att = heads * tokens * tokens * batch
    return (
        row[0:a].reshape(rows, width),  # x: the layer's input
        row[a : 2 * a].reshape(rows, width),  # h1 = LN1 x
        row[2 * a : 3 * a].reshape(rows, width),  # x_mid
        row[3 * a : 4 * a].reshape(rows, width),  # h2 = LN2 x_mid
        row[4 * a : b].reshape(3 * width, rows),  # q, k, v: (3, H, D, T, B)
        row[b : b + a].reshape(width, rows),  # mixed: (H, D, T, B)
        row[b + a : c].reshape(rows, ff),  # r: after ReLU and dropout
        row[c:e].reshape(4, rows),  # mean1, rstd1, mean2, rstd2
        row[e : e + att].reshape(heads, tokens, tokens, batch),  # attention weights
        row[e + att : e + 2 * att].reshape(heads, tokens, tokens, batch),  # after dropout
    )


@njit(**COMPILED_IN)
def attend_and_feed(flat, o, s, masks, out, z, eps, heads, batch, tokens):
    """The layer from its q, k, v on: attention, out projection, + residual, LN2, the
    feed-forward block, + residual into `out`."""
    x, h1, x_mid, h2, qkv, mixed, r, stats, weights, dropped = s
    mask_a, mask1, mask2, mask3 = masks
    rows, width = x.shape
    ff, dim = r.shape[1], width // heads
    qkv5 = qkv.reshape(3, heads, dim, tokens, batch)
    kernels.scores(qkv5[0], qkv5[1], dim**-0.5, weights)
    softmax_keys(weights)
    scaled(weights.reshape(-1), mask_a.reshape(-1), dropped.reshape(-1))
    kernels.mix(dropped, qkv5[2], mixed.reshape(heads, dim, tokens, batch))
    np.dot(mixed.T, mat(flat, o[OUT_W], width, width).T, z)
    residual(x, z, flat[o[OUT_B] : o[OUT_B] + width], mask1, x_mid)
    n2w, n2b = flat[o[N2_W] : o[N2_W] + width], flat[o[N2_B] : o[N2_B] + width]
    norm_rows(x_mid, n2w, n2b, eps, h2, stats[2], stats[3])
    np.dot(h2, mat(flat, o[L1_W], ff, width).T, r)
    relu_bias_dropout(r, flat[o[L1_B] : o[L1_B] + ff], mask2)
    np.dot(r, mat(flat, o[L2_W], width, ff).T, z)
    residual(x_mid, z, flat[o[L2_B] : o[L2_B] + width], mask3, out)


@njit(**COMPILED_IN)
def add_rows_bias(qkv, bias):
    for j in range(qkv.shape[0]):
        for r in range(qkv.shape[1]):
            qkv[j, r] += bias[j]


@njit(**COMPILED_IN)
def scaled(values, mask, out):
    """out = values · mask elementwise (flat), or a copy of values for an empty mask."""
    masked = mask.shape[0] > 0
    for e in range(values.shape[0]):
        out[e] = values[e] * mask[e] if masked else values[e]


@njit(**COMPILED_IN)
def copy_rows(source, ids, out, add):
    """out[r] = source[ids[r]] for each row r; with `add`, source[ids[r]] += out[r] instead."""
    for r in range(ids.shape[0]):
        for c in range(out.shape[1]):
            if add:
                source[ids[r], c] += out[r, c]
            else:
                out[r, c] = source[ids[r], c]


@njit(**COMPILED_IN)
def block_backward(flat, grad, o, s, masks, gx, g_a, g_h, g_r, g_mixed, g_qkv, g_s, heads):
    """From gx = d of the layer's output: every gradient of the layer from the out projection
    up, gx += the feed-forward block's part (gx is then d x_mid + d of the attention
    block's output); g_qkv = d q, k, v, and the in projection's bias gradient."""
    x, h1, x_mid, h2, qkv, mixed, r, stats, weights, dropped = s
    mask_a, mask1, mask2, mask3 = masks
    rows, width = x.shape
    ff, dim = r.shape[1], width // heads
    tokens, batch = weights.shape[1], weights.shape[3]
    masked_columns(gx, mask3, g_a, grad[o[L2_B] : o[L2_B] + width])
    np.dot(g_a.T, r, mat(grad, o[L2_W], width, ff))
    np.dot(g_a, mat(flat, o[L2_W], width, ff), g_r)
    relu_dropout_backward(g_r, r, mask2, grad[o[L1_B] : o[L1_B] + ff])
    np.dot(g_r.T, h2, mat(grad, o[L1_W], ff, width))
    np.dot(g_r, mat(flat, o[L1_W], ff, width), g_h)
    n2w = flat[o[N2_W] : o[N2_W] + width]
    d_n2w, d_n2b = grad[o[N2_W] : o[N2_W] + width], grad[o[N2_B] : o[N2_B] + width]
    norm_backward(g_h, x_mid, stats[2], stats[3], n2w, gx, d_n2w, d_n2b)
    masked_columns(gx, mask1, g_a, grad[o[OUT_B] : o[OUT_B] + width])
    np.dot(g_a.T, mixed.T, mat(grad, o[OUT_W], width, width))
    np.dot(mat(flat, o[OUT_W], width, width).T, g_a.T, g_mixed)
    g5 = g_qkv.reshape(3, heads, dim, tokens, batch)
    q5 = qkv.reshape(3, heads, dim, tokens, batch)
    kernels.backward(
        g_mixed.reshape(heads, dim, tokens, batch),
        q5[0],
        q5[1],
        q5[2],
        weights,
        mask_a,
        dropped,
        dim**-0.5,
        g5[0],
        g5[1],
        g5[2],
        g_s,
    )
    d_in_b = grad[o[IN_B] : o[IN_B] + 3 * width]
    for j in range(3 * width):
        d_in_b[j] = g_qkv[j].sum()


@njit(**COMPILED_IN)
def layer_masks(masks, layer, rows, batch, tokens, width, ff, heads):
    """(attention, after attention, after the ReLU, after the feed-forward) masks of a layer,
    each shaped like what it scales; empty when `masks` is (no dropout)."""
    att = heads * tokens * tokens * batch
    if masks.shape[0] == 0:
        empty = masks[:0]
        return (
            empty.reshape(0, 0, 0, 0),
            empty.reshape(0, 0),
            empty.reshape(0, 0),
            empty.reshape(0, 0),
        )
    start = layer * (att + 2 * rows * width + rows * ff)
    a, b, c = start + att, start + att + rows * width, start + att + rows * (width + ff)
    return (
        masks[start:a].reshape(heads, tokens, tokens, batch),
        masks[a:b].reshape(rows, width),
        masks[b:c].reshape(rows, ff),
        masks[c : c + rows * width].reshape(rows, width),
    )


@njit(**COMPILED_IN)
def head_loss(flat, grad, head, x_top, targets, weights, eps, tokens, parts, gx):
    """Mean over tokens, LayerNorm, linear: returns the weighted MSE; sets the head's
    gradients and gx = d x_top. `parts`: the head's scratch arrays."""
    pooled, normed, g_normed, g_pooled, stats, g_pred = parts
    batch, width = pooled.shape
    norm_w, norm_b = flat[head[0] : head[0] + width], flat[head[1] : head[1] + width]
    weight, bias = flat[head[2] : head[2] + width], flat[head[3]]
    for b in range(batch):
        for c in range(width):
            total = 0.0
            for t in range(tokens):
                total += x_top[t * batch + b, c]
            pooled[b, c] = total / tokens
    norm_rows(pooled, norm_w, norm_b, eps, normed, stats[0], stats[1])
    loss = 0.0
    for b in range(batch):
        error = np.dot(normed[b], weight) + bias - targets[b]
        loss += weights[b] * error * error
        g_pred[b] = 2 * weights[b] * error
        for c in range(width):
            g_normed[b, c] = g_pred[b] * weight[c]
    np.dot(g_pred, normed, grad[head[2] : head[2] + width])
    grad[head[3]] = g_pred.sum()
    g_pooled[:] = 0.0
    d_norm_w, d_norm_b = grad[head[0] : head[0] + width], grad[head[1] : head[1] + width]
    norm_backward(g_normed, pooled, stats[0], stats[1], norm_w, g_pooled, d_norm_w, d_norm_b)
    for t in range(tokens):
        for b in range(batch):
            for c in range(width):
                gx[t * batch + b, c] = g_pooled[b, c] / tokens
    return loss
