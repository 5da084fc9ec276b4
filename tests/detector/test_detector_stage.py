"""clip_train and detector stages on the smoke profile: files, MLflow runs, registry alias."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

from deltahall.cli import main
from deltahall.raw_data import shipped_data_dir


@pytest.fixture
def imagework(workdir: Path) -> Path:
    shutil.copytree(shipped_data_dir() / "images", workdir / "data" / "images")
    return workdir


def test_clip_then_detector_registers_a_champion(imagework: Path, mlflow_uri: str):
    assert main(["clip-train"]) == 0
    assert {p.name for p in (imagework / "outputs/clip").iterdir()} == {
        "model.safetensors",
        "spec.json",
    }
    assert main(["detector"]) == 0
    summary = json.loads((imagework / "metrics/detector.json").read_text())
    for name in ("zero", "one"):
        assert abs(summary["metrics"][f"coverage/{name}"] - 0.9) <= 0.05
    assert [p["mix_weight"] for p in summary["interpolation"]] == [0.0, 0.5, 1.0]
    assert (imagework / "plots/detector/figure7.png").stat().st_size > 1000
    mlflow.set_tracking_uri(mlflow_uri)
    name = summary["registered_model"]
    assert name == "hcdr-digits-clip-small"
    version = MlflowClient().get_model_version_by_alias(name, summary["alias"])
    assert version.tags["data_version"] and version.tags["git_commit"]
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version.version}")
    emb = np.random.default_rng(0).normal(size=(4, 32))
    assert list(model.predict(emb).columns)[-1] == "hallucinated"
    clip_runs = mlflow.search_runs(experiment_names=["clip"])
    assert len(clip_runs) == 1 and clip_runs["metrics.train/loss"].notna().all()


def test_unknown_class_is_named_and_nothing_is_written(imagework: Path, mlflow_uri: str, capsys):
    assert main(["clip-train"]) == 0
    raw = yaml.safe_load((imagework / "params.yaml").read_text())
    raw["images"]["classes"] = ["zero", "cat"]
    (imagework / "params.yaml").write_text(yaml.safe_dump(raw))
    assert main(["detector"]) == 2
    assert "['cat'] not in the dataset's classes" in capsys.readouterr().err
    assert not (imagework / "outputs/detector").exists()


def test_detector_without_clip_names_the_missing_stage(imagework: Path, capsys):
    assert main(["detector"]) == 2
    assert "run the clip_train stage first" in capsys.readouterr().err
