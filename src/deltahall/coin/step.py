"""One training step of the coin regressor with its backward pass written out (issue 15):
the Python side of `coin/fused.train_step`, which computes the loss and the gradients of
`CoinTransformer.forward` + `backward()` in one compiled call (tests compare them to float
rounding).

Dropout masks: an element is kept iff its 16-bit field of a counter-based random stream is
below the (1 - p) quantile of the field's range, so p is honoured to 1/65536 (p = 0.1 drops
with probability 0.100006), written in one compiled pass (coin/kernels.py).
"""

from __future__ import annotations

import numpy as np
import torch

from deltahall.coin import fused, kernels
from deltahall.coin.model import CoinTransformer

FIELD = 1 << 16  # a mask element's random field: 16 bits
NO_MASKS = np.zeros(0, dtype=np.float32)
LAYER_PARAMETERS = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
]


def mask_sizes(model: CoinTransformer, batch: int, tokens: int) -> list[int]:
    """The sizes of a step's dropout masks, layer by layer: on the attention weights, after
    the attention block, after the ReLU, after the feed-forward block."""
    rows, first = batch * tokens, model.encoder.layers[0]
    width, ff = first.linear1.in_features, first.linear1.out_features
    per_layer = [rows * tokens * model.n_heads, rows * width, rows * ff, rows * width]
    return per_layer * len(model.encoder.layers)


def _draw_masks(p: float, total: int, buffers: dict | None = None) -> torch.Tensor:
    """`total` mask elements, scaled by 1 / (1 - p), from a seed drawn from torch's global
    generator (seeded once per run: same seed, same masks). `buffers` keeps their memory
    from one step to the next: megabytes allocated afresh each step are mapped afresh, a page
    fault every 4 KiB (720 a step at N = 5, measured)."""
    masks = None if buffers is None else buffers.get(total)
    if masks is None:
        masks = torch.empty(total)
        if buffers is not None:
            buffers[total] = masks
    seed = np.uint64(torch.randint(0, 2**63 - 1, ()).item())
    threshold, scale = np.uint64(round(FIELD * (1.0 - p))), np.float32(1.0 / (1.0 - p))
    kernels.dropout_masks(seed, threshold, scale, masks.numpy())
    return masks


def dropout_masks(p: float, sizes: list[int], buffers: dict | None = None) -> list[torch.Tensor]:
    """A step's dropout masks (`_draw_masks`), split into the given sizes."""
    return list(_draw_masks(p, sum(sizes), buffers).split(sizes))


def parameter_offsets(model: CoinTransformer, flat: torch.Tensor) -> tuple:
    """(offsets (layers, 12), head offsets (4,)) of the model's parameters in `flat`, checked:
    each must be the view of `flat` that coin.optim.flat_parameters makes it."""
    names = ["embed.weight"]
    for layer in range(len(model.encoder.layers)):
        names += [f"encoder.layers.{layer}.{name}" for name in LAYER_PARAMETERS]
    names += ["head.0.weight", "head.0.bias", "head.1.weight", "head.1.bias"]
    found, offsets, position = dict(model.named_parameters()), [], 0
    if list(found) != names:
        raise ValueError(f"not CoinTransformer's parameters: {list(found)}")
    for name in names:
        param = found[name]
        if param.data_ptr() != flat.data_ptr() + position * flat.element_size():
            raise ValueError(f"{name} is not a view of the flat parameter (flat_parameters)")
        offsets.append(position)
        position += param.numel()
    layers = np.array(offsets[1:-4], dtype=np.int64).reshape(-1, len(LAYER_PARAMETERS))
    return layers, np.array(offsets[-4:], dtype=np.int64)


class ManualStep:
    """`step(coin_ids, targets, weights)`: loss = Σ_b w_b (f(x_b) − target_b)², every
    gradient written into `flat.grad` (the parameters' `.grad` are its views), the loss
    returned as a float. Plain MSE: w = 1/B; collapsed batches: w = count / B per distinct
    set. `flat`: the model's parameters made one (coin.optim.flat_parameters)."""

    def __init__(self, model: CoinTransformer, flat: torch.nn.Parameter):
        self.model = model
        self.offsets, self.head = parameter_offsets(model, flat)
        self.values, self.grads = flat.detach().numpy(), flat.grad.numpy()
        first = model.encoder.layers[0]
        self.width, self.ff = first.linear1.in_features, first.linear1.out_features
        norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
        if len({norm.eps for norm in norms}) != 1:
            raise ValueError("the step assumes one LayerNorm eps throughout the model")
        self.eps = norms[0].eps
        self.mask_buffers: dict = {}  # _draw_masks' memory, reused step after step
        self.tape = np.empty((len(model.encoder.layers), 0), dtype=self.values.dtype)
        self.scratch = np.empty(0, dtype=self.values.dtype)

    @torch.no_grad()
    def __call__(self, coin_ids: torch.Tensor, targets: torch.Tensor, weights) -> float:
        model = self.model
        p = model.dropout if model.training else 0.0
        batch, tokens = coin_ids.shape
        sizes = mask_sizes(model, batch, tokens)
        masks = _draw_masks(p, sum(sizes), self.mask_buffers).numpy() if p else NO_MASKS
        ids = coin_ids.t().reshape(-1).numpy()
        self._grow(batch, tokens)
        dims = (model.embed.num_embeddings, self.width, self.ff, model.n_heads, batch)
        loss = fused.train_step(
            self.values,
            self.grads,
            self.offsets,
            self.head,
            ids,
            targets.numpy(),
            torch.as_tensor(weights).numpy(),
            masks,
            dims,
            self.eps,
            self.tape,
            self.scratch,
        )
        return float(loss)

    def _grow(self, batch: int, tokens: int) -> None:
        """Tape and scratch large enough for this batch (kept for the next steps)."""
        shape = (batch * tokens, batch, tokens, self.width, self.ff, self.model.n_heads)
        tape = fused.tape_size(*shape)
        scratch = fused.scratch_size(*shape, self.model.embed.num_embeddings)
        if tape > self.tape.shape[1]:
            self.tape = np.empty((len(self.tape), tape), dtype=self.tape.dtype)
        if scratch > len(self.scratch):
            self.scratch = np.empty(scratch, dtype=self.scratch.dtype)
