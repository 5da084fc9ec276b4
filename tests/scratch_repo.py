"""A scratch copy of the repository for end-to-end tests (`dvc repro` on the smoke profile)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = (
    "dvc.lock",
    "metrics/",
    "plots/",
)  # the committed default run: a scratch repo makes its own
WATCHED = ("outputs", "metrics", "plots", "data", "mlflow.db", "dvc.lock")


MLFLOW_CONTEXT = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
)


def env() -> dict[str, str]:
    # the test process's MLflow context stays out: mlflow.set_experiment exports
    # MLFLOW_EXPERIMENT_ID, which `mlflow run --experiment-name` then refuses as a second id
    out = {k: v for k, v in os.environ.items() if k not in MLFLOW_CONTEXT}
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return out


def run(cwd: Path, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, check=False)


def sh(cwd: Path, *cmd: str) -> str:
    out = run(cwd, *cmd)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


def make_scratch_repo(target: Path, params_raw: dict) -> Path:
    """The project's files (tracked + untracked, not ignored) in a fresh git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in listed:
        if rel.startswith(RESULTS):
            continue
        if (REPO / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target / rel)
    (target / "params.yaml").write_text(yaml.safe_dump(params_raw, sort_keys=False))
    sh(target, "git", "init", "-q")
    sh(target, "git", "add", "-A")
    sh(target, "git", "commit", "-qm", "scratch")
    return target


def snapshot(repo: Path) -> dict[str, str]:
    """sha256 of every file a bad input must leave alone."""
    out = {}
    for name in WATCHED:
        root = repo / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            out[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
