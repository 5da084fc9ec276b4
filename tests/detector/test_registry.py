"""The registered detector: signature, aliases, and a fresh process reloading it bit for bit."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from deltahall.detector.artifact import save_detector
from deltahall.detector.fit import FitSettings, fit_detector
from deltahall.detector.pyfunc import predictions_frame
from deltahall.detector.registry import coverage_within_tolerance, log_and_register

NAME = "hcdr-test-embedder"


@pytest.fixture
def registered(mlflow_uri, tmp_path):
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(m, 0.3, (150, 12)) for m in (-1.0, 1.0)])
    labels = np.repeat([0, 1], 150)
    det, _ = fit_detector(emb, labels, ["cat", "dog"], FitSettings(pca_dim=4), seed=0)
    folder = save_detector(det, tmp_path / "detector")
    clip_folder = tmp_path / "clip"  # the registered version carries its embedder's files
    clip_folder.mkdir()
    (clip_folder / "spec.json").write_text("{}")
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment("detector-test")
    with mlflow.start_run():
        first = log_and_register(det, folder, clip_folder, NAME, {"git_commit": "abc"}, True)
    with mlflow.start_run():
        second = log_and_register(det, folder, clip_folder, NAME, {"git_commit": "def"}, False)
    return det, emb, first, second


def test_aliases_follow_the_coverage_check(registered):
    _, _, first, second = registered
    assert first == ("1", "champion") and second == ("2", "challenger")
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert client.get_model_version(NAME, "2").tags["git_commit"] == "def"
    assert "judge-images" in client.get_registered_model(NAME).description
    assert coverage_within_tolerance({"a": 0.88, "b": 0.93}, 0.9, 0.05)
    assert not coverage_within_tolerance({"a": 0.80, "b": 0.90}, 0.9, 0.05)


def test_signature_records_the_embedding_width(registered):
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    inputs = model.metadata.get_input_schema().inputs
    assert inputs[0].shape == (-1, 12)
    outputs = model.metadata.get_output_schema().input_names()
    assert outputs == [
        "log_density_cat",
        "log_density_dog",
        "inside_cat",
        "inside_dog",
        "hallucinated",
    ]


def test_wrong_width_is_refused_with_the_width_named(registered):
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    with pytest.raises(Exception, match="12"):
        model.predict(np.ones((3, 11)))


def test_fresh_process_loads_champion_bit_identically(registered, tmp_path, mlflow_uri):
    det, emb, _, _ = registered
    np.save(tmp_path / "emb.npy", emb)
    script = (
        "import sys, mlflow, numpy as np\n"
        f"m = mlflow.pyfunc.load_model('models:/{NAME}@champion')\n"
        f"out = m.predict(np.load(r'{tmp_path / 'emb.npy'}'))\n"
        f"out.to_csv(r'{tmp_path / 'out.csv'}', index=False, float_format='%.17g')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    import pandas as pd

    fresh = pd.read_csv(tmp_path / "out.csv")
    expected = predictions_frame(det, emb)
    for column in expected:
        np.testing.assert_array_equal(fresh[column].to_numpy(), expected[column].to_numpy())
