"""The QA study on the smoke profile: LoRA trials on the qa_pretrain base, δ-rate every epoch."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: no hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from deltahall.cli import main  # noqa: E402
from deltahall.qa.schema import load_open_questions  # noqa: E402
from deltahall.sweep.storage import load_existing_study  # noqa: E402


def test_qa_study_needs_the_base_then_tracks_every_trial(workdir: Path, mlflow_uri: str, capsys):
    assert main(["world"]) == 0  # the smoke profile's QA runs on the world
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["qa"]["torch_threads"] = 1
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "qa"]) == 2
    assert "run `deltahall qa-pretrain` first" in capsys.readouterr().err

    assert main(["qa-pretrain"]) == 0
    assert main(["sweep", "--experiment", "qa"]) == 0
    trials = pd.read_csv(workdir / "outputs/sweep/qa/trials.csv")
    assert list(trials["number"]) == [0, 1] and set(trials["state"]) == {"COMPLETE"}
    assert trials["rate"].between(0, 1).all() and (trials["loss"] > 0).all()
    history = pd.read_csv(workdir / "plots/sweep/qa_history.csv")
    assert history.groupby("trial")["epoch"].max().tolist() == trials["epochs"].tolist()

    study = load_existing_study("sqlite:///outputs/sweep/qa/optuna.db", "deltahall-qa")
    n_val = len(load_open_questions("outputs/world/eval.jsonl")[:30])  # smoke: max_questions
    for trial in study.trials:
        detector = trial.user_attrs["detector"]
        assert len(detector["scores"]) == n_val and detector["threshold"] == 0.5
        assert all(0.0 <= s <= 1.0 for s in detector["scores"])

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_qa"])
    assert runs["tags.mlflow.parentRunId"].notna().sum() == 2
    assert {"metrics.seed0/val/loss", "metrics.val/delta_hall_rate"} <= set(runs.columns)
