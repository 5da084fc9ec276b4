import pytest
import torch

from deltahall.coin.optim import FlatAdamW, flat_parameters


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_flat_adamw_is_torchs_fused_adamw_bit_for_bit(weight_decay: float):
    """Same parameters and gradients, five steps each: equal to the last bit."""
    torch.manual_seed(0)
    start = torch.randn(1000)
    ours = torch.nn.Parameter(start.clone())
    theirs = torch.nn.Parameter(start.clone())
    ours.grad, theirs.grad = torch.zeros(1000), torch.zeros(1000)
    mine = FlatAdamW(ours, lr=3e-3, weight_decay=weight_decay)
    reference = torch.optim.AdamW([theirs], lr=3e-3, weight_decay=weight_decay, fused=True)
    for _ in range(5):
        grad = torch.randn(1000)
        ours.grad.copy_(grad)
        theirs.grad.copy_(grad)
        mine.step()
        reference.step()
        assert torch.equal(ours, theirs)
    assert not torch.equal(ours, start)


def test_flat_parameters_are_views_of_one_buffer_and_keep_the_values():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    before = [p.detach().clone() for p in model.parameters()]
    flat = flat_parameters(model)
    assert flat.numel() == sum(p.numel() for p in before)
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))
    flat.data.add_(1.0)
    flat.grad.fill_(2.0)
    for param, old in zip(model.parameters(), before):
        assert torch.equal(param, old + 1.0) and torch.equal(param.grad, torch.full_like(old, 2.0))
