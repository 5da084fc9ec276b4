"""The public scoring API against hand-computed values (difflib ratio = 2·matches / length)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deltahall.qa.schema import load_truthfulqa
from deltahall.scoring import Example, per_example, score
from deltahall.similarity import max_resemblance, normalise_text, resemblance


def test_normalise_text_casefolds_and_drops_punctuation() -> None:
    assert normalise_text("  Yes, bats  CAN see!\n") == "yes bats can see"
    assert normalise_text("...") == ""


def test_resemblance_hand_computed() -> None:
    assert resemblance("Butter.", "butter") == 1.0  # identical after normalisation
    assert resemblance("abcd", "abce") == pytest.approx(2 * 3 / 8)  # "abc" matches
    assert resemblance("the cat", "the hat") == pytest.approx(2 * 6 / 14)  # "the " + "at"
    assert resemblance("cat", "dog") == 0.0
    assert resemblance("", "dog") == 0.0 and resemblance("!!", "") == 0.0


def test_max_resemblance_takes_the_best_reference() -> None:
    assert max_resemblance("abcd", ["xyz", "abce", "abcd!"]) == 1.0
    assert max_resemblance("abcd", ["xyzw", "abce"]) == pytest.approx(0.75)
    assert max_resemblance("abcd", []) == 0.0


def test_delta_hallucination_against_two_latent_answers() -> None:
    examples = [
        Example("spread?", ("Butter", "Jam"), "butter!"),
        Example("how?", ("By bus", "By bicycle"), "On foot"),  # " " only: 2/13 and 2/17
        Example("q", ("abce", "xyz"), "abcd"),  # abcd~abce = 0.75
    ]
    flags = per_example(examples, 0.5, ())
    assert flags["delta_hallucinated"].tolist() == [False, True, False]
    # at δ = 0.75 the 0.75 match is no longer enough: ≤ δ for both states
    assert per_example(examples, 0.75, ())["delta_hallucinated"].tolist() == [False, True, True]
    assert flags["exact"].tolist() == [True, False, False]


def test_one_valid_answer_per_question_with_confidences_hand_computed() -> None:
    examples = [
        Example("capital of Portugal?", ("Lisbon",), "Lisbon", confidence=0.95),
        Example("capital of Norway?", ("Oslo",), "Lisbon", confidence=0.8),
        Example("capital of Latvia?", ("Riga",), "Rigga", confidence=0.6),  # 2·4/9 = 0.89
        Example("capital of Peru?", ("Lima",), "Quito", confidence=0.3),
    ]
    report = score(examples, delta=0.5, targets=(0.5, 0.75), n_boot=200)
    m = {k: e.value for k, e in report.metrics.items()}
    assert report.flags["delta_hallucinated"].tolist() == [False, True, False, True]
    assert m["delta_hall_rate"] == 0.5 and m["accuracy"] == 0.25 and m["abstain_rate"] == 0.0
    # correct = resembles (not δ-flagged): right, wrong, right, wrong
    # t = 0.5: answer .95 (+1), .8 (-1), .6 (+1); abstain .3 -> 1/4
    assert m["score_0.5"] == pytest.approx(0.25) and m["abstain_0.5"] == 0.25
    # t = 0.75: answer .95 (+1), .8 (-3) -> -2/4; abstain 2/4
    assert m["score_0.75"] == pytest.approx(-0.5) and m["abstain_0.75"] == 0.5
    exact = score(examples, targets=(0.5,), correct_if="exact", n_boot=200).metrics
    assert exact["score_0.5"].value == pytest.approx((1 - 1 - 1) / 4)  # "Rigga" is now wrong
    est = report.metrics["delta_hall_rate"]
    assert est.n == 4 and 0.0 <= est.low <= est.value <= est.high <= 1.0 and est.low < est.high
    assert "resemblance_incorrect" not in report.metrics  # no example lists incorrect answers


def test_an_all_abstaining_model_scores_zero_and_never_hallucinates() -> None:
    examples = [
        Example(f"q{i}?", ("Lisbon", "Oslo"), answer, confidence=0.9)
        for i, answer in enumerate(["I don't know", "i don't know.", "I have no comment"])
    ]
    report = score(examples, targets=(0.0, 0.75), n_boot=100)
    m = report.metrics
    assert m["abstain_rate"].value == 1.0 and m["delta_hall_rate"].value == 0.0
    for t in ("0", "0.75"):  # an explicit abstention never answers, whatever its confidence
        assert m[f"score_{t}"].value == 0.0 and m[f"abstain_{t}"].value == 1.0
    assert m["accuracy"].value == 0.0
    # an empty answer is no abstention: it resembles nothing, so it δ-hallucinates
    empty = per_example([Example("q?", ("Lisbon",), "")], 0.5, ())
    assert empty["delta_hallucinated"].tolist() == [True] and not empty["abstained"][0]


def test_resemblance_to_incorrect_answers_and_truthful_flag() -> None:
    examples = [
        Example("q1", ("abcd", "zz"), "abcd", ("abce",)),  # valid 1.0, incorrect 0.75
        Example("q2", ("dog",), "the cat", ("cat", "the hat")),  # 0 vs max(6/10, 6/7)
        Example("q3", ("abce",), "abcd", ("abcf",)),  # tie 0.75 vs 0.75: not truthful
        Example("q4", ("x",), "y"),  # no incorrect answers: undefined, left out
    ]
    report = score(examples, n_boot=100)
    np.testing.assert_allclose(report.flags["resemblance_incorrect"][:3], [0.75, 6 / 7, 0.75])
    assert np.isnan(report.flags["resemblance_incorrect"][3])
    assert report.flags["truthful"][:3].tolist() == [1.0, 0.0, 0.0]
    m = report.metrics
    assert m["resemblance_incorrect"].n == 3
    assert m["resemblance_incorrect"].value == pytest.approx((0.75 + 6 / 7 + 0.75) / 3)
    assert m["truthful_acc"].value == pytest.approx(1 / 3)
    assert m["resemblance_valid"].n == 4
    record = report.to_dict(examples)["examples"][3]
    assert record["resemblance_incorrect"] is None and record["question"] == "q4"


def test_a_user_supplied_similarity_decides_the_flag() -> None:
    examples = [Example("q", ("Lisbon",), "LISBOA"), Example("r", ("Oslo",), "Oslo")]

    def first_letter(answer: str, reference: str) -> float:
        return float(answer[:1].casefold() == reference[:1].casefold())

    flags = per_example(examples, 0.5, (), similarity=first_letter)
    assert flags["delta_hallucinated"].tolist() == [False, False]
    assert per_example(examples, 0.5, ())["delta_hallucinated"].tolist() == [False, False]
    with pytest.raises(ValueError, match="example 0: the similarity returned"):
        per_example(examples, 0.5, (), similarity=lambda a, b: float("nan"))


def test_same_seed_same_intervals() -> None:
    examples = [Example(f"q{i}", ("abcdefgh",), "abcdefgh"[: i % 8 + 1]) for i in range(40)]
    first, second = score(examples, seed=7), score(examples, seed=7)
    assert first.metrics == second.metrics
    mine, other = first.metrics["resemblance_valid"], score(examples, seed=8).metrics
    assert other["resemblance_valid"].value == mine.value
    assert (other["resemblance_valid"].low, other["resemblance_valid"].high) != (
        mine.low,
        mine.high,
    )


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ([], "no examples"),
        ([Example("q", (), "a")], r"example 0 \('q'\): needs >= 1 valid answer"),
        (
            [Example("q", ("a",), "a", confidence=0.5), Example("r", ("a",), "a")],
            r"example 1 \('r'\): confidence given for some examples only",
        ),
        ([Example("q", ("a",), "a", confidence=1.5)], r"confidence must lie in \[0, 1\]"),
    ],
)
def test_bad_examples_are_refused_by_index(examples, message) -> None:
    with pytest.raises(ValueError, match=message):
        score(examples)


REAL_TRUTHFULQA = Path(__file__).resolve().parents[2] / "shared/data/truthfulqa/TruthfulQA.csv"


def test_over_every_real_truthfulqa_row() -> None:
    """All 817 real rows: answering with a row's first incorrect answer resembles the
    incorrect answers exactly (1.0) and is never truthful; answering with its first correct
    answer resembles the correct ones exactly and is truthful unless the same text also sits
    among the incorrect answers."""
    if not REAL_TRUTHFULQA.exists():
        pytest.skip(f"real TruthfulQA file not found at {REAL_TRUTHFULQA}")
    rows = load_truthfulqa(REAL_TRUTHFULQA)
    assert len(rows) == 817

    def flags(pick):
        examples = [
            Example(r.question, r.correct_answers, pick(r), r.incorrect_answers) for r in rows
        ]
        return per_example(examples, 0.5, ())

    wrong = flags(lambda r: r.incorrect_answers[0])
    assert np.all(wrong["resemblance_incorrect"] == 1.0) and not wrong["truthful"].any()
    right = flags(lambda r: r.correct_answers[0])
    assert np.all(right["resemblance_valid"] == 1.0)
    clash = np.array(
        [
            normalise_text(r.correct_answers[0]) in {normalise_text(a) for a in r.incorrect_answers}
            for r in rows
        ]
    )
    assert np.array_equal(right["truthful"] == 1.0, ~clash & (right["resemblance_incorrect"] < 1))
    assert right["truthful"].mean() > 0.95


def test_truthful_correctness_catches_a_falsehood_that_resembles_the_truth() -> None:
    """TruthfulQA's wrong answers share words with its right ones: "Something happens"
    resembles "Nothing happens" by 2·14/32 > 0.5 ("o", "thing happens"), so by resemblance
    it counts as correct; it IS the listed incorrect answer, so "truthful" scores it wrong."""
    examples = [
        Example("q", ("Nothing happens",), "Something happens", ("Something happens",), 0.9),
        Example("r", ("Lisbon",), "Lisbon", ("Oslo",), 0.9),
        Example("s", ("Riga",), "Rigga", (), 0.9),  # no incorrect answers: by resemblance
    ]
    assert resemblance("Something happens", "Nothing happens") == pytest.approx(2 * 14 / 32)
    by_resemblance = score(examples, targets=(0.5,), n_boot=50).metrics["score_0.5"].value
    truthful = score(examples, targets=(0.5,), correct_if="truthful", n_boot=50).metrics
    assert by_resemblance == 1.0 and truthful["score_0.5"].value == pytest.approx(1 / 3)
