"""`deltahall gate` and `deltahall judge-images` against a temp SQLite store: hand-made runs,
and a detector registered with its CLIP, as the detector stage registers it."""

from __future__ import annotations

import csv
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from PIL import Image

from deltahall.cli import main
from deltahall.detector.artifact import save_detector
from deltahall.detector.fit import FitSettings, fit_detector
from deltahall.detector.registry import log_and_register
from deltahall.metric_gate import judge
from deltahall.vision.clip import ClipSpec, build_clip, embed_images, save_clip

NAME = "hcdr-test-clip"


def test_judge_compares_the_interval_not_the_estimate():
    m = {"rate": 0.1, "rate_low": 0.05, "rate_high": 0.25}
    assert not judge(m, "rate", 0.2, upper=True, run="r").passed  # 0.1 < 0.2 but 0.25 > 0.2
    assert judge(m, "rate", 0.25, upper=True, run="r").passed  # the bound itself passes
    assert judge(m, "rate", 0.05, upper=False, run="r").passed
    assert not judge(m, "rate", 0.06, upper=False, run="r").passed
    line = judge(m, "rate", 0.2, upper=True, run="r").line
    assert line == "gate FAILED: rate = 0.1000, CI upper bound 0.2500 > max 0.2 (run r)"
    with pytest.raises(ValueError, match="without its CI bound 'x_high'"):
        judge({"x": 0.1}, "x", 0.2, upper=True, run="r")
    with pytest.raises(ValueError, match="logged no metric 'y'"):
        judge(m, "y", 0.2, upper=True, run="r")


def _flat(levels) -> np.ndarray:
    """(n, 3, 32, 32): flat grey images, one brightness each."""
    return (
        np.ones((len(levels), 3, 32, 32), np.float32)
        * np.asarray(levels, np.float32)[:, None, None, None]
    )


@pytest.fixture
def registered(tmp_path, mlflow_uri):
    """A CLIP (untrained, seeded) and a detector of 'dark' and 'light' images fitted on its
    embeddings, registered from one run as version 1 (@champion)."""
    import torch

    torch.manual_seed(0)
    spec = ClipSpec()
    clip = build_clip(spec)
    clip_dir = save_clip(clip, spec, tmp_path / "clip")
    rng = np.random.default_rng(0)
    dark, light = rng.uniform(0.05, 0.3, 200), rng.uniform(0.7, 0.95, 200)
    emb = embed_images(clip, _flat(np.concatenate([dark, light])))
    det, _ = fit_detector(emb, np.repeat([0, 1], 200), ["dark", "light"], FitSettings(pca_dim=4), 0)
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment("detector")
    with mlflow.start_run() as run:
        mlflow.log_metrics({"coverage/dark": 0.9, "coverage/dark_low": 0.85})
        mlflow.log_metrics({"coverage/dark_high": 0.95})
        log_and_register(det, save_detector(det, tmp_path / "det"), clip_dir, NAME, {}, True)
    return run.info.run_id


def _save(folder: Path, pixels: np.ndarray, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(pixels):
        Image.fromarray((img.transpose(1, 2, 0) * 255).astype(np.uint8)).save(
            folder / f"{prefix}{i}.png"
        )


def test_judge_images_flags_what_fits_no_class(registered, tmp_path, capsys):
    folder = tmp_path / "mine"
    _save(folder, _flat([0.15, 0.18, 0.2]), "dark")  # mid-class brightnesses
    _save(folder, _flat([0.8, 0.82, 0.85]), "light")
    stripes = np.zeros((2, 3, 32, 32), dtype=np.float32)
    stripes[:, :, :, ::2] = 1.0  # half black, half white columns: neither class
    _save(folder, stripes, "stripes")
    out = tmp_path / "flags.csv"
    assert (
        main(
            ["judge-images", "--model", f"models:/{NAME}@champion", str(folder), "--out", str(out)]
        )
        == 0
    )
    rows = {Path(r["image"]).stem: r for r in csv.DictReader(out.open())}
    assert {k for k, r in rows.items() if r["hallucinated"] == "True"} == {"stripes0", "stripes1"}
    assert rows["dark0"]["inside_dark"] == "True" and rows["light2"]["inside_light"] == "True"
    printed = capsys.readouterr().out
    assert "2/8 images outside every class's HCDR: rate 0.250" in printed


def test_judge_images_names_a_missing_model_or_folder(registered, tmp_path, capsys):
    _save(tmp_path / "one", _flat([0.5]), "grey")
    assert main(["judge-images", "--model", "models:/nope@champion", str(tmp_path / "one")]) == 2
    assert "models:/nope@champion not found" in capsys.readouterr().err
    assert main(["judge-images", "--model", f"models:/{NAME}@champion", str(tmp_path / "x")]) == 2
    assert "no such image file or folder" in capsys.readouterr().err


def test_gate_moves_the_alias_only_when_it_passes(registered, mlflow_uri, capsys):
    run_id = registered
    client = MlflowClient(mlflow_uri)
    fail = ["gate", "--run", run_id, "--metric", "coverage/dark", "--min", "0.88"]
    assert main([*fail, "--model", NAME, "--alias", "gated"]) == 1
    err = capsys.readouterr().err
    assert "gate FAILED: coverage/dark = 0.9000, CI lower bound 0.8500 < min 0.88" in err
    assert f"alias {NAME}@gated not moved" in err
    assert "gated" not in client.get_registered_model(NAME).aliases
    ok = ["gate", "--run", run_id, "--metric", "coverage/dark", "--min", "0.8"]
    assert main([*ok, "--model", NAME, "--alias", "gated"]) == 0
    assert f"{NAME}@gated -> version 1" in capsys.readouterr().out
    assert str(client.get_model_version_by_alias(NAME, "gated").version) == "1"


def test_gate_on_an_experiments_newest_run(mlflow_uri, capsys):
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment("qa")
    for high in (0.5, 0.15):  # the newest run is the second
        with mlflow.start_run():
            mlflow.log_metrics({"val/delta_hall_rate": 0.1, "val/delta_hall_rate_high": high})
    base = ["gate", "--experiment", "qa", "--metric", "val/delta_hall_rate"]
    assert main([*base, "--max", "0.2"]) == 0
    assert "gate passed" in capsys.readouterr().out
    assert main([*base, "--max", "0.1"]) == 1
    assert "CI upper bound 0.1500 > max 0.1" in capsys.readouterr().err
    assert main(["gate", "--experiment", "nope", "--metric", "m", "--max", "1"]) == 2
    assert "no MLflow experiment 'nope'" in capsys.readouterr().err
