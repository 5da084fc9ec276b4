"""End to end on the smoke profile: `dvc repro` in a scratch copy of the repository.

Checks the done-criteria of the pipeline: every stage runs and tracks its runs in the
params' SQLite store; a second repro reruns nothing; a coin training param reruns only the
coin training stages and the report; `deltahall data` round-trips data/ through the remote.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow
RESULTS = ("dvc.lock", "metrics/", "plots/")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    return env


def _sh(cwd: Path, *cmd: str) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


@pytest.fixture
def scratch_repo(tmp_path: Path, smoke_raw: dict) -> Path:
    """The project's files (tracked + untracked, not ignored) in a fresh git repo, smoke params."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    repo = tmp_path / "repo"
    for rel in listed:
        if rel.startswith(RESULTS):
            continue  # the committed results of the default run: this repo makes its own
        if (REPO / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, repo / rel)
    (repo / "params.yaml").write_text(yaml.safe_dump(smoke_raw, sort_keys=False))
    _sh(repo, "git", "init", "-q")
    _sh(repo, "git", "add", "-A")
    _sh(repo, "git", "commit", "-qm", "scratch")
    return repo


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _stages(repo: Path) -> set[str]:
    listed = _sh(repo, str(BIN / "dvc"), "stage", "list", "--name-only")
    return set(listed.split())


COIN_TRAINING = {"coin_train@2", "coin_train@3", "coin_hidden_train", "coin_report"}


def test_dvc_repro_tracks_reruns_nothing_then_only_what_changed(scratch_repo: Path):
    _sh(scratch_repo, str(BIN / "deltahall"), "data", "--no-push")
    every_stage = _stages(scratch_repo)
    assert {"coin_data@2", "qa_pretrain", "qa_train", "qa_report", "clip_train",
            "detector"} <= every_stage
    first = _sh(scratch_repo, str(BIN / "dvc"), "repro")
    assert _ran(first) == every_stage
    mlflow.set_tracking_uri(f"sqlite:///{scratch_repo / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["coin"])
    assert len(runs) == 4 and (runs["status"] == "FINISHED").all()
    assert len(mlflow.search_runs(experiment_names=["qa"])) == 2  # smoke grid: 2 cells x 1 seed
    assert (scratch_repo / "plots/coin/figures/figure3.png").exists()
    assert (scratch_repo / "plots/qa/report/figure4.png").exists()

    assert _ran(_sh(scratch_repo, str(BIN / "dvc"), "repro")) == set()

    params = yaml.safe_load((scratch_repo / "params.yaml").read_text())
    params["coin"]["train"]["epochs"] = 3
    (scratch_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = _ran(_sh(scratch_repo, str(BIN / "dvc"), "repro"))
    # the coin training stages and the report; never the data, QA or image stages
    assert COIN_TRAINING <= rerun
    assert not {s for s in rerun if s.startswith(("coin_data", "coin_hidden_data", "qa_",
                                                   "clip", "detector", "t2i"))}
    assert len(mlflow.search_runs(experiment_names=["coin"])) == 8


def test_raw_data_round_trips_through_the_dvc_remote(scratch_repo: Path):
    assert not (scratch_repo / "data").exists()
    out = _sh(scratch_repo, str(BIN / "deltahall"), "data")
    assert "materialising" in out and "pushed" in out
    shipped = sorted(p.relative_to(scratch_repo / "data") for p in (scratch_repo / "data").rglob("*"))
    assert shipped and (scratch_repo / ".dvc-remote").is_dir()
    shutil.rmtree(scratch_repo / "data")
    shutil.rmtree(scratch_repo / ".dvc" / "cache")
    out = _sh(scratch_repo, str(BIN / "deltahall"), "data")
    assert "pulled from the DVC remote" in out
    assert sorted(p.relative_to(scratch_repo / "data") for p in (scratch_repo / "data").rglob("*")) == shipped
    assert "data/: present" in _sh(scratch_repo, str(BIN / "deltahall"), "data")
