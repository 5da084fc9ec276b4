"""The registered HCDR detector, loaded by alias as an MLflow pyfunc: the t2i stage's judge.

The one place in t2i that touches MLflow outside deltahall.tracking: it reads the model the
`detector` stage registered (`models:/hcdr-<dataset>-<embedder>@champion`), so the judge is
exactly the version that passed its coverage check, wherever the store lives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deltahall.config import Params
from deltahall.detector.registry import registered_name
from deltahall.secrets import mask
from deltahall.tracking import tracking_uri
from deltahall.vision.clip import ClipSpec


@dataclass
class RegisteredJudge:
    """Callable: (n, D) raw embeddings -> (n,) bool, True = outside every class's HCDR."""

    uri: str
    model: object

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        frame = self.model.predict(np.asarray(embeddings, dtype=np.float64))
        return frame["hallucinated"].to_numpy(dtype=bool)


def load_judge(params: Params, spec: ClipSpec) -> RegisteredJudge:
    import mlflow
    from mlflow.exceptions import MlflowException

    store = tracking_uri(params)
    mlflow.set_tracking_uri(store)
    name = registered_name(params.images.dataset, spec.pretrained)
    uri = f"models:/{name}@{params.t2i.detector_alias}"
    try:
        return RegisteredJudge(uri, mlflow.pyfunc.load_model(uri))
    except MlflowException as err:
        raise FileNotFoundError(
            f"{uri} not found in the MLflow store {mask(store)}: run the detector "
            f"stage first (t2i.detector_alias names the alias) — {err}"
        ) from None
