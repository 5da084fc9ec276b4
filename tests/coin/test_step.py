"""The written-out training step equals autograd on CoinTransformer: loss and every gradient,
with and without dropout, plain and count-weighted; its dropout masks drop at rate p."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

import pytest
import torch
from numba.core.registry import CPUDispatcher
from tests.coin.test_train import _train
from torch.nn import functional as F

from deltahall.coin import fused, layer_kernels
from deltahall.coin import train as train_module
from deltahall.coin.config import CoinModelConfig
from deltahall.coin.model import CoinTransformer
from deltahall.coin.optim import flat_parameters
from deltahall.coin.step import ManualStep, dropout_masks, mask_sizes


def _model(n: int, dropout: float) -> CoinTransformer:
    torch.manual_seed(n)
    cfg = CoinModelConfig(n_layers=3, d_model=16, ff_dim=24, n_heads=4, dropout=dropout)
    return CoinTransformer(2 * n, cfg).double().train()


def _batch(n: int, size: int = 40):
    generator = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 2 * n, (size, n), generator=generator)
    targets = torch.rand(size, generator=generator, dtype=torch.float64) * n
    weights = torch.rand(size, generator=generator, dtype=torch.float64)
    return ids, targets, weights / weights.sum()


def _autograd(model, ids, targets, weights) -> tuple[float, dict]:
    loss = AutogradStep(model)(ids, targets, weights)
    return loss, {name: p.grad.clone() for name, p in model.named_parameters()}


def _assert_same(model, loss, reference) -> None:
    ref_loss, ref_grads = reference
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name, param in model.named_parameters():
        scale = ref_grads[name].abs().max().clamp(min=1e-12)
        assert float((param.grad - ref_grads[name]).abs().max() / scale) < 1e-10, name


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_without_dropout_loss_and_gradients_are_autograds(n: int, weighted: bool):
    model = _model(n, 0.0)
    ids, targets, weights = _batch(n)
    if not weighted:
        weights = torch.full_like(weights, 1 / len(weights))
    reference = _autograd(model, ids, targets, weights)
    step = ManualStep(model, flat_parameters(model))
    _assert_same(model, step(ids, targets, weights), reference)


@pytest.mark.parametrize("n", [2, 3])
def test_with_dropout_gradients_are_autograds_under_the_same_masks(n: int, monkeypatch):
    """Autograd through nn's dropout sites (attention weights, after attention, after the
    ReLU, after the feed-forward), each fed the mask the step draws from the same seed."""
    model = _model(n, 0.25)
    ids, targets, weights = _batch(n)
    step = ManualStep(model, flat_parameters(model))
    batch, heads = len(ids), model.n_heads
    torch.manual_seed(11)
    masks = iter(dropout_masks(0.25, mask_sizes(model, batch, n)))

    def same_mask(t: torch.Tensor, p: float) -> torch.Tensor:
        mask = next(masks).double()
        if t.dim() == 4:  # (B, H, Ti, Tj) here, (H, Ti, Tj, B) in the step
            return t * mask.view(heads, n, n, batch).permute(3, 0, 1, 2)
        # (B, T, C) rows here, token-major (T, B, C) in the step
        return t * mask.view(n, batch, -1).transpose(0, 1)

    monkeypatch.setattr(F, "dropout", same_mask)
    reference = _autograd(model, ids, targets, weights)
    assert next(masks, None) is None  # every mask used, in the step's order
    monkeypatch.undo()
    model.zero_grad(set_to_none=False)  # in place: the step writes the flat gradient
    torch.manual_seed(11)
    _assert_same(model, step(ids, targets, weights), reference)


def test_dropout_masks_drop_at_rate_p_and_repeat_under_a_seed():
    torch.manual_seed(0)
    masks = dropout_masks(0.1, [200_000, 200_001])
    assert [len(m) for m in masks] == [200_000, 200_001]
    for mask in masks:
        assert mask.unique().tolist() == [0.0, pytest.approx(1 / 0.9)]
        dropped = float((mask == 0).double().mean())
        assert abs(dropped - 0.1) < 4 * (0.1 * 0.9 / len(mask)) ** 0.5  # 4 sigma
    fields = [masks[0][f::4] for f in range(4)]  # all four 16-bit fields of a draw are used
    assert not any(torch.equal(fields[0], other) for other in fields[1:])
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(masks, dropout_masks(0.1, [200_000, 200_001])))


def _splitmix64(seed: int, counter: int) -> int:
    """splitmix64's draw number `counter` from `seed`, in Python's exact integers."""
    mask = 2**64 - 1
    z = (seed + counter * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@pytest.mark.parametrize("p", [0.1, 0.37, 0.5, 0.83])
def test_dropout_masks_are_the_16_bit_fields_of_a_seeded_splitmix64_stream(p: float):
    """The definition spelled out in Python: element e is kept iff 16-bit field e mod 4 of
    draw e div 4 + 1, from a seed torch's generator draws, is below round(2^16 (1 - p))."""
    sizes = [1001, 64, 3]  # 1068 elements: the last draw's fields are only partly used
    torch.manual_seed(5)
    masks = torch.cat(dropout_masks(p, sizes)).tolist()
    torch.manual_seed(5)
    seed = int(torch.randint(0, 2**63 - 1, ()))
    threshold = round(2**16 * (1 - p))
    draws = [_splitmix64(seed, e // 4 + 1) for e in range(sum(sizes))]
    kept = [(draw >> (16 * (e % 4))) & 0xFFFF < threshold for e, draw in enumerate(draws)]
    assert masks == [float(torch.tensor(1 / (1 - p), dtype=torch.float32)) * k for k in kept]


def test_dropout_masks_reuse_their_buffers_without_repeating():
    buffers: dict = {}
    first = torch.cat(dropout_masks(0.5, [300, 20], buffers))
    second = dropout_masks(0.5, [300, 20], buffers)
    assert list(buffers) == [320] and second[0].data_ptr() == buffers[320].data_ptr()
    assert not torch.equal(first, torch.cat(second))


class AutogradStep:
    """The plain autograd step, the yardstick of the written-out one."""

    def __init__(self, model, flat=None):
        self.model = model

    def __call__(self, ids, targets, weights) -> float:
        self.model.zero_grad(set_to_none=False)  # in place: the grads are the optimizer's views
        loss = (weights * (self.model(ids) - targets) ** 2).sum()
        loss.backward()
        return loss.item()


@pytest.mark.parametrize("collapse", [False, True])
def test_the_trainer_gives_autograds_curve(collapse: bool, monkeypatch):
    written, _ = _train(seed=2, epochs=3, collapse=collapse)
    monkeypatch.setattr(train_module, "ManualStep", AutogradStep)
    plain, _ = _train(seed=2, epochs=3, collapse=collapse)
    for a, b in zip(plain.history, written.history):
        for key in ("train/loss", "val/loss", "val/cond_prob"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key
        assert b["val/delta_hall_rate"] == pytest.approx(a["val/delta_hall_rate"], abs=1e-3)


def test_the_step_refuses_parameters_that_are_not_views_of_the_flat_buffer():
    """The compiled step writes gradients into the flat buffer: parameters elsewhere would
    silently keep stale gradients, so it names the first parameter that is not a view."""
    model = _model(2, 0.0).float()
    flat = torch.nn.Parameter(torch.zeros(sum(p.numel() for p in model.parameters())))
    flat.grad = torch.zeros_like(flat)
    with pytest.raises(ValueError, match="embed.weight is not a view of the flat parameter"):
        ManualStep(model, flat)


def test_the_cached_step_is_keyed_on_every_file_compiled_into_it():
    """numba's cache checks only the compiled function's own file: every other file whose
    loops fused.train_step compiles in must be in its key (an edit would leave it stale)."""
    compiled_in, modules = set(), [fused, layer_kernels]
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher):
                compiled_in.add(value.py_func.__module__)
            if isinstance(value, ModuleType) and value.__name__.startswith("deltahall.coin"):
                compiled_in.add(value.__name__)
    compiled_in.discard(fused.__name__)
    assert compiled_in == {m.__name__ for m in fused._COMPILED_IN}
    files = b"".join(Path(m.__file__).read_bytes() for m in fused._COMPILED_IN)
    (cell,) = fused.train_step.py_func.__closure__
    assert cell.cell_contents == hashlib.sha256(files).hexdigest()
