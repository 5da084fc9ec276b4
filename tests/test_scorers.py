"""The MLflow 3 scorers inside `mlflow.genai.evaluate`, offline: a local predict_fn, no LLM."""

from __future__ import annotations

import mlflow
import pytest

from deltahall.scorers import confidence_target, delta_hallucination

ANSWERS = {  # question -> what a local "model" says
    "Capital of Portugal?": {"answer": "Lisbon", "confidence": 0.9},
    "Capital of Latvia?": {"answer": "Rigga", "confidence": 0.8},  # 2·4/9 > 0.5: resembles
    "Capital of Peru?": {"answer": "Quito", "confidence": 0.95},  # "i": 2/9 <= 0.5
    "Capital of Chad?": {"answer": "I don't know", "confidence": 0.2},
}
VALID = {"Portugal": "Lisbon", "Latvia": "Riga", "Peru": "Lima", "Chad": "N'Djamena"}


def test_scorers_in_genai_evaluate_match_hand_computation(mlflow_uri):
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment("scorers")
    data = [
        {"inputs": {"question": f"Capital of {c}?"}, "expectations": {"valid_answers": [v]}}
        for c, v in VALID.items()
    ]
    result = mlflow.genai.evaluate(
        data=data,
        predict_fn=lambda question: ANSWERS[question],
        scorers=[delta_hallucination(), confidence_target(0.75)],
    )
    m = result.metrics
    assert m["delta_hallucinated/mean"] == 0.25  # Quito only; the abstention is no δ-flag
    assert m["delta_hallucinated/ci_low"] <= 0.25 <= m["delta_hallucinated/ci_high"]
    # t = 0.75: +1 (Lisbon, .9), +1 (Rigga, .8), −3 (Quito, .95), 0 (abstains): −1/4
    assert m["score_0.75/mean"] == pytest.approx(-0.25)
    frame = result.result_df.set_index(result.result_df["request"].astype(str))
    rationale = frame["delta_hallucinated/rationale"].tolist()
    assert any("<= 0.5" in r for r in rationale) and any("abstention" in r for r in rationale)


def test_scorers_refuse_rows_without_what_they_need():
    flag = delta_hallucination()
    with pytest.raises(ValueError, match="valid_answers"):
        flag(inputs={"question": "q"}, outputs="a", expectations={})
    assert (
        flag(
            inputs={"question": "q"}, outputs="Lisbon", expectations={"valid_answers": ["Lisbon"]}
        ).value
        is False
    )
    with pytest.raises(ValueError, match="needs outputs"):
        confidence_target(0.5)(inputs={}, outputs="a", expectations={"valid_answers": ["a"]})
