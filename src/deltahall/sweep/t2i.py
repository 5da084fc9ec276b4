"""Sweep objective of the text-to-image experiment (paper §6.3): one `train_t2i_run`.

The knobs (sweep.t2i.space) override t2i.train and t2i.model; every epoch the run's samples
are judged by the registered HCDR detector (val/hall_rate). Objective 1 is the fixed-noise
diffusion loss (same images, timesteps and noise every epoch: the loss without its sampling
noise), objective 2 the share of generated images outside every class's HCDR.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from deltahall.config import Params
from deltahall.sweep.space import override, probes
from deltahall.sweep.trial import EpochCallback, SeedRun
from deltahall.t2i import keys

LOSS = keys.FIXED_NOISE_LOSS
RATE = keys.HALL_RATE
SCORE = "HCDR margin max_c(log f_c − threshold_c) of each last-epoch image"
_CONTEXT: dict[str, Any] = {}


def _context(params: Params):
    """CLIP, training images and the registered detector: loaded once per process and per
    (working dir, MLflow store, params), so another folder or store never gets a stale one."""
    from deltahall.t2i.run import load_context
    from deltahall.tracking import tracking_uri

    key = "|".join(
        [
            os.getcwd(),
            tracking_uri(params),
            params.images.model_dump_json(),
            params.t2i.model_dump_json(),
        ]
    )
    if key not in _CONTEXT:
        _CONTEXT[key] = load_context(params)
    return _CONTEXT[key]


def check(params: Params) -> None:
    """Fail before the first trial if CLIP or the detector are missing, or a corner of the
    space gives an invalid t2i config."""
    for knobs in probes(params.sweep.t2i.space):
        _config(params, knobs)
    _context(params)


def _config(params: Params, knobs: dict[str, Any]):
    where = "sweep.t2i.space"
    cfg = params.t2i
    sections = {
        "train": override(cfg.train, knobs, where).model_dump(),
        "model": override(cfg.model, knobs, where).model_dump(),
    }
    return override(cfg, sections, where)  # whole T2IConfig again: its cross-field checks too


def margins(judge: Any, embeddings: np.ndarray) -> list[float]:
    """Best class's log-density margin over its threshold (≤ 0: outside every HCDR), from the
    detector inside the registered pyfunc; [] when the judge does not expose one."""
    try:
        detector = judge.model.unwrap_python_model().detector
    except AttributeError:
        return []
    margin = detector.log_densities(embeddings) - detector.thresholds
    return [round(float(m), 5) for m in margin.max(axis=1)]


def base_params(params: Params) -> dict[str, Any]:
    return {
        "t2i": params.t2i.model_dump(mode="json"),
        "images": params.images.model_dump(mode="json", include={"dataset", "classes"}),
    }


def train(params: Params, knobs: dict[str, Any], seed: int, on_epoch: EpochCallback) -> SeedRun:
    from deltahall.t2i.run import train_t2i_run
    from deltahall.vision.clip import embed_images

    context = _context(params)
    history: list[dict[str, float]] = []
    last: dict[str, Any] = {}

    def record(epoch: int, metrics: dict[str, float], samples: dict) -> None:
        history.append({"epoch": epoch, **metrics})
        last["images"] = np.concatenate([s.images for s in samples.values()])
        on_epoch(epoch, metrics)

    train_t2i_run(_config(params, knobs), seed, context, record)
    scores = margins(context.judge, embed_images(context.clip, last["images"]))
    return SeedRun(history, scores, 0.0)
