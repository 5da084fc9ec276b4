"""What every QA stage shares (paper §6.2): output paths, the data split, the base model.

The split is by question and seeded, so pretraining, LoRA training and evaluation all see the
same held-out questions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers.utils import logging as hf_logging

from deltahall.qa.config import QAConfig
from deltahall.qa.model import load_pretrained
from deltahall.qa.schema import OpenQuestion, TruthfulQARow, load_open_questions, load_truthfulqa
from deltahall.seeding import derive_seed

OUTPUTS, METRICS, PLOTS = Path("outputs/qa"), Path("metrics/qa"), Path("plots/qa")
BASE_DIR = OUTPUTS / "base"
BASE_SPEC = BASE_DIR / "deltahall_base.json"  # what qa_pretrain made; qa_train checks it
PRETRAIN_HISTORY = PLOTS / "pretrain_history.csv"
HISTORY = PLOTS / "history.csv"   # one row per (epochs cell, seed, epoch); epoch 0 = the base
ANSWERS = OUTPUTS / "answers"     # per-question outputs of each cell's final epoch


@dataclass(frozen=True)
class QAData:
    train: list[OpenQuestion]       # LoRA training set; also in the tiny base's pretraining
    val: list[OpenQuestion]         # held out from both: val/loss, val/delta_hall_rate
    truthfulqa: list[TruthfulQARow]  # resemblance/*, truthful/acc


def load_qa_data(cfg: QAConfig) -> QAData:
    """Both data files, the split by question (seeded, the same in every stage)."""
    for path in (cfg.questions_path, cfg.truthfulqa_path):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: QA data missing; run `deltahall data` first "
                                    f"(or fix qa.questions_path / qa.truthfulqa_path)")
    questions = load_open_questions(cfg.questions_path)[:cfg.max_questions or None]
    rows = load_truthfulqa(cfg.truthfulqa_path)[:cfg.max_truthfulqa or None]
    n_val = round(len(questions) * cfg.val_fraction)
    if not 1 <= n_val < len(questions):
        raise ValueError(f"qa.val_fraction {cfg.val_fraction} leaves no train or no val "
                         f"question among {len(questions)}")
    rng = np.random.default_rng(derive_seed("qa-split", cfg.split_seed))
    order = rng.permutation(len(questions))
    is_val = np.zeros(len(questions), dtype=bool)
    is_val[order[:n_val]] = True
    return QAData([q for q, v in zip(questions, is_val) if not v],
                  [q for q, v in zip(questions, is_val) if v], rows)


def check_base(cfg: QAConfig) -> None:
    if not BASE_SPEC.exists():
        raise FileNotFoundError(f"{BASE_DIR}: no QA base model; run `deltahall qa-pretrain` first")
    made_for = json.loads(BASE_SPEC.read_text())["pretrained"]
    if made_for != cfg.model.pretrained:
        raise ValueError(f"{BASE_SPEC}: made for qa.model.pretrained={made_for!r}, params say "
                         f"{cfg.model.pretrained!r}; rerun `deltahall qa-pretrain`")


def load_base(cfg: QAConfig):
    """(model, tokenizer) that qa_pretrain made, on the GPU when there is one."""
    check_base(cfg)
    device = "cuda" if torch.cuda.is_available() else None
    if cfg.model.pretrained:
        return load_pretrained(cfg.model.pretrained, cfg.model.local_files_only,
                               revision=cfg.model.revision or None, device=device)
    return load_pretrained(BASE_DIR, local_files_only=True, device=device)


def setup_torch(cfg: QAConfig) -> None:
    torch.set_num_threads(cfg.torch_threads)
    hf_logging.disable_progress_bar()  # per-shard bars would drown the per-epoch lines
