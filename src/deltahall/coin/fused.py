"""The coin regressor's training step in one compiled call (issue 15): forward pass, weighted
MSE and every gradient, the arithmetic of `CoinTransformer.forward` + autograd (tests).

One call because the step written as torch ops spent 5 ms a step on dispatch, Python and
allocation alone (measured at batch 1, against 16 ms for a reference-config step at N = 5;
now 1.2 ms). The matmuls are numba's np.dot, BLAS gemm into preallocated rows; what lies
between them is loops over rows (coin/layer_kernels.py, coin/rows.py, coin/kernels.py).
Rows are token-major (t·B + b); attention arrays put the batch innermost. Parameters and
gradients are views of one flat buffer (coin/optim.py): a layer's 12 tensors start at a row
of `offsets`, in `named_parameters` order, the head's 4 at `head`. What the backward pass
reads is kept in `tape`, one row per layer; the step's temporaries are carved from
`scratch`. Both are the caller's, reused from step to step.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  the BLAS numba's np.dot calls: loaded first
from numba import njit

from deltahall.coin import kernels, layer_kernels, rows
from deltahall.coin.layer_kernels import (
    IN_B,
    IN_W,
    N1_B,
    N1_W,
    add_rows_bias,
    attend_and_feed,
    block,
    block_backward,
    copy_rows,
    head_loss,
    layer_masks,
    mat,
    slots,
    tape_size,
)
from deltahall.coin.rows import COMPILED_IN, JIT, norm_backward, norm_rows

__all__ = ["scratch_size", "tape_size", "train_step"]


def scratch_size(rows, batch, tokens, width, ff, heads, table):
    """The step's temporaries: 9 W + ff per row, the scores' gradient, the embedding table's
    first-layer arrays (8 W + 2 per entry), the head's (4 W + 3 per example)."""
    attention = heads * tokens * tokens * batch
    return rows * (9 * width + ff) + attention + table * (8 * width + 2) + batch * (4 * width + 3)


@njit(**COMPILED_IN)
def _carve(scratch, rows, batch, tokens, width, ff, heads, table):
    """The step's temporaries, in scratch_size's order: x_top, gx, g_a, g_h, z (rows),
    g_mixed, g_qkv (transposed), g_r, g_s; the embedding table's LN1 x, its gradient, q k v
    and their gradient, its row statistics; the head's rows, statistics and d prediction."""
    a, t, b, att = rows * width, table * width, batch * width, heads * tokens * tokens * batch
    at = 9 * a + rows * ff + att
    rows_part = (
        block(scratch, 0, a, rows, width),
        block(scratch, 1, a, rows, width),
        block(scratch, 2, a, rows, width),
        block(scratch, 3, a, rows, width),
        block(scratch, 4, a, rows, width),
        scratch[5 * a : 6 * a].reshape(width, rows),
        scratch[6 * a : 9 * a].reshape(3 * width, rows),
        scratch[9 * a : 9 * a + rows * ff].reshape(rows, ff),
        scratch[at - att : at].reshape(heads, tokens, tokens, batch),
    )
    table_part = (
        scratch[at : at + t].reshape(table, width),
        scratch[at + t : at + 2 * t].reshape(table, width),
        scratch[at + 2 * t : at + 5 * t].reshape(3 * width, table),
        scratch[at + 5 * t : at + 8 * t].reshape(3 * width, table),
        scratch[at + 8 * t : at + 8 * t + 2 * table].reshape(2, table),
    )
    at += 8 * t + 2 * table
    head_part = (
        block(scratch[at:], 0, b, batch, width),
        block(scratch[at:], 1, b, batch, width),
        block(scratch[at:], 2, b, batch, width),
        block(scratch[at:], 3, b, batch, width),
        scratch[at + 4 * b : at + 4 * b + 2 * batch].reshape(2, batch),
        scratch[at + 4 * b + 2 * batch : at + 4 * b + 3 * batch],
    )
    return rows_part, table_part, head_part


@njit(**COMPILED_IN)
def _first_projection(flat, o, ids, table_part, eps, qkv):
    """The first layer's LN1 and q, k, v once per embedding row, gathered into qkv (3W, rows)."""
    h1_t, _, qkv_t, _, stats_t = table_part
    table, width = h1_t.shape
    embed = mat(flat, 0, table, width)
    n1w, n1b = flat[o[N1_W] : o[N1_W] + width], flat[o[N1_B] : o[N1_B] + width]
    norm_rows(embed, n1w, n1b, eps, h1_t, stats_t[0], stats_t[1])
    np.dot(mat(flat, o[IN_W], 3 * width, width), h1_t.T, qkv_t)
    for j in range(3 * width):
        for r in range(ids.shape[0]):
            qkv[j, r] = qkv_t[j, ids[r]] + flat[o[IN_B] + j]


@njit(**COMPILED_IN)
def _projection(flat, o, s, eps):
    """LN1 of the layer's input and q, k, v (3W, rows) from it."""
    width = s[0].shape[1]
    n1w, n1b = flat[o[N1_W] : o[N1_W] + width], flat[o[N1_B] : o[N1_B] + width]
    norm_rows(s[0], n1w, n1b, eps, s[1], s[7][0], s[7][1])
    np.dot(mat(flat, o[IN_W], 3 * width, width), s[1].T, s[4])
    add_rows_bias(s[4], flat[o[IN_B] : o[IN_B] + 3 * width])


@njit(**COMPILED_IN)
def _projection_backward(flat, grad, o, s, g_qkv, g_h, gx):
    """The in projection's weight gradient and LN1's from d q, k, v; gx += d x through them."""
    width = s[0].shape[1]
    w_in = mat(flat, o[IN_W], 3 * width, width)
    np.dot(g_qkv, s[1], mat(grad, o[IN_W], 3 * width, width))
    np.dot(g_qkv.T, w_in, g_h)
    n1w = flat[o[N1_W] : o[N1_W] + width]
    d_n1w, d_n1b = grad[o[N1_W] : o[N1_W] + width], grad[o[N1_B] : o[N1_B] + width]
    norm_backward(g_h, s[0], s[7][0], s[7][1], n1w, gx, d_n1w, d_n1b)


@njit(**COMPILED_IN)
def _first_projection_backward(flat, grad, o, ids, table_part, g_qkv, gx):
    """As _projection_backward for the first layer: d q, k, v summed per embedding row, then
    the embedding's gradient: LN1's part plus each row's gx."""
    h1_t, g_h1_t, _, g_qkv_t, stats_t = table_part
    table, width = h1_t.shape
    g_qkv_t[:] = 0.0
    for j in range(3 * width):
        for r in range(ids.shape[0]):
            g_qkv_t[j, ids[r]] += g_qkv[j, r]
    w_in = mat(flat, o[IN_W], 3 * width, width)
    np.dot(g_qkv_t, h1_t, mat(grad, o[IN_W], 3 * width, width))
    np.dot(g_qkv_t.T, w_in, g_h1_t)
    n1w = flat[o[N1_W] : o[N1_W] + width]
    d_n1w, d_n1b = grad[o[N1_W] : o[N1_W] + width], grad[o[N1_B] : o[N1_B] + width]
    d_embed = mat(grad, 0, table, width)
    d_embed[:] = 0.0
    norm_backward(
        g_h1_t, mat(flat, 0, table, width), stats_t[0], stats_t[1], n1w, d_embed, d_n1w, d_n1b
    )
    copy_rows(d_embed, ids, gx, True)


@njit(**COMPILED_IN)
def _step(flat, grad, offsets, head, ids, targets, weights, masks, dims, eps, tape, scratch):
    table, width, ff, heads, batch = dims
    rows, layers = ids.shape[0], offsets.shape[0]
    tokens = rows // batch
    rows_part, table_part, head_part = _carve(scratch, rows, batch, tokens, width, ff, heads, table)
    x_top, gx, g_a, g_h, z, g_mixed, g_qkv, g_r, g_s = rows_part
    for layer in range(layers):
        o = offsets[layer]
        s = slots(tape[layer], rows, batch, tokens, width, ff, heads)
        if layer == 0:
            copy_rows(mat(flat, 0, table, width), ids, s[0], False)
            _first_projection(flat, o, ids, table_part, eps, s[4])
        else:
            _projection(flat, o, s, eps)
        above = layer + 1 < layers
        out = slots(tape[layer + 1], rows, batch, tokens, width, ff, heads)[0] if above else x_top
        masks_l = layer_masks(masks, layer, rows, batch, tokens, width, ff, heads)
        attend_and_feed(flat, o, s, masks_l, out, z, eps, heads, batch, tokens)
    loss = head_loss(flat, grad, head, x_top, targets, weights, eps, tokens, head_part, gx)
    for layer in range(layers - 1, -1, -1):
        o = offsets[layer]
        s = slots(tape[layer], rows, batch, tokens, width, ff, heads)
        masks_l = layer_masks(masks, layer, rows, batch, tokens, width, ff, heads)
        block_backward(flat, grad, o, s, masks_l, gx, g_a, g_h, g_r, g_mixed, g_qkv, g_s, heads)
        if layer == 0:
            _first_projection_backward(flat, grad, o, ids, table_part, g_qkv, gx)
        else:
            _projection_backward(flat, grad, o, s, g_qkv, g_h, gx)
    return loss


def _build(dependencies: str):
    """train_step compiled and cached with `dependencies` (a hash of the kernel files it
    calls into) in its cache key: numba checks only the compiled function's own file, so an
    edit of another file in _COMPILED_IN would otherwise leave a stale cached step. Its
    helpers here are not cached on their own: they are compiled into it."""

    @njit(**JIT)
    def train_step(
        flat, grad, offsets, head, ids, targets, weights, masks, dims, eps, tape, scratch
    ):
        """The loss Σ_b w_b (f(x_b) − target_b)² of one batch, every gradient written into
        `grad`. ids: the coins' embedding rows, token-major; masks: the step's dropout masks
        (dropout_masks' order) or empty; dims: (table, width, ff, heads, batch)."""
        if len(dependencies) == 0:  # never: the closure cell puts the hash in the cache key
            return np.nan
        return _step(
            flat, grad, offsets, head, ids, targets, weights, masks, dims, eps, tape, scratch
        )

    return train_step


_COMPILED_IN = (kernels, rows, layer_kernels)  # every other file train_step's code comes from
train_step = _build(
    hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in _COMPILED_IN)).hexdigest()
)
