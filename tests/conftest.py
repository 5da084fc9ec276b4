"""Shared fixtures: a temp SQLite MLflow store, the smoke profile, a scratch working dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from deltahall.config import Params, parse_params, profile_params

sys.path.insert(0, str(Path(__file__).parent))  # tests/params_helpers.py, postgres_fixtures.py
pytest_plugins = ["postgres_fixtures", "browser_fixtures"]  # postgres, ..., browser

REPO = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run: a red CI then means a real regression,
# never an unlucky draw (hypothesis' own `derandomize`).
settings.register_profile("deltahall", derandomize=True)
settings.load_profile("deltahall")

# Tests never touch the developer's mlflow.db: point any stray default at a throwaway store.
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:////tmp/deltahall-tests-default.db")


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def smoke_raw() -> dict:
    return profile_params("smoke", REPO / "params.yaml", REPO / "profiles")


@pytest.fixture
def smoke_params(smoke_raw: dict) -> Params:
    return parse_params(smoke_raw, "smoke")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smoke_raw: dict) -> Path:
    """A scratch directory holding the smoke params.yaml; stages write relative to it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "params.yaml").write_text(yaml.safe_dump(smoke_raw))
    monkeypatch.chdir(work)
    return work
