"""The QA stages end to end on a tiny config: files, per-epoch history, MLflow runs per
(epochs, seed) cell, Table 1 / Figure 4, and the errors that name the stage to run first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from deltahall.config import Params, deep_merge, parse_params
from deltahall.paths import QA_HISTORY as HISTORY
from deltahall.qa.qa_pretrain import run_qa_pretrain
from deltahall.qa.qa_train import run_qa_train
from deltahall.qa.report import run_qa_report
from deltahall.raw_data import shipped_data_dir

# The smoke overlay of the qa section (profiles/smoke.yaml), one torch thread for tests; the
# bundled files (the paper profile's source) unless a test says world.
SMOKE_QA = {
    "source": "files",
    "max_questions": 30,
    "max_truthfulqa": 10,
    "torch_threads": 1,
    "model": {"vocab_size": 384, "hidden_size": 32, "num_layers": 1, "num_heads": 2},
    "pretrain": {"epochs": 3, "lr": 0.01, "batch_size": 16},
    "train": {"lr": 0.01, "batch_size": 8},
    "grid": {"epochs": [1, 2], "seeds": [0]},
    "eval": {"max_new_tokens": 8, "n_boot": 50},
}


def qa_params(smoke_raw: dict, **overrides: dict) -> Params:
    return parse_params(deep_merge(smoke_raw, {"qa": deep_merge(SMOKE_QA, overrides)}), "test")


@pytest.fixture
def qa_workdir(workdir: Path) -> Path:
    shutil.copytree(shipped_data_dir() / "qa", workdir / "data" / "qa")
    return workdir


def test_train_before_pretrain_names_the_stage_and_writes_nothing(qa_workdir, smoke_raw):
    with pytest.raises(FileNotFoundError, match="run `deltahall qa-pretrain` first"):
        run_qa_train(qa_params(smoke_raw))
    with pytest.raises(FileNotFoundError, match="run `deltahall qa-train` first"):
        run_qa_report(qa_params(smoke_raw))
    assert sorted(p.name for p in qa_workdir.iterdir()) == ["data", "params.yaml"]


def test_missing_data_names_the_data_command(workdir, smoke_raw):
    with pytest.raises(FileNotFoundError, match="open_questions.jsonl.*`deltahall data`"):
        run_qa_pretrain(qa_params(smoke_raw))


def test_cli_reports_the_missing_base_with_exit_2(qa_workdir, capsys):
    from deltahall.cli import STAGE_CALLS as STAGES
    from deltahall.cli import main

    if "qa-train" not in STAGES:
        pytest.skip("cli.py does not list the QA stages yet")
    assert main(["qa-train"]) == 2
    assert "deltahall qa-pretrain" in capsys.readouterr().err


def _runs(experiment: str) -> dict[str, mlflow.entities.Run]:
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def _steps(run: mlflow.entities.Run, metric: str) -> list[int]:
    return sorted(m.step for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, metric))


def test_three_stages_write_files_history_and_one_run_per_cell(qa_workdir, smoke_raw, mlflow_uri):
    params = qa_params(smoke_raw)
    pretrain = run_qa_pretrain(params)
    assert pretrain["epochs"] == 3 and Path("outputs/qa/base/model.safetensors").exists()
    assert len(pd.read_csv("plots/qa/pretrain_history.csv")) == 3
    assert _steps(_runs("qa_pretrain")["qa-pretrain-tiny"], "train/loss") == [1, 2, 3]

    finals = run_qa_train(params)
    assert set(finals) == {"e1-seed0", "e2-seed0"}
    history = pd.read_csv(HISTORY)
    for cell in (1, 2):  # epoch 0 (the base) .. cell, once each
        rows = history[history["epochs"] == cell]
        assert rows["epoch"].tolist() == list(range(cell + 1)) and set(rows["seed"]) == {0}
        assert rows["train/loss"].iloc[1:].notna().all() and pd.isna(rows["train/loss"].iloc[0])
    rates = history[["val/delta_hall_rate", "resemblance/incorrect", "val/abstain_0.9"]]
    assert ((rates >= 0) & (rates <= 1)).all().all()
    assert (history["val/delta_hall_rate_low"] <= history["val/delta_hall_rate"]).all()
    assert (history["val/delta_hall_rate"] <= history["val/delta_hall_rate_high"]).all()
    answers = pd.read_csv("outputs/qa/answers/e2-seed0.csv")
    assert set(answers["split"]) == {"val", "truthfulqa"} and len(answers) == 6 + 10
    assert Path("outputs/qa/answers/e0-seed0.csv").exists()  # the base's, for calibration
    headline = json.loads(Path("metrics/qa/train.json").read_text())
    cells = json.loads(Path("metrics/qa/train.per_seed.json").read_text())
    assert cells["e2-seed0"]["train/loss"] > 0  # each cell beside, the mean over seeds headline
    seeds = [v["train/loss"] for k, v in cells.items() if k.startswith("e2-")]
    assert headline["e2"]["mean"]["train/loss"] == pytest.approx(sum(seeds) / len(seeds))

    runs = _runs("qa")
    assert set(runs) == {"qa-e1-seed0", "qa-e2-seed0"}
    for cell in (1, 2):
        run = runs[f"qa-e{cell}-seed0"]
        assert run.info.status == "FINISHED" and run.data.params["epochs"] == str(cell)
        assert _steps(run, "resemblance/incorrect") == list(range(cell + 1))
        assert _steps(run, "train/loss") == list(range(1, cell + 1))
        assert _steps(run, "val/score_0.75_high") == list(range(cell + 1))
        logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "answers")}
        assert logged == {f"answers/e{cell}-seed0.json", f"answers/e{cell}-seed0.csv"}
    # each cell's run holds the LoRA model as it was at that cell's epoch, metrics linked
    lora = {}
    for cell in (1, 2):
        run = runs[f"qa-e{cell}-seed0"]
        (model,) = mlflow.search_logged_models(
            filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list"
        )
        assert model.status == "READY"
        assert sorted({m.step for m in model.metrics if m.key == "val/delta_hall_rate"}) == list(
            range(cell + 1)
        )
        weights = mlflow.pytorch.load_model(f"models:/{model.model_id}").state_dict()
        lora[cell] = {k: v for k, v in weights.items() if "lora_B" in k}
    assert lora[1] and any(not (lora[1][k] == lora[2][k]).all() for k in lora[1])

    summary = run_qa_report(params)
    assert summary["resemblance/incorrect_final"] == pytest.approx(
        finals["e2-seed0"]["resemblance/incorrect"]
    )
    table = json.loads(Path("plots/qa/report/table1.json").read_text())["rows"]
    assert [r["epochs"] for r in table] == ["original", 1, 2]
    assert "| Original |" in Path("plots/qa/report/table1.md").read_text()
    assert Path("plots/qa/report/figure4.png").stat().st_size > 10_000
    assert Path("plots/qa/report/reliability.png").stat().st_size > 10_000
    assert json.loads(Path("metrics/qa/summary.json").read_text()) == pytest.approx(summary)


def test_world_source_pretrains_on_statements_and_gates_the_base(
    workdir, smoke_raw, mlflow_uri, capsys
):
    """qa.source: world reads the world stage's files; qa_pretrain reports accuracy by mentions
    and, below the gate, fails naming the figure after writing it."""
    from deltahall.cli import main
    from deltahall.gate import GateError

    params = qa_params(smoke_raw, source="world", gate={"mentions": 1, "min_accuracy": 1.0})
    with pytest.raises(FileNotFoundError, match="run `dvc repro world`"):
        run_qa_pretrain(params)
    assert main(["world"]) == 0
    with pytest.raises(GateError, match=r"qa.gate.min_accuracy: base accuracy 0\.\d+ on the"):
        run_qa_pretrain(params)
    written = json.loads(Path("metrics/qa/pretrain.json").read_text())
    assert written["source"] == "world" and written["n_asked"] == 10  # max_truthfulqa
    assert set(written["accuracy_by_mentions"]) == set(smoke_raw["facts"]["mention_bins"])
    assert written["accuracy_seen_often"]["n"] > 0
    assert written["n_texts"] > written["n_asked"]

    run_qa_pretrain(qa_params(smoke_raw, source="world"))  # smoke's gate: 0.0
    run_qa_train(qa_params(smoke_raw, source="world"))
    history = pd.read_csv(HISTORY)
    for key in ("val/accuracy", "val/blend_rate", "val/ece"):
        assert history[key].between(0, 1).all(), key
    val = pd.read_csv("outputs/qa/answers/e0-seed0.csv").query("split == 'val'")
    assert all(" | " in v for v in val["valid_answers"])  # the world's two-valued questions


def test_shared_prefix_equals_training_every_cell(qa_workdir, smoke_raw, mlflow_uri):
    """Why qa_train may train each seed once: with sampled decoding too, the k-epoch cell
    read off the longest run equals the k-epoch cell trained on its own."""
    run_qa_pretrain(qa_params(smoke_raw))
    histories = []
    for shared in (True, False):
        run_qa_train(qa_params(smoke_raw, decoding="sampled", grid={"share_prefix": shared}))
        history = pd.read_csv(HISTORY).sort_values(["epochs", "seed", "epoch"])
        histories.append(
            history.drop(columns=["time/epoch_s", "time/eval_s"]).reset_index(drop=True)
        )
    pd.testing.assert_frame_equal(histories[0], histories[1])
    assert set(_runs("qa")) == {"qa-e1-seed0", "qa-e2-seed0"}  # two runs per cell: 4 in all
    assert (
        len(
            mlflow.MlflowClient().search_runs(
                [mlflow.MlflowClient().get_experiment_by_name("qa").experiment_id]
            )
        )
        == 4
    )


def test_report_rejects_a_history_without_the_asked_cells(qa_workdir, smoke_raw):
    HISTORY.parent.mkdir(parents=True)
    pd.DataFrame({"epochs": [1, 1], "seed": [0, 0], "epoch": [0, 1]}).to_csv(HISTORY)
    with pytest.raises(ValueError, match=r"\(2, 0\).*rerun `deltahall qa-train`"):
        run_qa_report(qa_params(smoke_raw))
