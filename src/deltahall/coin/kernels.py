"""The coin step's compiled loops (issue 15): dropout masks, and self-attention over the coin
tokens forward and backward.

Masks: element e of a step's masks is kept iff 16-bit field e mod 4 of splitmix64's output
number e div 4 (from a seed drawn per step) is below round(65536 (1 - p)): p is honoured to
1/65536, and one vectorised pass writes the scaled masks (torch's Mersenne twister and the
comparisons took 2 ms a step at N = 5, these loops 0.2 ms).

Attention arrays are (heads, head_dim, tokens, batch) and (heads, tokens, tokens, batch): the batch
innermost and contiguous, so every inner loop is a vectorised pass over the batch. With at
most 12 tokens, torch's broadcast-and-sum version of the same arithmetic builds 5-D
temporaries and spends more time dispatching than computing (9 % of a step at N = 5, dropout
0.1, measured); these loops keep each product in the few rows that use it. The softmax is
coin/rows.py's. Sums run in a fixed order: same inputs, same bits. They run inside
coin/fused.train_step, which compiles them into its own cached code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, error_model="numpy")
GOLDEN, MIX1, MIX2 = map(np.uint64, (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))
FIELDS = 4  # 16-bit fields per 64-bit draw


@njit(**_JIT)
def splitmix64(seed, counter):
    """Draw number `counter` (from 1) of the splitmix64 stream that starts at `seed`."""
    z = seed + counter * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@njit(**_JIT)
def dropout_masks(seed, threshold, scale, out):
    """out[e] = scale if field e % 4 of draw e // 4 + 1 is below `threshold`, else 0."""
    whole = out.shape[0] // FIELDS
    for draw in range(whole):  # fixed-width inner loop: vectorised
        z = splitmix64(seed, np.uint64(draw + 1))
        for field in range(FIELDS):
            kept = (z >> np.uint64(16 * field)) & np.uint64(0xFFFF) < threshold
            out[FIELDS * draw + field] = scale if kept else 0.0
    z = splitmix64(seed, np.uint64(whole + 1))
    for e in range(FIELDS * whole, out.shape[0]):
        kept = (z >> np.uint64(16 * (e - FIELDS * whole))) & np.uint64(0xFFFF) < threshold
        out[e] = scale if kept else 0.0


@njit(**_JIT)
def scores(q, k, scale, out):
    """out[h, i, j] = scale · Σ_d q[h, d, i] k[h, d, j]."""
    heads, dim, tokens, batch = q.shape
    for h in range(heads):
        for i in range(tokens):
            for j in range(tokens):
                row = out[h, i, j]
                row[:] = 0.0
                for d in range(dim):
                    qi, kj = q[h, d, i], k[h, d, j]
                    for b in range(batch):
                        row[b] += qi[b] * kj[b]
                for b in range(batch):
                    row[b] *= scale


@njit(**_JIT)
def mix(weights, v, out):
    """out[h, d, i] = Σ_j weights[h, i, j] v[h, d, j]: the heads' outputs, (W, T·B) rows."""
    heads, dim, tokens, batch = v.shape
    for h in range(heads):
        for d in range(dim):
            for i in range(tokens):
                row = out[h, d, i]
                row[:] = 0.0
                for j in range(tokens):
                    w, vj = weights[h, i, j], v[h, d, j]
                    for b in range(batch):
                        row[b] += w[b] * vj[b]


@njit(**_JIT)
def backward(g_mixed, q, k, v, weights, mask, dropped, scale, g_q, g_k, g_v, g_s):
    """Gradients of `mix(dropped, v)` after `dropped = softmax(scores(q, k)) · mask` into
    g_q, g_k, g_v; g_s is scratch (the scores' gradient). An empty mask: no dropout."""
    heads, dim, tokens, batch = v.shape
    masked = mask.shape[0] > 0
    total = np.empty(batch, dtype=q.dtype)
    scores(g_mixed, v, 1.0, g_s)  # d dropped[i, j] = Σ_d g_mixed[d, i] v[d, j]
    for h in range(heads):
        for i in range(tokens):
            if masked:
                for j in range(tokens):
                    row, m = g_s[h, i, j], mask[h, i, j]
                    for b in range(batch):
                        row[b] *= m[b]
            total[:] = 0.0  # softmax backward: w (g - Σ_j g w), then the scale
            for j in range(tokens):
                row, w = g_s[h, i, j], weights[h, i, j]
                for b in range(batch):
                    total[b] += row[b] * w[b]
            for j in range(tokens):
                row, w = g_s[h, i, j], weights[h, i, j]
                for b in range(batch):
                    row[b] = w[b] * (row[b] - total[b]) * scale
        for d in range(dim):  # both sum over i, with the weights' axes swapped: not `mix`
            for j in range(tokens):
                gv, gk = g_v[h, d, j], g_k[h, d, j]
                gv[:] = 0.0
                gk[:] = 0.0
                for i in range(tokens):
                    kept, gm, gs, qi = dropped[h, i, j], g_mixed[h, d, i], g_s[h, i, j], q[h, d, i]
                    for b in range(batch):
                        gv[b] += kept[b] * gm[b]
                        gk[b] += gs[b] * qi[b]
    mix(g_s, k, g_q)  # g_q[d, i] = Σ_j g_s[i, j] k[d, j]
