"""The QA experiment's per-question scores (paper §6.2), on the public scoring API.

deltahall.scoring does the scoring (δ-hallucination, accuracy, resemblance, Kalai's confidence
targets); this module names its arrays with the QA keys and adds the QA-only blend rate:
the start of one valid answer joined to the end of the other, between the two latent states,
yet close enough to one of them that difflib may not flag it at δ = 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltahall import scoring
from deltahall.qa import keys
from deltahall.qa.schema import OpenQuestion, TruthfulQARow
from deltahall.similarity import normalise_text


def is_blend(answer: str, first: str, second: str) -> bool:
    """The answer is neither valid answer but a start of one joined to an end of the other,
    each part 2+ characters ("Lis" + "lo" of Lisbon and Oslo): an output between the two
    latent states (§6.2). Two characters: one shared letter is chance, not a blend."""
    a, x, y = normalise_text(answer), normalise_text(first), normalise_text(second)
    if not a or a in (x, y):
        return False
    for head, tail in ((x, y), (y, x)):
        for i in range(2, len(a) - 1):
            if head.startswith(a[:i]) and tail.endswith(a[i:]):
                return True
    return False


def blended(answers: Sequence[str], valid_answers: Sequence[Sequence[str]]) -> np.ndarray:
    """Bool per two-answer question: :func:`is_blend` of its two valid answers."""
    if len(answers) != len(valid_answers):
        raise ValueError(f"got {len(answers)} answers but {len(valid_answers)} valid_answers")
    return np.array([is_blend(a, *v) for a, v in zip(answers, valid_answers)], dtype=bool)


def open_examples(
    questions: Sequence[OpenQuestion], answers: Sequence[str], confidence=None
) -> list[scoring.Example]:
    """The held-out two-answer questions as scoring examples (their answers: latent states)."""
    conf = [None] * len(questions) if confidence is None else list(confidence)
    if not len(questions) == len(answers) == len(conf):
        raise ValueError(f"got {len(answers)} answers for {len(questions)} questions")
    return [
        scoring.Example(q.question, q.answers, a, confidence=c)
        for q, a, c in zip(questions, answers, conf)
    ]


def truthfulqa_examples(
    rows: Sequence[TruthfulQARow], answers: Sequence[str]
) -> list[scoring.Example]:
    """TruthfulQA rows as scoring examples: valid = the correct answers (else the best)."""
    if len(rows) != len(answers):
        raise ValueError(f"got {len(answers)} answers for {len(rows)} TruthfulQA rows")
    return [
        scoring.Example(r.question, r.correct_answers or (r.best_answer,), a, r.incorrect_answers)
        for r, a in zip(rows, answers)
    ]


def per_question_scores(
    val: Sequence[scoring.Example],
    truthfulqa: Sequence[scoring.Example],
    delta: float,
    targets: Sequence[float],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every per-epoch QA rate as per-question arrays (their means are the metrics; the rows
    are what a bootstrap resamples): (two-answer questions, TruthfulQA questions).

    For the confidence targets an answer is correct iff it does not δ-hallucinate, i.e. it
    resembles some valid answer by more than `delta` (scoring's correct_if="resembles").
    """
    flags = scoring.per_example(val, delta, targets)
    tqa = scoring.per_example(truthfulqa, delta, ())
    answers = [ex.answer for ex in val]
    return {
        keys.DELTA_RATE: flags["delta_hallucinated"].astype(np.float64),
        keys.ACCURACY: flags["exact"].astype(np.float64),
        keys.BLEND_RATE: blended(answers, [ex.valid_answers for ex in val]).astype(np.float64),
        **{
            keys.confidence_target(kind, t): flags[f"{kind}_{t:g}"]
            for t in targets
            for kind in ("score", "abstain")
        },
    }, {
        keys.RESEMBLANCE_INCORRECT: tqa["resemblance_incorrect"],
        keys.RESEMBLANCE_CORRECT: tqa["resemblance_valid"],
        keys.RESEMBLANCE_DIFF: tqa["resemblance_diff"],
        keys.TRUTHFUL_ACC: tqa["truthful"],
    }
