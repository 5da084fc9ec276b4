"""The QA data and its split (paper §6.2), torch-free so that `deltahall validate` can check it.

The split is by question and seeded, so pretraining, LoRA training and evaluation all see the
same held-out questions.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deltahall import paths
from deltahall.qa.config import QAConfig
from deltahall.qa.schema import OpenQuestion, TruthfulQARow, load_open_questions, load_truthfulqa
from deltahall.seeding import derive_seed


@dataclass(frozen=True)
class QAData:
    train: list[OpenQuestion]  # LoRA training set; also in the tiny base's pretraining
    val: list[OpenQuestion]  # held out from both: val/loss, val/delta_hall_rate
    truthfulqa: list[TruthfulQARow]  # resemblance/*, truthful/acc


def world_files() -> dict[str, Path]:
    """What the world stage writes for the QA experiment (qa.source: world)."""
    folder = paths.WORLD_OUTPUTS
    return {
        "train": folder / "finetune.jsonl",
        "val": folder / "eval.jsonl",
        "truthfulqa": folder / "truthfulqa.csv",
        "corpus": folder / "corpus.txt",
        "format": folder / "format.txt",
        "facts": folder / "facts.csv",
    }


def load_qa_data(cfg: QAConfig) -> QAData:
    """The questions and TruthfulQA rows that qa.source names. files: the split by question
    (seeded, the same in every stage); world: the world's own finetune / eval split."""
    if cfg.source == "world":
        return _load_world(cfg)
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


def _load_world(cfg: QAConfig) -> QAData:
    files = world_files()
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"{missing[0]}: the world's QA data is missing; run `dvc repro world` "
            f"(`deltahall world`) first, or set qa.source: files"
        )
    cut = cfg.max_questions or None
    return QAData(
        load_open_questions(files["train"])[:cut],
        load_open_questions(files["val"])[:cut],
        load_truthfulqa(files["truthfulqa"])[: cfg.max_truthfulqa or None],
    )


def qa_inputs(cfg: QAConfig) -> list[Path]:
    """The DVC-versioned data qa.source reads: the world stage's output, or data/."""
    return [paths.WORLD_OUTPUTS if cfg.source == "world" else paths.DATA]


def world_pretraining_text() -> list[str]:
    """The QA base's pretraining text on the world: every statement, and the FORMAT people's
    question-answer pairs (rendered as the tiny chat template renders them)."""
    files = world_files()
    corpus = files["corpus"].read_text(encoding="utf-8").splitlines()
    lessons = files["format"].read_text(encoding="utf-8").strip().split("\n\n")
    return [*corpus, *(b for b in lessons if b)]


def world_mentions() -> dict[str, int]:
    """Question -> how many times the world's corpus states its fact."""
    with world_files()["facts"].open(encoding="utf-8") as fh:
        return {row["question"]: int(row["mentions"]) for row in csv.DictReader(fh)}
