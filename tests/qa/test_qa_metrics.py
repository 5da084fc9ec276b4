"""The QA experiment's own scores: blends, and the QA keys over the scoring API's arrays."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.qa import keys
from deltahall.qa.metrics import (
    blended,
    is_blend,
    open_examples,
    per_question_scores,
    truthfulqa_examples,
)
from deltahall.qa.schema import OpenQuestion, TruthfulQARow


def test_blends_join_a_start_of_one_answer_to_an_end_of_the_other() -> None:
    assert is_blend("Lislo", "Lisbon", "Oslo") and is_blend("Oson", "Lisbon", "Oslo")
    assert is_blend("Lisga", "Riga", "Lisbon")  # the world's own blend, either order
    assert not is_blend("Lisbon", "Lisbon", "Oslo")  # a valid answer is no blend
    assert not is_blend("Porto", "Lisbon", "Oslo")  # a falsehood of another kind
    assert not is_blend("Lo", "Lisbon", "Oslo")  # one letter of each is chance
    got = blended(["Lislo", "Oslo", "Riga"], [["Lisbon", "Oslo"]] * 3)
    assert got.tolist() == [True, False, False]


def test_per_question_scores_name_the_scoring_arrays_with_qa_keys() -> None:
    questions = [
        OpenQuestion("1", "capital?", ("Lisbon", "Oslo"), "t"),
        OpenQuestion("2", "where?", ("Riga", "Lisbon"), "t"),
    ]
    rows = [TruthfulQARow("q", "abcd", ("abcd",), ("abce",))]
    val, tqa = per_question_scores(
        open_examples(questions, ["Lislo", "Riga"], [0.9, 0.4]),
        truthfulqa_examples(rows, ["abce"]),
        0.5,
        [0.5],
    )
    # "lislo" vs "lisbon": "lis" -> 6/11 > 0.5, so the blend is no δ-hallucination at 0.5
    assert val[keys.DELTA_RATE].tolist() == [0.0, 0.0]
    assert val[keys.ACCURACY].tolist() == [0.0, 1.0]
    assert val[keys.BLEND_RATE].tolist() == [1.0, 0.0]
    assert val[keys.confidence_target("score", 0.5)].tolist() == [1.0, 0.0]
    assert val[keys.confidence_target("abstain", 0.5)].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(tqa[keys.RESEMBLANCE_CORRECT], [0.75])
    np.testing.assert_allclose(tqa[keys.RESEMBLANCE_INCORRECT], [1.0])
    assert tqa[keys.TRUTHFUL_ACC].tolist() == [0.0]
    with pytest.raises(ValueError, match="got 1 answers for 2 questions"):
        open_examples(questions, ["x"])
