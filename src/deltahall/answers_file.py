"""Files of answers to score (`deltahall score`), read into deltahall.scoring examples.

* JSONL, one object a line: ``question`` (text), ``valid_answers`` (≥ 1 texts),
  ``incorrect_answers`` (texts, optional), ``answer`` (text), ``confidence`` (in [0, 1],
  optional: all lines or none), ``id`` (optional, ignored).
* A TruthfulQA-format CSV (Question, Best Answer, Correct Answers, Incorrect Answers; ";"
  between answers) plus an answers JSONL of ``question``, ``answer``, ``confidence``
  (optional), matched by question. Valid answers: Correct Answers and the Best Answer.

Every defect raises DataSchemaError naming the file and its line (JSONL) or data row (CSV);
nothing is scored until the whole file has been read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from deltahall.qa.schema import DataSchemaError, load_truthfulqa, utf8_text
from deltahall.scoring import Example

EXAMPLE_KEYS = {"question", "valid_answers", "incorrect_answers", "answer", "confidence", "id"}
ANSWER_KEYS = {"question", "answer", "confidence", "id"}


def _texts(obj: dict, key: str, fail: Callable[[str], NoReturn], least: int) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        fail(f"{key!r} must be a list of non-empty strings, got {value!r}")
    if len(value) < least:
        fail(f"{key!r} needs at least {least} answer(s)")
    return tuple(value)


def _confidence(obj: dict, fail: Callable[[str], NoReturn]) -> float | None:
    value = obj.get("confidence")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        fail(f"'confidence' must be a number in [0, 1], got {value!r}")
    return float(value)


def _objects(path: Path, keys: set[str], required: tuple[str, ...]):
    """(line number, object, fail) for every non-blank line; keys checked, texts non-empty."""
    for number, line in enumerate(utf8_text(path).splitlines(), start=1):
        if not line.strip():
            continue

        def fail(problem: str, number: int = number) -> NoReturn:
            raise DataSchemaError(str(path), f"line {number}", problem)

        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            fail(f"invalid JSON ({err.msg} at column {err.colno})")
        if not isinstance(obj, dict):
            fail(f"expected a JSON object, got {type(obj).__name__}")
        if unknown := sorted(set(obj) - keys):
            fail(
                f"unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(keys))})"
            )
        if missing := [k for k in required if k not in obj]:
            fail(f"missing key(s) {', '.join(map(repr, missing))}")
        for key in ("question", "answer"):
            if not isinstance(obj[key], str):
                fail(f"{key!r} must be a string, got {type(obj[key]).__name__}")
        if not obj["question"].strip():
            fail("'question' is empty")
        yield number, obj, fail


def _same_confidence_everywhere(examples: list[Example], lines: list[int], path: Path) -> None:
    first = examples[0].confidence is not None
    for example, line in zip(examples, lines):
        if (example.confidence is not None) != first:
            has, lacks = (lines[0], line) if first else (line, lines[0])
            raise DataSchemaError(
                str(path),
                f"line {line}",
                f"'confidence' on some lines only (line {has} has it, line {lacks} not): "
                "give it on every line or on none",
            )


def read_jsonl(path: Path) -> list[Example]:
    examples, lines = [], []
    for number, obj, fail in _objects(path, EXAMPLE_KEYS, ("question", "valid_answers", "answer")):
        examples.append(
            Example(
                obj["question"],
                _texts(obj, "valid_answers", fail, 1),
                obj["answer"],
                _texts(obj, "incorrect_answers", fail, 0),
                _confidence(obj, fail),
            )
        )
        lines.append(number)
    if not examples:
        raise DataSchemaError(str(path), "whole file", "no examples (the file is empty)")
    _same_confidence_everywhere(examples, lines, path)
    return examples


def read_truthfulqa(path: Path, answers_path: Path) -> list[Example]:
    rows = load_truthfulqa(path)
    given: dict[str, tuple[int, str, float | None]] = {}
    for number, obj, fail in _objects(answers_path, ANSWER_KEYS, ("question", "answer")):
        key = obj["question"].strip().casefold()
        if key in given:
            fail(f"a second answer to {obj['question']!r} (first on line {given[key][0]})")
        given[key] = (number, obj["answer"], _confidence(obj, fail))
    asked = {r.question.strip().casefold() for r in rows}
    for key, (number, _, _) in given.items():
        if key not in asked:
            raise DataSchemaError(str(answers_path), f"line {number}", f"no row of {path} asks it")
    examples, lines = [], []
    for index, row in enumerate(rows, start=1):
        key = row.question.strip().casefold()
        if key not in given:
            raise DataSchemaError(str(path), f"row {index}", f"no answer in {answers_path}")
        number, answer, confidence = given[key]
        valid = tuple(dict.fromkeys(a for a in (*row.correct_answers, row.best_answer) if a))
        if not valid:
            raise DataSchemaError(str(path), f"row {index}", "no correct or best answer")
        examples.append(Example(row.question, valid, answer, row.incorrect_answers, confidence))
        lines.append(number)
    _same_confidence_everywhere(examples, lines, answers_path)
    return examples


def read_examples(path: Path, answers: Path | None) -> list[Example]:
    """The examples of a JSONL file, or of a TruthfulQA CSV with its answers file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such input file")
    if path.suffix.lower() == ".csv":
        if answers is None:
            raise ValueError(f"{path}: a TruthfulQA CSV needs --answers FILE (JSONL)")
        if not Path(answers).is_file():
            raise FileNotFoundError(f"{answers}: no such answers file")
        return read_truthfulqa(path, Path(answers))
    if answers is not None:
        raise ValueError(f"{path}: --answers goes with a TruthfulQA CSV; JSONL lines hold theirs")
    return read_jsonl(path)
