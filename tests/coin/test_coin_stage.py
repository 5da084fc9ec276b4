"""The coin stages on the smoke profile: files first, then one MLflow run per seed."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch

from deltahall.cli import main


def _runs(uri: str, experiment: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def test_coin_stages_write_files_and_track_every_epoch(workdir: Path, mlflow_uri: str):
    assert main(["coin-data", "--n-choose", "2"]) == 0
    assert sorted(p.name for p in (workdir / "outputs/coin/observed/n2/data").iterdir()) == [
        "seed0.npz",
        "seed1.npz",
    ]
    assert main(["coin-train", "--n-choose", "2"]) == 0
    assert sorted(p.name for p in (workdir / "outputs/coin/observed/n2/models").iterdir()) == [
        "seed0.pt",
        "seed1.pt",
    ]
    history = pd.read_csv(workdir / "plots/coin/history/observed_n2.csv")
    assert list(zip(history.seed, history.epoch)) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    summary = json.loads((workdir / "metrics/coin/observed_n2.json").read_text())
    assert summary["ref/optimal_loss"] == pytest.approx(0.3125)
    assert summary["train/loss"] == pytest.approx(history[history.epoch == 2]["train/loss"].mean())
    assert "per_seed" not in summary  # per-seed figures stay out of the dvc exp show columns
    per_seed = json.loads((workdir / "metrics/coin/observed_n2.per_seed.json").read_text())
    last = history[history.epoch == 2].set_index("seed")["train/loss"]
    assert {s: v["train/loss"] for s, v in per_seed.items()} == {
        str(s): last[s] for s in last.index
    }

    runs = _runs(mlflow_uri, "coin")
    assert sorted(runs["tags.mlflow.runName"]) == ["observed-n2-seed0", "observed-n2-seed1"]
    assert (runs["status"] == "FINISHED").all()
    assert set(runs["params.model.d_model"]) == {"16"} and set(runs["params.seed"]) == {"0", "1"}
    assert runs["tags.git_commit"].notna().all() and set(runs["tags.profile"]) == {"smoke"}
    client = mlflow.tracking.MlflowClient()
    for run_id in runs["run_id"]:
        steps = [m.step for m in client.get_metric_history(run_id, "val/delta_hall_rate")]
        assert steps == [1, 2]
        # the reference line sits beside the metric it bounds, one flat value per epoch
        optimum = client.get_metric_history(run_id, "val/loss:optimal")
        assert [m.value for m in optimum] == pytest.approx([0.3125, 0.3125])
        assert not client.get_metric_history(run_id, "ref/optimal_loss")
    # each run's model is its MLflow LoggedModel, with the final metrics linked to it
    logged = client.search_logged_models(experiment_ids=[runs["experiment_id"].iloc[0]])
    assert sorted(m.source_run_id for m in logged) == sorted(runs["run_id"])
    by_run = dict(zip(runs["run_id"], runs["params.seed"]))
    for model in logged:
        assert {m.key for m in model.metrics} >= {"val/delta_hall_rate", "val/loss"}
        assert model.status == "READY"
        assert sorted({m.step for m in model.metrics}) == [1, 2]  # every epoch's, linked
        saved = torch.load(
            workdir / f"outputs/coin/observed/n2/models/seed{by_run[model.source_run_id]}.pt"
        )
        loaded = mlflow.pytorch.load_model(f"models:/{model.model_id}").state_dict()
        assert all(torch.equal(loaded[k], saved[k]) for k in saved)


def test_hidden_variant_and_report(workdir: Path, mlflow_uri: str):
    for args in (
        ["coin-data", "--n-choose", "2"],
        ["coin-train", "--n-choose", "2"],
        ["coin-data", "--n-choose", "3"],
        ["coin-train", "--n-choose", "3"],
        ["coin-data", "--variant", "hidden"],
        ["coin-train", "--variant", "hidden"],
        ["coin-report"],
    ):
        assert main(args) == 0, args
    assert len(_runs(mlflow_uri, "coin_hidden")) == 1
    for name in ("figure3.png", "hidden.png"):
        assert (workdir / "plots/coin/figures" / name).stat().st_size > 10_000
        assert (workdir / "plots/coin/figures" / name).with_suffix(".pdf").read_bytes()[
            :5
        ] == b"%PDF-"
    # the report's figures and table in MLflow: experiment `reports`, run `coin_report`
    reports = _runs(mlflow_uri, "reports")
    assert list(reports["tags.mlflow.runName"]) == ["coin_report"]
    run_id = reports["run_id"][0]
    logged = {a.path for a in mlflow.MlflowClient(mlflow_uri).list_artifacts(run_id, "figures")}
    assert {"figures/figure3.png", "figures/figure3.pdf", "figures/hidden.pdf"} <= logged
    table = mlflow.load_table("tables/delta_sensitivity.json", run_ids=[run_id])
    assert set(table["estimator"]) == {"trained", "bayes_l2", "mode"}
    summary = json.loads((workdir / "metrics/coin/summary.json").read_text())
    assert set(summary) == {"N=2", "N=3", "hidden N=2"}
    curves = pd.read_csv(workdir / "plots/coin/delta_sensitivity.csv")
    assert list(curves.columns) == [
        "n_choose",
        "estimator",
        "rounding",
        "delta",
        "rate",
        "rate_low",
        "rate_high",
    ]
    assert set(curves.n_choose) == {2, 3} and set(curves.rounding) == {"ceil", "round"}
    assert set(curves.estimator) == {"trained", "bayes_l2", "mode"}
    assert ((curves.rate_low <= curves.rate) & (curves.rate <= curves.rate_high)).all()
    exact = curves[curves.estimator != "trained"]
    assert (exact.rate_low == exact.rate_high).all()
    assert (workdir / "plots/coin/figures/delta_sensitivity.png").stat().st_size > 10_000


def test_hidden_variant_rejects_a_conflicting_n(workdir: Path, capsys):
    assert main(["coin-data", "--variant", "hidden", "--n-choose", "5"]) == 2
    assert "coin_hidden.n_choose" in capsys.readouterr().err
    assert not (workdir / "outputs").exists()


def test_train_without_data_names_the_missing_stage(workdir: Path, mlflow_uri: str, capsys):
    assert main(["coin-train", "--n-choose", "2"]) == 2
    assert "run `deltahall coin-data` first" in capsys.readouterr().err


def test_ctrl_c_ends_the_run_killed_with_one_line_and_no_traceback(workdir: Path, mlflow_uri: str):
    import signal
    import subprocess
    import sys

    import yaml

    raw = yaml.safe_load((workdir / "params.yaml").read_text())
    # long enough that it is still running when the signal lands, even on a loaded machine
    # (200 smoke epochs could finish between the first line and the signal: a flaky exit 0)
    raw["coin"]["train"]["epochs"] = 5000
    raw["coin"]["train"]["processes"] = 1  # one run, one process: the signal path under test
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    assert main(["coin-data", "--n-choose", "2"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "deltahall.cli", "coin-train", "--n-choose", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal: a job started with `&` by a non-interactive shell (a CI
        # runner's, `nohup … &`) inherits SIGINT ignored, and Python then never sees it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert "epoch 1/5000" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted (Ctrl-C)" in err and "Traceback" not in err
    said = [line for line in err.splitlines() if line.strip() and " INFO mlflow" not in line]
    assert len(said) == 1, err
    runs = _runs(mlflow_uri, "coin")
    assert list(runs["status"]) == ["KILLED"]
    history = mlflow.tracking.MlflowClient().get_metric_history(runs["run_id"][0], "train/loss")
    assert [m.step for m in history][:1] == [1]
    models = mlflow.search_logged_models(
        experiment_ids=[runs["experiment_id"][0]], output_format="list"
    )
    assert [m.status for m in models] == ["FAILED"]  # never filled: not left PENDING


def test_seeds_in_parallel_processes_give_the_numbers_of_one_by_one(workdir: Path, mlflow_uri: str):
    import yaml

    raw = yaml.safe_load((workdir / "params.yaml").read_text())
    assert main(["coin-data", "--n-choose", "3"]) == 0
    made = {}
    for processes in (1, 2):
        raw["coin"]["train"]["processes"] = processes
        (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
        assert main(["coin-train", "--n-choose", "3"]) == 0
        history = pd.read_csv(workdir / "plots/coin/history/observed_n3.csv")
        summary = json.loads((workdir / "metrics/coin/observed_n3.json").read_text())
        made[processes] = history.drop(columns=["time/epoch_s"]), summary
        assert not list((workdir / "plots/coin/history").glob("*.part"))  # joined, removed
    pd.testing.assert_frame_equal(made[1][0], made[2][0], check_exact=True)
    assert made[1][1] == made[2][1]
    assert list(made[2][0]["seed"].drop_duplicates()) == [0, 1]  # seed order kept
