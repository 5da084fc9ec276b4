"""t2i_train and t2i_report on the smoke profile: files, MLflow runs, grids, figures, crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

import deltahall.t2i.run as t2i_run
from deltahall.cli import main
from deltahall.raw_data import shipped_data_dir

PROMPTS = ["zero", "one", "mixed"]


@pytest.fixture
def imagework(workdir: Path) -> Path:
    shutil.copytree(shipped_data_dir() / "images", workdir / "data" / "images")
    return workdir


def _t2i_runs(uri: str, stage: str = "t2i_train") -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["t2i"], order_by=["start_time ASC"])
    return runs[runs["tags.deltahall.stage"] == stage].reset_index(drop=True)


def test_t2i_stages_track_every_epoch_then_a_crash_ends_failed(
    imagework: Path, mlflow_uri: str, capsys, monkeypatch
):
    assert main(["clip-train"]) == 0
    # Without a registered detector the stage names what is missing and writes nothing.
    assert main(["t2i-train"]) == 2
    assert "run the detector stage first" in capsys.readouterr().err
    assert not (imagework / "plots" / "t2i").exists() and not (imagework / "outputs/t2i").exists()
    assert main(["detector"]) == 0
    # Fine-tuning starts from the pretrained base: without it, the same.
    assert main(["t2i-train"]) == 2
    assert "run the t2i_pretrain stage first" in capsys.readouterr().err
    assert not (imagework / "outputs/t2i").exists()
    assert main(["t2i-pretrain"]) == 0
    pretrain = json.loads((imagework / "metrics/t2i/pretrain.json").read_text())
    assert set(pretrain["rate_by_prompt"]) == set(PROMPTS) and pretrain["n_images"] > 1000
    assert len(pretrain["classes"]) == 10  # all ten digits, not only the fitted two
    base = pd.read_csv(imagework / "plots/t2i/pretrain_history.csv")
    assert base["epoch"].tolist() == [0, 1]
    assert (imagework / "outputs/t2i_base/unet/config.json").exists()
    assert _t2i_runs(mlflow_uri, "t2i_pretrain")["status"].tolist() == ["FINISHED"]
    assert main(["t2i-train"]) == 0
    out = capsys.readouterr().out
    assert "[t2i-train] seed 0 epoch 2/2 train/loss " in out

    history = pd.read_csv(imagework / "plots/t2i/history.csv")
    assert history[["seed", "epoch"]].values.tolist() == [[0, 0], [0, 1], [0, 2]]
    # epoch 0 is the base itself: its samples (same seeds) are judged as in t2i_pretrain
    assert history["val/hall_rate"].iloc[0] == pytest.approx(base["val/hall_rate"].iloc[-1])
    assert {f"val/hall_rate/{p}" for p in PROMPTS} <= set(history.columns)
    assert history["val/hall_rate"].between(0, 1).all()
    runs = _t2i_runs(mlflow_uri)
    assert len(runs) == 1 and runs["status"].tolist() == ["FINISHED"]
    run = runs.iloc[0]
    assert run["tags.profile"] == "smoke" and run["tags.git_commit"]
    assert run["tags.detector_uri"] == "models:/hcdr-digits-clip-small@champion"
    client = MlflowClient()
    for metric in ("train/loss", "val/hall_rate", "val/mean_hall/mixed_high"):
        logged = client.get_metric_history(run["run_id"], metric)
        assert [m.step for m in logged] == [0, 1, 2]  # step = epoch
        assert [m.value for m in logged] == pytest.approx(history[metric].tolist())
    # one image key per prompt, one image per epoch: the UI's step slider
    images = [Path(a.path).name for a in client.list_artifacts(run["run_id"], "images")]
    steps = {(name.split("+")[0], name.split("+")[2]) for name in images if name.endswith(".png")}
    assert steps == {(p, str(e)) for p in PROMPTS for e in (0, 1, 2)}
    (unet,) = mlflow.search_logged_models(
        experiment_ids=[run["experiment_id"]], output_format="list"
    )
    assert unet.source_run_id == run["run_id"] and unet.status == "READY"
    assert sorted({m.step for m in unet.metrics if m.key == "val/hall_rate"}) == [0, 1, 2]
    assert (
        type(mlflow.pytorch.load_model(f"models:/{unet.model_id}")).__name__
        == "UNet2DConditionModel"
    )
    assert (imagework / "outputs/t2i/seed0/unet/config.json").exists()
    assert json.loads((imagework / "metrics/t2i/train.json").read_text())["seeds"] == [0]

    assert main(["t2i-report"]) == 0
    for fig in ("figure5.png", "figure6.png"):
        assert (imagework / "plots/t2i/figures" / fig).stat().st_size > 10_000
    summary = json.loads((imagework / "metrics/t2i/summary.json").read_text())
    assert summary["seeds"] == 1 and summary["epochs"] == 2
    assert summary["train/loss"]["first"][0] == pytest.approx(history["train/loss"].iloc[0])
    floor = json.loads((imagework / "metrics/detector.json").read_text())["real_floor"]["all"]
    assert summary["real_heldout_rate"] == floor["rate"]
    assert summary["base_rate"]["all"] == pytest.approx(history["val/hall_rate"].iloc[0])
    last = summary["excess_rate_by_epoch"][-1]
    assert last["excess"] == pytest.approx(history["val/hall_rate"].iloc[-1] - floor["rate"])
    assert {"slope", "low", "high"} <= set(summary["rate_loss_slope"]) and summary["verdict"]

    # Two seeds in two processes: the numbers of one by one, the history in seed order.
    raw = yaml.safe_load((imagework / "params.yaml").read_text())
    made = {}
    for processes in (1, 2):
        raw["t2i"].update(seeds=[0, 1], processes=processes)
        (imagework / "params.yaml").write_text(yaml.safe_dump(raw))
        assert main(["t2i-train"]) == 0
        both = pd.read_csv(imagework / "plots/t2i/history.csv").drop(columns=["time/epoch_s"])
        made[processes] = both, json.loads((imagework / "metrics/t2i/train.json").read_text())
        assert not list((imagework / "plots/t2i").glob("*.part"))  # joined, removed
    pd.testing.assert_frame_equal(made[1][0], made[2][0], check_exact=True)
    assert made[1][1] == made[2][1] and made[2][1]["seeds"] == [0, 1]
    assert made[2][0]["seed"].drop_duplicates().tolist() == [0, 1]
    seed0 = made[2][0][made[2][0]["seed"] == 0].reset_index(drop=True)  # as when trained alone
    pd.testing.assert_frame_equal(seed0, history.drop(columns=["time/epoch_s"]), check_exact=True)
    raw["t2i"].update(seeds=[0], processes=1)
    (imagework / "params.yaml").write_text(yaml.safe_dump(raw))

    # A crash in epoch 1: the run ends FAILED and epoch 0 is kept, in the file and in MLflow.
    calls = {"n": 0}
    real = t2i_run.generate

    def failing_generate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > len(PROMPTS):
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(t2i_run, "generate", failing_generate)
    with pytest.raises(RuntimeError, match="boom"):
        main(["t2i-train"])
    crashed = pd.read_csv(imagework / "plots/t2i/history.csv")
    assert crashed["epoch"].tolist() == [0]
    runs = _t2i_runs(mlflow_uri)
    assert runs["status"].tolist() == ["FINISHED"] * 5 + ["FAILED"]  # 1 + 2 x 2 seeds, then this
    assert [m.step for m in client.get_metric_history(runs.iloc[-1]["run_id"], "train/loss")] == [0]


def test_t2i_without_clip_names_the_missing_stage(imagework: Path, capsys):
    assert main(["t2i-train"]) == 2
    assert "run the clip_train stage first" in capsys.readouterr().err
    assert main(["t2i-pretrain"]) == 2
    assert "run the clip_train stage first" in capsys.readouterr().err
    assert main(["t2i-report"]) == 2
    assert "run the t2i_train stage first" in capsys.readouterr().err
