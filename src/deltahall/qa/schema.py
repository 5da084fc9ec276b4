"""Schemas of the bundled QA data (pure functions, no torch).

* ``open_questions.jsonl``: one JSON object a line, ``{"id", "question", "answers", "topic"}``,
  ``answers`` being exactly two distinct valid answers (the paper's §6.2 data form).
* TruthfulQA-format CSV (the real file or ``truthfulqa_mini.csv``): columns Type, Category,
  Question, Best Answer, Correct Answers, Incorrect Answers, Source; the answers within a
  cell are separated by ";".

Every defect raises :class:`DataSchemaError` naming the file, the 1-based line (JSONL) or
data row (CSV, header not counted) and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

OPEN_QUESTION_KEYS = ("id", "question", "answers", "topic")
TRUTHFULQA_COLUMNS = ("Question", "Best Answer", "Correct Answers", "Incorrect Answers")


class DataSchemaError(ValueError):
    """A data file breaks its schema; ``str(err)`` is ``"<source>: <where>: <problem>"``."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source, self.where, self.problem = source, where, problem
        super().__init__(f"{source}: {where}: {problem}")


@dataclass(frozen=True)
class OpenQuestion:
    id: str
    question: str
    answers: tuple[str, str]
    topic: str


@dataclass(frozen=True)
class TruthfulQARow:
    question: str
    best_answer: str
    correct_answers: tuple[str, ...]
    incorrect_answers: tuple[str, ...]


# --------------------------------------------------------------------------- open questions
def _open_question(obj: object, fail: Callable[[str], NoReturn]) -> OpenQuestion:
    if not isinstance(obj, dict):
        fail(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in OPEN_QUESTION_KEYS if k not in obj]
    extra = sorted(k for k in obj if k not in OPEN_QUESTION_KEYS)
    if missing:
        fail(f"missing key(s) {', '.join(map(repr, missing))}")
    if extra:
        fail(f"unexpected key(s) {', '.join(map(repr, extra))}")
    for key in ("id", "question", "topic"):
        if not isinstance(obj[key], str):
            fail(f"{key!r} must be a string, got {type(obj[key]).__name__}")
        if not obj[key].strip():
            fail(f"{key!r} is empty")
    answers = obj["answers"]
    if not isinstance(answers, list) or len(answers) != 2:
        fail(f"'answers' must be a list of exactly 2 strings, got {answers!r}")
    for i, answer in enumerate(answers):
        if not isinstance(answer, str):
            fail(f"answers[{i}] must be a string, got {type(answer).__name__}")
        if not answer.strip():
            fail(f"answers[{i}] is empty")
    if answers[0].strip().casefold() == answers[1].strip().casefold():
        fail(f"the two answers are the same: {answers[0]!r}")
    return OpenQuestion(obj["id"], obj["question"], (answers[0], answers[1]), obj["topic"])


def parse_open_questions(lines: Iterable[str], source: str = "<memory>") -> list[OpenQuestion]:
    """Parse JSONL lines (blank lines are skipped but counted) into :class:`OpenQuestion`."""
    out: list[OpenQuestion] = []
    first_line_of_id: dict[str, int] = {}
    first_line_of_question: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue

        def fail(problem: str, number: int = number) -> NoReturn:
            raise DataSchemaError(source, f"line {number}", problem)

        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            fail(f"invalid JSON ({err.msg} at column {err.colno})")
        item = _open_question(obj, fail)
        if item.id in first_line_of_id:
            fail(f"duplicate id {item.id!r} (first on line {first_line_of_id[item.id]})")
        key = item.question.strip().casefold()
        if key in first_line_of_question:
            fail(f"duplicate question (first on line {first_line_of_question[key]})")
        first_line_of_id[item.id] = first_line_of_question[key] = number
        out.append(item)
    return out


def utf8_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The file's text; a byte that is not UTF-8 is an error naming its line."""
    data = Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataSchemaError(
            str(path),
            f"line {line}",
            f"not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
        ) from None


def load_open_questions(path: str | Path) -> list[OpenQuestion]:
    questions = parse_open_questions(utf8_text(path).splitlines(), source=str(path))
    if not questions:
        raise DataSchemaError(str(path), "whole file", "no questions (the file is empty)")
    return questions


# --------------------------------------------------------------------------- TruthfulQA CSV
def split_answers(cell: str | None) -> tuple[str, ...]:
    """Split a TruthfulQA answers cell on ";", stripping whitespace and dropping empty pieces."""
    return tuple(piece.strip() for piece in (cell or "").split(";") if piece.strip())


def _check_columns(columns: Iterable[str | None], source: str, where: str) -> None:
    present = {c.strip() for c in columns if c is not None}
    missing = [c for c in TRUTHFULQA_COLUMNS if c not in present]
    if missing:
        raise DataSchemaError(source, where, f"missing column(s) {', '.join(map(repr, missing))}")


def parse_truthfulqa(
    rows: Iterable[Mapping[str, str | None]] | str, source: str = "<memory>"
) -> list[TruthfulQARow]:
    """Parse TruthfulQA rows: CSV text, a ``csv.DictReader`` or any iterable of mappings.

    Row numbers in errors are 1-based data rows (the header is not counted).
    """
    if isinstance(rows, str):
        rows = csv.DictReader(io.StringIO(rows))
    if isinstance(rows, csv.DictReader):
        _check_columns(rows.fieldnames or (), source, "header (line 1)")
    out: list[TruthfulQARow] = []
    for number, raw in enumerate(rows, start=1):
        where = f"row {number}"
        row = {(k.strip() if isinstance(k, str) else k): v for k, v in raw.items()}
        _check_columns(row.keys(), source, where)
        question = (row["Question"] or "").strip()
        if not question:
            raise DataSchemaError(source, where, "empty 'Question'")
        incorrect = split_answers(row["Incorrect Answers"])
        if not incorrect:
            raise DataSchemaError(source, where, f"no incorrect answers for {question!r}")
        out.append(
            TruthfulQARow(
                question=question,
                best_answer=(row["Best Answer"] or "").strip(),
                correct_answers=split_answers(row["Correct Answers"]),
                incorrect_answers=incorrect,
            )
        )
    return out


def load_truthfulqa(path: str | Path) -> list[TruthfulQARow]:
    """Read a TruthfulQA-format CSV file (UTF-8; a leading byte-order mark is tolerated)."""
    text = utf8_text(path, "utf-8-sig")
    rows = parse_truthfulqa(csv.DictReader(io.StringIO(text, newline="")), source=str(path))
    if not rows:
        raise DataSchemaError(str(path), "whole file", "no data rows")
    return rows
