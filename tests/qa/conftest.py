"""QA fixtures: bundled data, a tiny tokenizer; the hub is switched off for every QA test."""

from __future__ import annotations

import os

# Before transformers/huggingface_hub are imported: no test may reach the hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from collections.abc import Iterator  # noqa: E402
from importlib.resources import files  # noqa: E402

import pytest  # noqa: E402

from deltahall.qa.schema import (  # noqa: E402
    OpenQuestion,
    TruthfulQARow,
    load_open_questions,
    load_truthfulqa,
)

QA_DATA = files("deltahall") / "resources/data/qa"


@pytest.fixture(scope="session")
def truthfulqa_rows() -> list[TruthfulQARow]:
    return load_truthfulqa(QA_DATA / "truthfulqa_mini.csv")


@pytest.fixture(scope="session")
def open_questions() -> list[OpenQuestion]:
    return load_open_questions(QA_DATA / "open_questions.jsonl")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One thread: on a shared 2-core machine, 2 contending threads run ~8x slower."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
