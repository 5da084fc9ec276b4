"""Schemas of the bundled QA data: shipped files parse, malformed rows are rejected by line."""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from pathlib import Path

import pytest

from deltahall.qa.schema import (
    DataSchemaError,
    OpenQuestion,
    load_open_questions,
    load_truthfulqa,
    parse_open_questions,
    parse_truthfulqa,
)

REPO = Path(__file__).resolve().parents[2]
QA_DATA = REPO / "src/deltahall/resources/data/qa"
REAL_TRUTHFULQA = Path(__file__).resolve().parents[3] / "shared/data/truthfulqa/TruthfulQA.csv"
HEADER = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source"


_DROP = object()


def _line(**overrides: object) -> str:
    obj: dict[str, object] = {
        "id": "q1",
        "question": "Name a colour.",
        "answers": ["Red", "Blue"],
        "topic": "arts",
    }
    obj.update(overrides)
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP})


GOOD = _line()


# ------------------------------------------------------------------ shipped files
def test_shipped_open_questions() -> None:
    questions = load_open_questions(QA_DATA / "open_questions.jsonl")
    assert len(questions) >= 300
    assert [q.id for q in questions] == [f"oq-{i:04d}" for i in range(1, len(questions) + 1)]
    assert len({q.question.casefold() for q in questions}) == len(questions)
    assert len({q.topic for q in questions}) >= 8
    for q in questions:
        a, b = (x.lower() for x in q.answers)
        assert difflib.SequenceMatcher(None, a, b).ratio() < 0.6, q
        assert all(1 <= len(x.split()) <= 12 for x in q.answers), q


def test_shipped_truthfulqa_mini() -> None:
    path = QA_DATA / "truthfulqa_mini.csv"
    rows = load_truthfulqa(path)
    assert len(rows) >= 60
    for row in rows:
        assert 2 <= len(row.correct_answers) <= 4 and 2 <= len(row.incorrect_answers) <= 4, row
        assert row.best_answer in row.correct_answers
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert ",".join(reader.fieldnames or ()) == HEADER
        raw = list(reader)
    assert {r["Type"] for r in raw} <= {"Adversarial", "Non-Adversarial"}
    assert {r["Source"] for r in raw} == {"deltahall (original)"}


def test_truthfulqa_mini_questions_are_original() -> None:
    if not REAL_TRUTHFULQA.exists():
        pytest.skip(f"real TruthfulQA file not found at {REAL_TRUTHFULQA}")
    real = {r.question.casefold() for r in load_truthfulqa(REAL_TRUTHFULQA)}
    mini = {r.question.casefold() for r in load_truthfulqa(QA_DATA / "truthfulqa_mini.csv")}
    assert not real & mini


def test_real_truthfulqa_parses() -> None:
    if not REAL_TRUTHFULQA.exists():
        pytest.skip(f"real TruthfulQA file not found at {REAL_TRUTHFULQA}")
    rows = load_truthfulqa(REAL_TRUTHFULQA)
    assert len(rows) == 817
    assert all(r.incorrect_answers and r.question for r in rows)


# ------------------------------------------------------------------ open questions
def test_parse_open_questions_ok_and_skips_blank_lines() -> None:
    items = parse_open_questions([GOOD, "\n", _line(id="q2", question="Name a fruit.")])
    assert items[0] == OpenQuestion("q1", "Name a colour.", ("Red", "Blue"), "arts")
    assert [i.id for i in items] == ["q1", "q2"]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_line(topic=_DROP), "missing key(s) 'topic'"),
        (_line(extra="x"), "unexpected key(s) 'extra'"),
        (_line(question=3), "'question' must be a string"),
        (_line(id=""), "'id' is empty"),
        (_line(topic="  "), "'topic' is empty"),
        (_line(answers="Red"), "exactly 2"),
        (_line(answers=["Red"]), "exactly 2"),
        (_line(answers=["Red", "Blue", "Green"]), "exactly 2"),
        (_line(answers=["Red", 7]), "answers[1] must be a string"),
        (_line(answers=["", "Blue"]), "answers[0] is empty"),
        (_line(answers=["Red", " red "]), "the two answers are the same"),
        (_line(question="Name a fruit."), "duplicate id 'q1' (first on line 1)"),
        (_line(id="q9", question="name a colour."), "duplicate question (first on line 1)"),
    ],
)
def test_parse_open_questions_rejects(bad: str, problem: str) -> None:
    lines = [GOOD, "", _line(id="q2", question="Name a fruit.", answers=["Apple", "Pear"]), bad]
    with pytest.raises(DataSchemaError) as info:
        parse_open_questions(lines, source="oq.jsonl")
    message = str(info.value)
    assert message.startswith("oq.jsonl: line 4: "), message
    assert problem in message
    assert info.value.source == "oq.jsonl" and info.value.where == "line 4"


def test_load_open_questions_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "oq.jsonl"
    path.write_text(GOOD + "\n" + GOOD + "\n", encoding="utf-8")
    with pytest.raises(DataSchemaError, match=rf"^{re.escape(str(path))}: line 2: duplicate id"):
        load_open_questions(path)


# ------------------------------------------------------------------ TruthfulQA format
def _csv(*rows: list[str], header: list[str] | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header or HEADER.split(","))
    writer.writerows(rows)
    return buf.getvalue()


ROW = ["Adversarial", "Misc", "Q?", "Best", "Best; Also right ;", " Wrong;; Bad ", "src"]


def test_parse_truthfulqa_splits_and_strips() -> None:
    (row,) = parse_truthfulqa(_csv(ROW))
    assert row.question == "Q?" and row.best_answer == "Best"
    assert row.correct_answers == ("Best", "Also right")
    assert row.incorrect_answers == ("Wrong", "Bad")


def test_parse_truthfulqa_accepts_mappings() -> None:
    rows = parse_truthfulqa([dict(zip(HEADER.split(","), ROW))] * 2)
    assert len(rows) == 2


@pytest.mark.parametrize("empty", ["", " ; ;"])
def test_parse_truthfulqa_rejects_row_without_incorrect_answers(empty: str) -> None:
    bad = ROW[:5] + [empty, "src"]
    with pytest.raises(DataSchemaError, match=r"^mini.csv: row 3: no incorrect answers"):
        parse_truthfulqa(_csv(ROW, ROW, bad), source="mini.csv")


def test_parse_truthfulqa_rejects_empty_question() -> None:
    bad = ROW[:2] + [" "] + ROW[3:]
    with pytest.raises(DataSchemaError, match=r"^mini.csv: row 2: empty 'Question'"):
        parse_truthfulqa(_csv(ROW, bad), source="mini.csv")


def test_parse_truthfulqa_names_missing_columns() -> None:
    header = ["Type", "Category", "Question", "Best Answer", "Source"]
    with pytest.raises(DataSchemaError) as info:
        parse_truthfulqa(_csv(ROW[:4] + ["src"], header=header), source="mini.csv")
    message = str(info.value)
    assert message.startswith("mini.csv: header (line 1): missing column(s)")
    assert "'Correct Answers'" in message and "'Incorrect Answers'" in message


def test_parse_truthfulqa_mapping_missing_column_names_row() -> None:
    good = dict(zip(HEADER.split(","), ROW))
    bad = {k: v for k, v in good.items() if k != "Best Answer"}
    with pytest.raises(DataSchemaError, match=r"^m: row 2: missing column\(s\) 'Best Answer'"):
        parse_truthfulqa([good, bad], source="m")


def test_load_truthfulqa_reads_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufeff" + _csv(ROW), encoding="utf-8")
    assert load_truthfulqa(path)[0].incorrect_answers == ("Wrong", "Bad")
    path.write_text(_csv(ROW, ROW[:5] + ["", ""]), encoding="utf-8")
    pattern = rf"^{re.escape(str(path))}: row 2: no incorrect answers"
    with pytest.raises(DataSchemaError, match=pattern):
        load_truthfulqa(path)
