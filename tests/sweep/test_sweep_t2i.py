"""The text-to-image study on the smoke profile: trials of `train_t2i_run`, judged every epoch
by the registered HCDR detector; the detector's margins kept for the dashboard."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import yaml

from deltahall.cli import main
from deltahall.raw_data import shipped_data_dir
from deltahall.sweep.storage import load_existing_study


def test_t2i_study_needs_the_detector_then_tracks_every_trial(
    workdir: Path, mlflow_uri: str, capsys
):
    shutil.copytree(shipped_data_dir() / "images", workdir / "data" / "images")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["clip"]["torch_threads"] = 1
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "t2i"]) == 2  # no CLIP, no detector yet
    assert "outputs/clip" in capsys.readouterr().err

    assert main(["clip-train"]) == 0 and main(["detector"]) == 0
    assert main(["sweep", "--experiment", "t2i"]) == 2  # trials fine-tune the pretrained base
    assert "run the t2i_pretrain stage first" in capsys.readouterr().err
    assert main(["t2i-pretrain"]) == 0
    assert main(["sweep", "--experiment", "t2i"]) == 0
    trials = pd.read_csv(workdir / "outputs/sweep/t2i/trials.csv")
    assert list(trials["number"]) == [0, 1] and set(trials["state"]) == {"COMPLETE"}
    assert trials["rate"].between(0, 1).all()
    history = pd.read_csv(workdir / "plots/sweep/t2i_history.csv")
    assert history.groupby("trial")["epoch"].max().tolist() == trials["epochs"].tolist()
    assert (history["epoch"] == 0).sum() == len(trials)  # every trial logs the base as epoch 0

    study = load_existing_study("sqlite:///outputs/sweep/t2i/optuna.db", "deltahall-t2i")
    k_images = params["t2i"]["sample"]["k"] * len(params["t2i"]["prompts"])
    for trial in study.trials:
        detector = trial.user_attrs["detector"]
        assert len(detector["scores"]) == k_images and detector["threshold"] == 0.0
        outside = sum(s <= 0.0 for s in detector["scores"]) / k_images
        epochs = [k for k in trial.user_attrs if k.startswith("history/seed0/epoch")]
        last = trial.user_attrs[max(epochs, key=lambda k: int(k.rsplit("epoch", 1)[1]))]
        assert outside == last["val/hall_rate"]  # margins and the judge agree image by image

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_t2i"])
    assert runs["tags.mlflow.parentRunId"].notna().sum() == 2
