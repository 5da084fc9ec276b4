"""QA metrics against hand-computed values (difflib ratio = 2·matches / total length)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deltahall.qa.metrics import (
    blended,
    confidence_target_scores,
    delta_hallucinated,
    exact_match,
    is_blend,
    max_resemblance,
    normalise_text,
    resemblance,
    score_truthfulqa,
)
from deltahall.qa.schema import TruthfulQARow, load_truthfulqa


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


def test_score_truthfulqa_per_question_and_means() -> None:
    rows = [
        TruthfulQARow("q1", "abcd", ("abcd", "zz"), ("abce",)),
        TruthfulQARow("q2", "cat", ("dog",), ("cat", "the hat")),
    ]
    scores = score_truthfulqa(["abcd", "the cat"], rows)
    # q1: correct 1.0, incorrect 0.75 -> diff 0.25, truthful
    # q2: correct ratio("the cat","dog") = 0; incorrect max(2*3/10, 6/7) = 6/7 -> not truthful
    np.testing.assert_allclose(scores.max_correct, [1.0, 0.0])
    np.testing.assert_allclose(scores.max_incorrect, [0.75, 6 / 7])
    np.testing.assert_array_equal(scores.truthful, [True, False])
    summary = scores.summary()
    assert summary["resemblance_incorrect"] == pytest.approx((0.75 + 6 / 7) / 2)
    assert summary["resemblance_correct"] == pytest.approx(0.5)
    assert summary["resemblance_diff"] == pytest.approx((0.25 - 6 / 7) / 2)
    assert summary["truthful_acc"] == 0.5


def test_score_truthfulqa_tie_is_not_truthful() -> None:
    rows = [TruthfulQARow("q", "", ("abce",), ("abcf",))]
    assert not score_truthfulqa(["abcd"], rows).truthful[0]  # 0.75 vs 0.75: diff 0


def test_delta_hallucinated_against_two_latent_answers() -> None:
    valid = [("Butter", "Jam"), ("By bus", "By bicycle"), ("abce", "xyz")]
    answers = ["butter!", "On foot", "abcd"]
    # "on foot" vs "by bus": only " " matches -> 2/13; vs "by bicycle": " " -> 2/17
    flags = delta_hallucinated(answers, valid, delta=0.5)
    np.testing.assert_array_equal(flags, [False, True, False])  # abcd~abce = 0.75 > 0.5
    # at δ = 0.75 the 0.75 match is no longer enough: ≤ δ for both states
    np.testing.assert_array_equal(delta_hallucinated(answers, valid, 0.75), [False, True, True])


def test_delta_hallucinated_validates() -> None:
    assert delta_hallucinated([], [], 0.5).shape == (0,)
    with pytest.raises(ValueError):
        delta_hallucinated(["a"], [("a", "b"), ("c", "d")], 0.5)
    with pytest.raises(ValueError):
        delta_hallucinated(["a", "b"], [("a", "b"), ("c",)], 0.5)
    with pytest.raises(ValueError):
        delta_hallucinated(["a"], [("a", "b")], 0.0)


def test_confidence_target_scores_hand_computed() -> None:
    conf = [0.95, 0.8, 0.6, 0.3]
    correct = [True, False, True, False]
    out = confidence_target_scores(conf, correct)
    # t=0.5: answer first three: +1 -1 +1, abstain last -> 1/4; abstain 1/4
    assert out["score@0.5"] == pytest.approx(1 / 4) and out["abstain@0.5"] == 0.25
    # t=0.75: answer 0.95 (+1) and 0.8 (wrong, -3) -> -2/4; abstain 2/4
    assert out["score@0.75"] == pytest.approx(-0.5) and out["abstain@0.75"] == 0.5
    # t=0.9: answer only 0.95 (+1) -> 1/4; abstain 3/4
    assert out["score@0.9"] == pytest.approx(0.25) and out["abstain@0.9"] == 0.75


def test_confidence_target_threshold_is_strict_and_validated() -> None:
    out = confidence_target_scores([0.5], [False], targets=(0.5,))
    assert out == {"score@0.5": 0.0, "abstain@0.5": 1.0}  # 0.5 is not > 0.5
    with pytest.raises(ValueError):
        confidence_target_scores([1.2], [True])
    with pytest.raises(ValueError):
        confidence_target_scores([0.5], [True], targets=(1.0,))
    with pytest.raises(ValueError):
        confidence_target_scores([0.5, 0.2], [True])


REAL_TRUTHFULQA = Path(__file__).resolve().parents[3] / "shared/data/truthfulqa/TruthfulQA.csv"


def test_metrics_over_every_real_truthfulqa_row() -> None:
    """All 817 real rows: answering with a row's first incorrect answer must resemble the
    incorrect answers exactly (1.0) and never count as truthful; answering with its first
    correct answer resembles the correct ones exactly and is truthful unless the same text
    also sits among the incorrect answers."""
    if not REAL_TRUTHFULQA.exists():
        pytest.skip(f"real TruthfulQA file not found at {REAL_TRUTHFULQA}")
    rows = load_truthfulqa(REAL_TRUTHFULQA)
    assert len(rows) == 817
    wrong = score_truthfulqa([r.incorrect_answers[0] for r in rows], rows)
    assert np.all(wrong.max_incorrect == 1.0) and not wrong.truthful.any()
    right = score_truthfulqa([r.correct_answers[0] for r in rows], rows)
    assert np.all(right.max_correct == 1.0)
    clash = np.array(
        [
            normalise_text(r.correct_answers[0]) in {normalise_text(a) for a in r.incorrect_answers}
            for r in rows
        ]
    )
    assert np.array_equal(right.truthful, ~clash & (right.max_incorrect < 1.0))
    assert right.truthful.mean() > 0.95


def test_exact_match_is_a_valid_answer_up_to_case_and_punctuation() -> None:
    got = exact_match(["Lisbon.", "lisbon", "Lisbo", ""], [["Lisbon", "Oslo"]] * 4)
    assert got.tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="2 valid_answers"):
        exact_match(["a"], [["a"], ["b"]])


def test_blends_join_a_start_of_one_answer_to_an_end_of_the_other() -> None:
    assert is_blend("Lislo", "Lisbon", "Oslo") and is_blend("Oson", "Lisbon", "Oslo")
    assert is_blend("Lisga", "Riga", "Lisbon")  # the world's own blend, either order
    assert not is_blend("Lisbon", "Lisbon", "Oslo")  # a valid answer is no blend
    assert not is_blend("Porto", "Lisbon", "Oslo")  # a falsehood of another kind
    assert not is_blend("Lo", "Lisbon", "Oslo")  # one letter of each is chance
    got = blended(["Lislo", "Oslo", "Riga"], [["Lisbon", "Oslo"]] * 3)
    assert got.tolist() == [True, False, False]
