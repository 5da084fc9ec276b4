"""`deltahall score` through the CLI: JSONL and TruthfulQA CSV inputs, hand-computed figures,
bad rows refused by line with no file written, and the MLflow run it logs."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import mlflow
import pytest

from deltahall import scoring
from deltahall.cli import build_parser, main

LINES = [  # a model's answers that no stage of the project wrote
    {"question": "Capital of Portugal?", "valid_answers": ["Lisbon"], "answer": "Lisbon"},
    {
        "question": "Who wrote Hamlet?",
        "valid_answers": ["William Shakespeare", "Shakespeare"],
        "incorrect_answers": ["Christopher Marlowe"],
        "answer": "Shakespear",  # 2·10/21 > 0.5: a typo, no δ-hallucination
    },
    {"question": "Largest planet?", "valid_answers": ["Jupiter"], "answer": "I don't know"},
    {
        "question": "Symbol of gold?",
        "valid_answers": ["Au"],
        "incorrect_answers": ["Ag"],
        "answer": "Ag",  # 2·1/4 = 0.5 <= δ: δ-hallucinates
    },
]


def _jsonl(path: Path, rows: list[dict], confidence: list[float] | None = None) -> Path:
    lines = [
        row | ({"confidence": c} if confidence else {}) for row, c in zip(rows, confidence or rows)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in lines))
    return path


def test_score_prints_writes_and_matches_hand_computation(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    src = _jsonl(tmp_path / "mine.jsonl", LINES, [0.9, 0.8, 0.95, 0.6])
    assert main(["score", "--input", str(src), "--targets", "0.5,0.75", "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "4 examples from" in out and "delta_hall_rate" in out and "logged to" not in out
    data = json.loads((tmp_path / "mine.scores.json").read_text())
    m = {k: v["value"] for k, v in data["metrics"].items()}
    assert m["delta_hall_rate"] == 0.25 and m["accuracy"] == 0.25 and m["abstain_rate"] == 0.25
    # t = 0.5: +1 (Lisbon) +1 (Shakespear resembles) 0 (abstains) -1 (Ag): 1/4
    assert m["score_0.5"] == pytest.approx(0.25)
    # t = 0.75: +1 +1 0 and Ag abstains (0.6): 2/4
    assert m["score_0.75"] == pytest.approx(0.5) and m["abstain_0.75"] == 0.5
    # "shakespear" vs "christopher marlowe": difflib matches "s", "h", "e", "ar" -> 2·5/29
    assert m["resemblance_incorrect"] == pytest.approx((2 * 5 / 29 + 1.0) / 2)
    assert data["metrics"]["resemblance_incorrect"]["n"] == 2
    flags = [e["delta_hallucinated"] for e in data["examples"]]
    assert flags == [False, False, False, True] and data["examples"][2]["abstained"]


def test_truthfulqa_csv_with_an_answers_file(tmp_path, capsys):
    csv = tmp_path / "tqa.csv"
    csv.write_text(
        "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
        "A,B,Do bats see?,Yes they see,Yes they see; Bats can see,No they are blind,x\n"
        "A,B,Is the moon cheese?,No,No it is rock,Yes it is cheese,x\n"
    )
    answers = _jsonl(
        tmp_path / "answers.jsonl",
        [
            {"question": "is the moon cheese?", "answer": "Yes it is cheese"},
            {"question": "Do bats see?", "answer": "Bats can see"},
        ],
    )
    out = tmp_path / "scores.json"
    args = ["score", "--input", str(csv), "--answers", str(answers), "--out", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert [e["question"] for e in data["examples"]] == ["Do bats see?", "Is the moon cheese?"]
    assert [e["truthful"] for e in data["examples"]] == [1.0, 0.0]
    assert data["metrics"]["truthful_acc"]["value"] == 0.5
    assert "score_0.5" not in data["metrics"]  # no confidences, no confidence targets


BAD = [
    (
        '{"question": "q", "valid_answers": ["a"], "answer": "a"}\n{"question": "r"',
        "line 2: invalid JSON",
    ),
    (
        '{"question": "q", "valid_answer": ["a"], "answer": "a"}',
        "line 1: unknown key(s) 'valid_answer'",
    ),
    (
        '{"question": "q", "valid_answers": [], "answer": "a"}',
        "line 1: 'valid_answers' needs at least 1",
    ),
    (
        '\n{"question": "q", "valid_answers": ["a"], "answer": 3}',
        "line 2: 'answer' must be a string",
    ),
    (
        '{"question": "q", "valid_answers": ["a"], "answer": "a", "confidence": 2}',
        "line 1: 'confidence' must be a number in [0, 1], got 2",
    ),
    (
        '{"question": "q", "valid_answers": ["a"], "answer": "a", "confidence": 0.5}\n'
        '{"question": "r", "valid_answers": ["a"], "answer": "a"}',
        "line 2: 'confidence' on some lines only (line 1 has it, line 2 not)",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_rows_are_refused_by_line_and_nothing_is_written(tmp_path, capsys, text, message):
    src = tmp_path / "bad.jsonl"
    src.write_text(text)
    before = sorted(tmp_path.iterdir())
    assert main(["score", "--input", str(src)]) == 2
    err = capsys.readouterr().err
    assert f"{src}: {message}" in err, err
    assert sorted(tmp_path.iterdir()) == before


def test_csv_rows_without_an_answer_are_named(tmp_path, capsys):
    csv = tmp_path / "tqa.csv"
    csv.write_text("Question,Best Answer,Correct Answers,Incorrect Answers\nq1?,a,a,b\nq2?,c,c,d\n")
    answers = _jsonl(tmp_path / "a.jsonl", [{"question": "q1?", "answer": "a"}])
    assert main(["score", "--input", str(csv), "--answers", str(answers)]) == 2
    assert f"{csv}: row 2: no answer in {answers}" in capsys.readouterr().err
    assert main(["score", "--input", str(csv)]) == 2
    assert "needs --answers FILE" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.scores.json"))


def test_score_logs_an_mlflow_run_when_a_store_is_set(tmp_path, mlflow_uri, capsys):
    src = _jsonl(tmp_path / "mine.jsonl", LINES)
    assert main(["score", "--input", str(src), "--experiment", "mine"]) == 0
    assert "logged to MLflow run" in capsys.readouterr().out
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["mine"])
    assert len(runs) == 1 and runs["status"][0] == "FINISHED"
    assert runs["metrics.delta_hall_rate"][0] == 0.25
    assert runs["metrics.delta_hall_rate_high"][0] >= 0.25
    assert runs["params.delta"][0] == "0.5" and runs["tags.input_digest"][0]
    table = mlflow.load_table("examples.json", run_ids=[runs["run_id"][0]])
    assert table["delta_hallucinated"].tolist() == [False, False, False, True]


def test_a_user_similarity_by_import_path(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    (tmp_path / "mysim.py").write_text("def first(a, b):\n    return float(a[:1] == b[:1])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    src = _jsonl(tmp_path / "mine.jsonl", LINES)
    assert main(["score", "--input", str(src), "--similarity", "mysim:first"]) == 0
    data = json.loads((tmp_path / "mine.scores.json").read_text())
    assert data["settings"]["similarity"] == "first"
    assert data["metrics"]["delta_hall_rate"]["value"] == 0.0  # "Ag" starts like "Au"
    assert main(["score", "--input", str(src), "--similarity", "mysim:nope"]) == 2


def test_help_names_the_apis_own_defaults():
    defaults = {k: p.default for k, p in inspect.signature(scoring.score).parameters.items()}
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["score"]
    text = sub.format_help().replace("\n", " ")
    assert f"(default: {defaults['delta']})" in text
    assert f"(default: {','.join(f'{t:g}' for t in defaults['targets'])})" in text
    assert f"(default: {defaults['n_boot']})" in text and f"(default: {defaults['level']})" in text
    assert f"(default: {defaults['seed']})" in text and defaults["correct_if"] == "resembles"
