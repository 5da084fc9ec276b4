"""The detector as an MLflow pyfunc model: raw embeddings in, per-class scores out.

Input: a float array (n, D) of raw (un-normalised) embeddings — the signature records D.
Output: a DataFrame with, per class c, `log_density_<c>` and `inside_<c>`, and `hallucinated`
(outside every class's HCDR: Remark 5.1's union test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from deltahall.detector.artifact import load_detector
from deltahall.detector.fit import HCDRDetector

ARTIFACT_KEY = "detector"
CLIP_KEY = "clip"  # the CLIP the detector was fitted on: `deltahall judge-images` embeds with it


def predictions_frame(detector: HCDRDetector, embeddings: np.ndarray) -> pd.DataFrame:
    out = detector.predict(embeddings)
    columns: dict[str, np.ndarray] = {}
    for c, name in enumerate(detector.class_names):
        columns[f"log_density_{name}"] = out["log_density"][:, c]
        columns[f"inside_{name}"] = out["inside"][:, c]
    columns["hallucinated"] = out["hallucinated"]
    return pd.DataFrame(columns)


def detector_signature(detector: HCDRDetector) -> ModelSignature:
    outputs = [ColSpec("double", f"log_density_{n}") for n in detector.class_names]
    outputs += [ColSpec("boolean", f"inside_{n}") for n in detector.class_names]
    outputs.append(ColSpec("boolean", "hallucinated"))
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float64"), (-1, detector.embed_dim))]),
        outputs=Schema(outputs),
    )


class HCDRModel(PythonModel):
    """Loads the npz/json artifact; predicts with the same numpy code as the fitted object."""

    def load_context(self, context) -> None:
        self.detector = load_detector(context.artifacts[ARTIFACT_KEY])
        self.clip_folder: str | None = context.artifacts.get(CLIP_KEY)

    def predict(self, context, model_input: np.ndarray, params=None) -> pd.DataFrame:
        values = model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else model_input
        return predictions_frame(self.detector, np.asarray(values, dtype=np.float64))
