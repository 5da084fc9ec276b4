"""What every QA stage shares (paper §6.2): output paths, the data (qa/data.py), the base model."""

from __future__ import annotations

import json

import torch
from transformers.utils import logging as hf_logging

from deltahall import paths
from deltahall.qa.config import QAConfig
from deltahall.qa.data import QAData, load_qa_data  # noqa: F401  (re-exported for the stages)
from deltahall.qa.model import load_pretrained

BASE_DIR, BASE_SPEC = paths.QA_BASE, paths.QA_BASE_SPEC


def check_base(cfg: QAConfig) -> None:
    if not BASE_SPEC.exists():
        raise FileNotFoundError(f"{BASE_DIR}: no QA base model; run `deltahall qa-pretrain` first")
    made_for = json.loads(BASE_SPEC.read_text())["pretrained"]
    if made_for != cfg.model.pretrained:
        raise ValueError(
            f"{BASE_SPEC}: made for qa.model.pretrained={made_for!r}, params say "
            f"{cfg.model.pretrained!r}; rerun `deltahall qa-pretrain`"
        )


def load_base(cfg: QAConfig):
    """(model, tokenizer) that qa_pretrain made, on the GPU when there is one."""
    check_base(cfg)
    device = "cuda" if torch.cuda.is_available() else None
    if cfg.model.pretrained:
        return load_pretrained(
            cfg.model.pretrained,
            cfg.model.local_files_only,
            revision=cfg.model.revision or None,
            device=device,
        )
    return load_pretrained(BASE_DIR, local_files_only=True, device=device)


def setup_torch(cfg: QAConfig) -> None:
    torch.set_num_threads(cfg.torch_threads)
    hf_logging.disable_progress_bar()  # per-shard bars would drown the per-epoch lines
