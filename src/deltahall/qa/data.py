"""The QA data and its split (paper §6.2), torch-free so that `deltahall validate` can check it.

The split is by question and seeded, so pretraining, LoRA training and evaluation all see the
same held-out questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deltahall.qa.config import QAConfig
from deltahall.qa.schema import OpenQuestion, TruthfulQARow, load_open_questions, load_truthfulqa
from deltahall.seeding import derive_seed


@dataclass(frozen=True)
class QAData:
    train: list[OpenQuestion]  # LoRA training set; also in the tiny base's pretraining
    val: list[OpenQuestion]  # held out from both: val/loss, val/delta_hall_rate
    truthfulqa: list[TruthfulQARow]  # resemblance/*, truthful/acc


def load_qa_data(cfg: QAConfig) -> QAData:
    """Both data files, the split by question (seeded, the same in every stage)."""
    for path in (cfg.questions_path, cfg.truthfulqa_path):
        if not Path(path).exists():
            raise FileNotFoundError(
                f"{path}: QA data missing; run `deltahall data` first "
                f"(or fix qa.questions_path / qa.truthfulqa_path)"
            )
    questions = load_open_questions(cfg.questions_path)[: cfg.max_questions or None]
    rows = load_truthfulqa(cfg.truthfulqa_path)[: cfg.max_truthfulqa or None]
    n_val = round(len(questions) * cfg.val_fraction)
    if not 1 <= n_val < len(questions):
        raise ValueError(
            f"qa.val_fraction {cfg.val_fraction} leaves no train or no val "
            f"question among {len(questions)}"
        )
    rng = np.random.default_rng(derive_seed("qa-split", cfg.split_seed))
    order = rng.permutation(len(questions))
    is_val = np.zeros(len(questions), dtype=bool)
    is_val[order[:n_val]] = True
    return QAData(
        [q for q, v in zip(questions, is_val) if not v],
        [q for q, v in zip(questions, is_val) if v],
        rows,
    )
