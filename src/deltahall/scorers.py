"""MLflow 3 scorers for `mlflow.genai.evaluate`: δ-hallucination and confidence-target points.

    from deltahall.scorers import confidence_target, delta_hallucination
    mlflow.genai.evaluate(
        data=[{"inputs": {"question": "Capital of Portugal?"},
               "expectations": {"valid_answers": ["Lisbon"]}}],
        predict_fn=my_model,                 # returns "Lisbon" or {"answer": ..., "confidence": p}
        scorers=[delta_hallucination(), confidence_target(0.75)],
    )

Each row is scored by deltahall.scoring (one implementation with `deltahall score`):
``expectations`` carry ``valid_answers`` (the latent states) and optionally
``incorrect_answers``; ``outputs`` are the answer text, or a dict with ``answer`` and
``confidence``. Besides the mean, every scorer aggregates a percentile-bootstrap CI over the
rows (``<name>/ci_low``, ``<name>/ci_high``; 95 %, 1000 resamples, seed 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mlflow.entities import Feedback
from mlflow.genai.scorers import Scorer, scorer

from deltahall.scoring import Example, Similarity, per_example
from deltahall.similarity import resemblance
from deltahall.stats import bootstrap_ci


def ci_low(values: list[float]) -> float:
    return bootstrap_ci(np.asarray(values, dtype=float), 1000, 0.95, 0)[1]


def ci_high(values: list[float]) -> float:
    return bootstrap_ci(np.asarray(values, dtype=float), 1000, 0.95, 0)[2]


AGGREGATIONS = ["mean", ci_low, ci_high]


def _example(inputs: Any, outputs: Any, expectations: dict) -> Example:
    if not isinstance(expectations, dict) or not expectations.get("valid_answers"):
        raise ValueError("expectations need 'valid_answers': the answers that fit (>= 1)")
    answer, confidence = outputs, None
    if isinstance(outputs, dict):
        answer, confidence = outputs.get("answer"), outputs.get("confidence")
    if not isinstance(answer, str):
        raise ValueError(f"outputs must be the answer text or {{'answer': ...}}, got {outputs!r}")
    question = inputs.get("question", "") if isinstance(inputs, dict) else str(inputs)
    return Example(
        question,
        tuple(expectations["valid_answers"]),
        answer,
        tuple(expectations.get("incorrect_answers", ())),
        None if confidence is None else float(confidence),
    )


def delta_hallucination(delta: float = 0.5, similarity: Similarity = resemblance) -> Scorer:
    """True when the answer's similarity to every valid answer is ≤ δ (Definition 3.2);
    an explicit abstention ("I don't know") is False. Its mean is the δ-hallucination rate."""

    def delta_hallucinated(inputs, outputs, expectations) -> Feedback:
        example = _example(inputs, outputs, expectations)
        flags = per_example([example], delta, (), similarity)
        best = float(flags["resemblance_valid"][0])
        flagged = bool(flags["delta_hallucinated"][0])
        if flags["abstained"][0]:
            reason = "an explicit abstention states nothing: no δ-hallucination"
        else:
            reason = (
                f"max similarity to a valid answer {best:.3f} {'<=' if flagged else '>'} {delta}"
            )
        return Feedback(value=flagged, rationale=reason)

    return scorer(delta_hallucinated, name="delta_hallucinated", aggregations=AGGREGATIONS)


def confidence_target(
    t: float,
    delta: float = 0.5,
    correct_if: str = "resembles",
    similarity: Similarity = resemblance,
) -> Scorer:
    """Kalai et al.'s points at confidence target t: answer iff confidence > t; +1 correct,
    −t/(1−t) wrong, 0 abstaining. Its mean is the penalised score. Needs a confidence."""

    def points(inputs, outputs, expectations) -> Feedback:
        example = _example(inputs, outputs, expectations)
        if example.confidence is None:
            raise ValueError("confidence-target scoring needs outputs {'answer', 'confidence'}")
        flags = per_example([example], delta, (t,), similarity, correct_if=correct_if)
        value = float(flags[f"score_{t:g}"][0])
        answered = not flags[f"abstain_{t:g}"][0]
        reason = f"confidence {example.confidence:.3f} {'>' if answered else '<='} t = {t:g}"
        return Feedback(
            value=value, rationale=reason + (": answered" if answered else ": abstains")
        )

    return scorer(points, name=f"score_{t:g}", aggregations=AGGREGATIONS)
