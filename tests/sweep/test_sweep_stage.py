"""A smoke study end to end: `deltahall sweep` and `sweep-analysis` against a temp SQLite MLflow
store and a temp Optuna storage; files first, one parent run per study, one nested run per trial."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
import scipy.stats
import yaml

from deltahall.cli import main


def _set(workdir: Path, **sweep) -> None:
    """Edit the workdir's params: one torch thread (2 shared cores), then `sweep` overrides."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["coin"]["train"]["torch_threads"] = 1
    params["sweep"].update(sweep)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def test_coin_study_files_mlflow_and_analysis(workdir: Path, mlflow_uri: str, capsys):
    _set(workdir)
    assert main(["sweep", "--experiment", "coin"]) == 0
    trials = pd.read_csv(workdir / "outputs/sweep/coin/trials.csv")
    assert list(trials["number"]) == [0, 1, 2, 3] and set(trials["state"]) == {"COMPLETE"}
    assert {"lr", "epochs", "d_model", "n_layers", "batch_size"} <= set(trials.columns)
    assert trials["pareto"].any()
    history = pd.read_csv(workdir / "plots/sweep/coin_history.csv")
    assert set(history["seed"]) == {0, 1}
    assert history.groupby("trial")["epoch"].max().tolist() == [
        e for e in trials["epochs"]
    ]  # every epoch of every trial, both seeds
    summary = json.loads((workdir / "metrics/sweep/coin.json").read_text())
    assert summary["n_complete"] == 4 and summary["loss"] == "val/loss"
    assert "trial 3:" in capsys.readouterr().out  # one progress line per trial
    study = optuna.load_study(
        study_name="deltahall-coin", storage=f"sqlite:///{workdir}/outputs/sweep/coin/optuna.db"
    )
    assert study.metric_names == ["final val/loss", "final val/delta_hall_rate"]  # not "0", "1"
    _optuna_dashboard_names_the_objectives(capsys)

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["sweep_coin"])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(parents) == 1 and len(children) == 4
    assert set(children["tags.mlflow.parentRunId"]) == set(parents["run_id"])
    assert (runs["status"] == "FINISHED").all()
    client = mlflow.tracking.MlflowClient()
    for _, child in children.iterrows():
        epochs = int(child["params.knob.epochs"])
        for key in ("seed0/val/loss", "seed1/val/delta_hall_rate", "val/loss"):
            steps = [m.step for m in client.get_metric_history(child["run_id"], key)]
            assert steps == list(range(1, epochs + 1)), key
        number = int(child["tags.optuna.trial"])
        assert child["metrics.objective/loss"] == pytest.approx(trials["loss"][number])

    assert main(["sweep-analysis"]) == 0
    analysis = json.loads((workdir / "metrics/sweep/analysis.json").read_text())
    assert analysis["coin"]["n_trials"] == 4 and "verdict" in analysis["coin"]
    # the training loss beside the objective's val/loss: final epoch, mean over seeds
    assert list(analysis["coin"]["other_losses"]) == ["train/loss"]
    final_train = history.sort_values("epoch").groupby(["trial", "seed"])["train/loss"].last()
    by_trial = final_train.groupby("trial").mean().reindex(trials["number"])
    rho = scipy.stats.spearmanr(by_trial, trials["rate"]).statistic
    other = analysis["coin"]["other_losses"]["train/loss"]["across_trials"]["spearman"]
    assert other["estimate"] == pytest.approx(rho)
    run = mlflow.search_runs(experiment_names=["sweep_analysis"]).iloc[0]
    assert run["tags.verdict.coin"] == analysis["coin"]["verdict"]


def test_a_second_run_resumes_the_study_and_other_params_are_refused(
    workdir: Path, mlflow_uri: str, capsys
):
    _set(workdir, storage="journal:store/{experiment}.journal")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["sweep"]["coin"].update(n_trials=2, seeds=[0], n_examples=100)
    params["sweep"]["coin"]["space"]["epochs"] = {"type": "categorical", "choices": [1]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "coin"]) == 0
    params["sweep"]["coin"]["n_trials"] = 3
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "coin"]) == 0  # joins: runs the 1 missing trial
    out = capsys.readouterr().out  # a stored study is never reused silently
    assert "resuming a study an earlier run left (2 COMPLETE trials reused" in out
    assert "1 to run on 1 worker(s)" in out

    def stored():
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(workdir / "store/coin.journal"))
        )
        return optuna.load_study(study_name="deltahall-coin", storage=storage).trials

    assert [t.number for t in stored()] == [0, 1, 2]
    first = [t.datetime_start for t in stored()]
    assert main(["sweep", "--experiment", "coin", "--fresh"]) == 0  # what dvc repro runs
    out = capsys.readouterr().out
    assert "--fresh: removed study 'deltahall-coin' (3 trials of an earlier run)" in out
    assert "a new study; 3 to run" in out
    assert [t.number for t in stored()] == [0, 1, 2]
    assert all(t.datetime_start > max(first) for t in stored())  # rebuilt, not reused

    params["coin"]["model"]["ff_dim"] = 8  # same study name, other base params
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "coin"]) == 2
    assert "was made with other params" in capsys.readouterr().err


def test_bad_inputs_are_named(workdir: Path, mlflow_uri: str, capsys):
    assert main(["sweep", "--experiment", "nope"]) == 2
    assert "--experiment 'nope'" in capsys.readouterr().err
    assert main(["sweep", "--experiment", "coin", "--workers", "2"]) == 2
    assert "SQLite, for one worker only" in capsys.readouterr().err
    _set(workdir)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["sweep"]["coin"]["space"]["d_model"] = {"type": "categorical", "choices": [8, 5]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "coin"]) == 2  # 5 is not divisible by n_heads 2
    assert "sweep.coin.space proposed" in capsys.readouterr().err
    assert not (workdir / "outputs").exists()
    assert main(["sweep-analysis"]) == 2
    assert "run `deltahall sweep --experiment coin`" in capsys.readouterr().err


def _study_files(workdir: Path) -> dict[str, pd.DataFrame]:
    """The two studies' trials and histories as exported, less the wall-clock column."""
    out = workdir / "outputs/sweep/coin"
    files = ["trials.csv", "trials_seed1.csv", "history_seed1.csv"]
    frames = {name: pd.read_csv(out / name) for name in files}
    frames["history"] = pd.read_csv(workdir / "plots/sweep/coin_history.csv")
    return {k: f.drop(columns=["duration_s"], errors="ignore") for k, f in frames.items()}


def test_a_replicate_study_gives_the_verdict_for_every_sweep_seed(workdir: Path, mlflow_uri: str):
    _set(workdir, replicate_seeds=[1])
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["sweep"]["coin"]["processes"] = 1  # the two studies one after another first
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["sweep", "--experiment", "coin"]) == 0
    one_by_one = _study_files(workdir)
    main_trials, replicate = one_by_one["trials.csv"], one_by_one["trials_seed1.csv"]
    assert len(replicate) == len(main_trials) == 4 and set(replicate["state"]) == {"COMPLETE"}
    # another sampler seed proposes other knobs (the training seeds are the same)
    assert not main_trials["lr"].equals(replicate["lr"])
    # SQLite has one writer: each study in a file of its own
    out = f"sqlite:///{workdir}/outputs/sweep/coin"
    assert optuna.get_all_study_names(f"{out}/optuna.db") == ["deltahall-coin"]
    assert optuna.get_all_study_names(f"{out}/optuna-seed1.db") == ["deltahall-coin-seed1"]

    params["sweep"]["coin"]["processes"] = 2  # side by side: the same trials, value for value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.rmtree(workdir / "outputs/sweep")  # as dvc repro does with a stage's outs
    (workdir / "plots/sweep/coin_history.csv").unlink()
    assert main(["sweep", "--experiment", "coin"]) == 0
    for name, frame in _study_files(workdir).items():
        pd.testing.assert_frame_equal(frame, one_by_one[name], check_exact=True, obj=name)

    assert main(["sweep-analysis"]) == 0
    coin = json.loads((workdir / "metrics/sweep/analysis.json").read_text())["coin"]
    assert set(coin["verdict_by_seed"]) == {"0", "1"}
    assert coin["verdict_by_seed"]["0"] == coin["verdict"]
    assert coin["verdict_stable"] == (len(set(coin["verdict_by_seed"].values())) == 1)


def _optuna_dashboard_names_the_objectives(capsys) -> None:
    """What `make optuna-ui` serves: optuna-dashboard over `deltahall sweep-storage`."""
    import json as _json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    assert main(["sweep-storage", "--experiment", "coin"]) == 0
    storage = capsys.readouterr().out.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    cmd = [str(dashboard), "--host", "127.0.0.1", "--port", str(port), storage]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/1") as page:
                    study = _json.load(page)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("optuna-dashboard did not answer")
    finally:
        server.terminate()
        server.wait(10)
    assert study["name"] == "deltahall-coin"
    assert study["objective_names"] == ["final val/loss", "final val/delta_hall_rate"]
