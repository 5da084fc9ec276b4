"""End to end on the smoke profile: `dvc repro` in a scratch copy of the repository.

Checks the done-criteria of the pipeline: every stage runs and tracks its runs in the
params' SQLite store; a second repro reruns nothing; a coin training param reruns exactly what
README.md says; `deltahall data` round-trips data/ through the remote and never deletes it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import mlflow
import pytest
import yaml

from scratch_repo import BIN, make_scratch_repo, run
from scratch_repo import sh as _sh

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_repo(tmp_path: Path, smoke_raw: dict) -> Path:
    return make_scratch_repo(tmp_path / "repo", smoke_raw)


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _stages(repo: Path) -> set[str]:
    listed = _sh(repo, str(BIN / "dvc"), "stage", "list", "--name-only")
    return set(listed.split())


COIN_TRAINING = {"coin_train@2", "coin_train@3", "coin_hidden_train", "coin_report"}
# The coin sweep trains with coin.train's values for the knobs it does not search, so a coin
# training param reruns it and the analysis too; `validate` reruns on any params change.
COIN_EPOCHS_RERUN = COIN_TRAINING | {"validate", "sweep_coin", "sweep_analysis"}


def test_dvc_repro_tracks_reruns_nothing_then_only_what_changed(scratch_repo: Path):
    _sh(scratch_repo, str(BIN / "deltahall"), "data", "--no-push")
    every_stage = _stages(scratch_repo)
    assert {
        "coin_data@2",
        "qa_pretrain",
        "qa_train",
        "qa_report",
        "clip_train",
        "detector",
    } <= every_stage
    # `make run`'s path: independent stages side by side, each through dvc repro
    first = _sh(scratch_repo, str(BIN / "deltahall"), "repro")
    assert _ran(first) == every_stage
    assert f"[repro] {len(every_stage)} stages in" in first
    mlflow.set_tracking_uri(f"sqlite:///{scratch_repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["coin"])
    assert len(runs) == 4 and (runs["status"] == "FINISHED").all()
    assert len(mlflow.search_runs(experiment_names=["qa"])) == 2  # smoke grid: 2 cells x 1 seed
    assert (scratch_repo / "plots/coin/figures/figure3.png").exists()
    assert (scratch_repo / "plots/qa/report/figure4.png").exists()
    _make_gate_passes_and_fails(scratch_repo)

    # dvc.lock as `dvc repro` leaves it: plain DVC finds nothing to run
    assert _ran(_sh(scratch_repo, str(BIN / "dvc"), "repro")) == set()
    assert "every stage is up to date" in _sh(scratch_repo, str(BIN / "deltahall"), "repro")

    params = yaml.safe_load((scratch_repo / "params.yaml").read_text())
    params["coin"]["train"]["epochs"] = 3
    (scratch_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = _ran(_sh(scratch_repo, str(BIN / "deltahall"), "repro"))
    # what README.md says: the coin training stages, the report, the coin sweep; nothing else
    assert rerun == COIN_EPOCHS_RERUN
    assert len(mlflow.search_runs(experiment_names=["coin"])) == 8


def _make_gate_passes_and_fails(repo: Path) -> None:
    """`make gate` on the smoke run: the newest qa run's δ-rate CI upper bound vs GATE_MAX."""
    venv = f"VENV={BIN.parent}"
    passed = run(repo, "make", "-s", "gate", venv, "GATE_MAX=1")
    assert passed.returncode == 0, passed.stderr
    assert "gate passed: val/delta_hall_rate = " in passed.stdout
    assert "CI upper bound" in passed.stdout and "<= max 1" in passed.stdout
    failed = run(repo, "make", "-s", "gate", venv, "GATE_MAX=-0.01")  # below any rate
    assert failed.returncode != 0 and "gate FAILED: val/delta_hall_rate" in failed.stderr


def test_raw_data_round_trips_through_the_dvc_remote(scratch_repo: Path):
    assert not (scratch_repo / "data").exists()
    out = _sh(scratch_repo, str(BIN / "deltahall"), "data")
    assert "laid down the copy shipped" in out and "pushed" in out
    shipped = sorted(
        p.relative_to(scratch_repo / "data") for p in (scratch_repo / "data").rglob("*")
    )
    assert shipped and (scratch_repo / ".dvc-remote").is_dir()
    shutil.rmtree(scratch_repo / "data")
    shutil.rmtree(scratch_repo / ".dvc" / "cache")
    out = _sh(scratch_repo, str(BIN / "deltahall"), "data")
    assert "pulled from the DVC remote" in out
    assert (
        sorted(p.relative_to(scratch_repo / "data") for p in (scratch_repo / "data").rglob("*"))
        == shipped
    )
    assert "data/: present" in _sh(scratch_repo, str(BIN / "deltahall"), "data")


def test_deltahall_data_never_deletes_a_changed_data_folder(scratch_repo: Path):
    _sh(scratch_repo, str(BIN / "deltahall"), "data")
    questions = scratch_repo / "data/qa/open_questions.jsonl"
    questions.write_text(
        questions.read_text() + '{"id": "mine", "question": "q?", '
        '"answers": ["a", "b"], "topic": "t"}\n'
    )
    (scratch_repo / "data/afhq/train/cat").mkdir(parents=True)
    (scratch_repo / "data/afhq/train/cat/1.jpg").write_bytes(b"my photo")
    before = {p: p.read_bytes() for p in (scratch_repo / "data").rglob("*") if p.is_file()}
    out = run(scratch_repo, str(BIN / "deltahall"), "data")
    assert out.returncode == 1
    assert "modified: data/qa/open_questions.jsonl" in out.stderr
    assert "added: data/afhq/train/cat/1.jpg" in out.stderr
    assert {p: p.read_bytes() for p in (scratch_repo / "data").rglob("*") if p.is_file()} == before
