"""A small real run for the dashboard tests: smoke coin, QA and text-to-image studies, the
pipeline's own coin (N = 2), QA and t2i runs, the analysis, the page.

Built once per session in a temp directory (its own SQLite MLflow store and Optuna storage),
then left alone: tests read the files it wrote.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: no hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import yaml  # noqa: E402

from deltahall.cli import main  # noqa: E402
from deltahall.config import profile_params  # noqa: E402
from deltahall.raw_data import shipped_data_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SmallRun:
    workdir: Path
    mlflow_uri: str
    html: Path


def small_params() -> dict:
    """The smoke profile, one torch thread, a coin study of 5 trials x 2 seeds, QA and t2i
    studies of 2 trials."""
    raw = profile_params("smoke", REPO / "params.yaml", REPO / "profiles")
    raw["coin"]["train"]["torch_threads"] = 1
    raw["qa"]["torch_threads"] = 1
    raw["clip"]["torch_threads"] = 1
    raw["sweep"]["coin"]["n_trials"] = 5
    return raw


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    work = tmp_path_factory.mktemp("dashboard") / "work"
    for name in ("qa", "images"):
        shutil.copytree(shipped_data_dir() / name, work / "data" / name)
    (work / "params.yaml").write_text(yaml.safe_dump(small_params()))
    uri = f"sqlite:///{work.parent / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        for args in (
            ["sweep", "--experiment", "coin"],
            ["coin-data", "--n-choose", "2"],
            ["coin-train", "--n-choose", "2"],
            ["world"],
            ["qa-pretrain"],
            ["qa-train"],
            ["sweep", "--experiment", "qa"],
            ["clip-train"],
            ["detector"],
            ["t2i-pretrain"],
            ["t2i-train"],
            ["sweep", "--experiment", "t2i"],
            ["sweep-analysis"],
            ["dashboard"],
        ):
            assert main(args) == 0, args
    return SmallRun(work, uri, work / "dashboards" / "index.html")
