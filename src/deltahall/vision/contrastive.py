"""Contrastive training of the small CLIP on labelled images and their class captions.

Captions are per class, so a batch holds many true image–caption matches; the targets of
the symmetric cross-entropy spread uniformly over same-class pairs (supervised-contrastive
form of CLIP's loss) instead of pretending only the diagonal matches.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from deltahall.vision.clip import normalise_images

TRAIN_LOSS, EPOCH_TIME = "train/loss", "time/epoch_s"  # the per-epoch metrics of clip_train


def same_class_targets(labels: torch.Tensor) -> torch.Tensor:
    match = (labels[:, None] == labels[None, :]).float()
    return match / match.sum(dim=1, keepdim=True)


def contrastive_loss(
    model, images: torch.Tensor, tokens: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    img = model.encode_image(normalise_images(images), normalize=True)
    txt = model.encode_text(tokens, normalize=True)
    logits = model.logit_scale.exp().clamp(max=100.0) * img @ txt.T
    targets = same_class_targets(labels)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def train_clip(
    model,
    images: np.ndarray,
    tokens: torch.Tensor,
    labels: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict]:
    """AdamW on the whole model; returns per-epoch {"train/loss", "time/epoch_s"}."""
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        start, total, seen = time.perf_counter(), 0.0, 0
        for idx in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = contrastive_loss(model, x[idx], tokens[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        metrics = {TRAIN_LOSS: total / seen, EPOCH_TIME: time.perf_counter() - start}
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    return history
