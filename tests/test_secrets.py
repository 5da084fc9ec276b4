"""No password leaves the process (issue 14): every message, progress line, file and MLflow
entry of a run shows a URI's user and host but *** for its password."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deltahall.cli import main
from deltahall.secrets import mask
from deltahall.sweep.config import SweepConfig

PASSWORD = "s3cretPW"
PG = f"postgresql://alice:{PASSWORD}@127.0.0.1:9/deltahall"  # port 9: nothing listens


def test_mask_keeps_user_host_and_database_and_hides_every_password():
    text = f"at {PG} and postgresql+psycopg2://bob:x%40y@db/m (sqlite:///mlflow.db)"
    assert mask(text) == (
        "at postgresql://alice:***@127.0.0.1:9/deltahall and "
        "postgresql+psycopg2://bob:***@db/m (sqlite:///mlflow.db)"
    )
    assert mask("postgresql://alice@db/mlflow") == "postgresql://alice@db/mlflow"  # ~/.pgpass


def _grep_tree(root: Path) -> list[str]:
    """Files under root holding the password, params.yaml (where the user wrote it) aside."""
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name != "params.yaml" and PASSWORD.encode() in p.read_bytes()
    ]


def _sweep(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "params.yaml").read_text())["sweep"]


def _set(workdir: Path, **sections) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def test_an_unreachable_tracking_server_is_named_without_its_password(
    workdir: Path, monkeypatch, capsys
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", PG)
    assert main(["world"]) == 2  # tracking.required: true
    err = capsys.readouterr().err
    assert "cannot reach MLflow at postgresql://alice:***@127.0.0.1:9" in err
    assert PASSWORD not in err
    _set(workdir, tracking={"required": False})
    assert main(["world"]) == 0  # trains untracked, and says so
    out = capsys.readouterr()
    assert "continuing without tracking" in out.err and PASSWORD not in out.err + out.out
    assert _grep_tree(workdir) == []  # no output, metric or log holds it


def test_bad_uris_and_storages_are_refused_without_their_password(workdir: Path, capsys):
    _set(workdir, tracking={"uri": f"pg://alice:{PASSWORD}@db/x"})
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "pg://alice:***@db/x" in err and PASSWORD not in err


@pytest.mark.parametrize("storage", ["journal:../outside/x.journal", "sqlite:///../x/optuna.db"])
def test_a_relative_storage_path_may_not_leave_the_project(workdir: Path, capsys, storage):
    _set(workdir, sweep={"storage": storage})
    assert main(["validate"]) == 2
    assert "leaves the project" in capsys.readouterr().err
    absolute = f"journal:{workdir.parent / 'elsewhere.journal'}"
    assert SweepConfig.model_validate({**_sweep(workdir), "storage": absolute}).storage == absolute


def test_sweep_lines_and_study_params_mask_the_storage_password(
    workdir: Path, mlflow_uri: str, capsys
):
    import mlflow

    _set(workdir, sweep={"storage": f"postgresql://alice:{PASSWORD}@127.0.0.1:9/optuna"})
    assert main(["sweep", "--experiment", "coin"]) == 2  # nothing listens: one clear line
    captured = capsys.readouterr()
    assert "cannot open sweep.storage postgresql://alice:***@127.0.0.1:9/optuna" in captured.err
    assert PASSWORD not in captured.out + captured.err
    mlflow.set_tracking_uri(mlflow_uri)  # an earlier test's failed connection set another
    runs = mlflow.search_runs(search_all_experiments=True)
    for column in runs.columns:
        assert not runs[column].astype(str).str.contains(PASSWORD).any(), column
    assert _grep_tree(workdir) == []
