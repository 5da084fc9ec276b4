"""params.yaml -> typed config: every bad input names its key; dvc.yaml names only real keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deltahall.cli import main
from deltahall.config import ConfigError, load_params, parse_params, profile_params, read_yaml

from params_helpers import committed_with

REPO = Path(__file__).resolve().parents[1]
COMMITTED = read_yaml(REPO / "params.yaml")


def test_committed_params_load_as_default_profile():
    params = load_params(REPO / "params.yaml")
    assert params.profile == "default"
    assert params.coin.n_choose == [2, 3, 5]
    assert params.coin.seeds == [0, 1, 2, 3, 4]
    # the paper's architecture (§6.1)
    assert (params.coin.model.n_layers, params.coin.model.d_model, params.coin.model.ff_dim) == (
        8,
        64,
        256,
    )


@pytest.mark.parametrize(
    "raw, key, fragment",
    [
        ({"coin": {"train": {"epochz": 3}}}, "coin.train.epochz", "unknown key"),
        ({"coin": {"train": {"epochs": "ten"}}}, "coin.train.epochs", "integer"),
        ({"coin": {"eval": {"delta": 1.5}}}, "coin.eval.delta", "less than 1"),
        ({"coin": {"eval": {"rounding": "floor"}}}, "coin.eval.rounding", "'ceil' or 'round'"),
        ({"coin": {"model": {"d_model": 30, "n_heads": 4}}}, "coin.model", "divisible"),
        ({"coin": {"n_choose": [2, 2]}}, "coin", "repeat"),
        ({"coin_hidden": {"shrink": 0}}, "coin_hidden.shrink", "greater than 0"),
        ({"colour": 1}, "colour", "unknown key"),
        ({"coin": {"train": {"epochs": True}}}, "coin.train.epochs", "integer"),
        ({"coin": {"train": {"epochs": "3"}}}, "coin.train.epochs", "integer"),
        ({"qa": {"model": {"local_files_only": "no"}}}, "qa.model.local_files_only", "boolean"),
        ({"tracking": {"uri": "mlflow.db"}}, "tracking.uri", "scheme must be one of"),
        ({"tracking": {"uri": "ftp://host/x"}}, "tracking.uri", "scheme must be one of"),
        ({"tracking": {"uri": "sqlite://mlflow.db"}}, "tracking.uri", "sqlite:///PATH"),
    ],
)
def test_bad_values_name_their_key(raw, key, fragment):
    with pytest.raises(ConfigError) as err:
        parse_params(committed_with(raw), "p.yaml")
    message = str(err.value)
    assert f"  {key}: " in message and fragment in message and message.startswith("p.yaml")


def test_non_mapping_and_bad_yaml_are_reported(tmp_path: Path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_params([1, 2], "p.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("coin: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "missing.yaml")


def test_cli_rejects_bad_params_and_writes_nothing(workdir: Path, capsys):
    (workdir / "params.yaml").write_text(
        yaml.safe_dump(committed_with({"coin": {"n_examples": -5}}))
    )
    assert main(["coin-data", "--n-choose", "2"]) == 2
    err = capsys.readouterr().err
    assert "coin.n_examples" in err and "-5" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["params.yaml"]


def test_profiles_overlay_and_validate():
    smoke = profile_params("smoke", REPO / "params.yaml", REPO / "profiles")
    assert smoke["profile"] == "smoke" and smoke["coin"]["train"]["epochs"] == 2
    assert smoke["coin"]["model"]["ff_dim"] == 32 and smoke["coin"]["eval"]["rounding"] == "ceil"
    assert (
        profile_params("paper", REPO / "params.yaml", REPO / "profiles")["coin"]["n_examples"]
        == 40000
    )
    with pytest.raises(ConfigError, match="unknown profile 'nope'; known: paper, smoke"):
        profile_params("nope", REPO / "params.yaml", REPO / "profiles")


def _listed_param_keys(dvc_yaml: dict) -> set[str]:
    keys = set()
    for stage in dvc_yaml["stages"].values():
        body = stage.get("do", stage)
        keys.update(k for k in body.get("params", []) if isinstance(k, str))
    return keys


def test_every_param_key_in_dvc_yaml_exists_in_config():
    params = load_params(REPO / "params.yaml").model_dump()
    for key in _listed_param_keys(yaml.safe_load((REPO / "dvc.yaml").read_text())):
        node = params
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"dvc.yaml lists unknown param {key}"
            node = node[part]


@pytest.mark.parametrize(
    "drop, key",
    [
        (("coin", "train", "epochs"), "coin.train.epochs"),
        (("t2i",), "t2i"),
        (("tracking", "required"), "tracking.required"),
        (("sweep", "coin", "space"), "sweep.coin.space"),
    ],
)
def test_a_missing_key_is_an_error_naming_it_never_a_code_default(drop, key):
    raw = committed_with({})
    node = raw
    for part in drop[:-1]:
        node = node[part]
    del node[drop[-1]]
    with pytest.raises(ConfigError) as err:
        parse_params(raw, "p.yaml")
    assert f"  {key}: missing key" in str(err.value)


def test_no_config_class_carries_a_default():
    """params.yaml is the one source of every value (Knob's optional bounds aside)."""
    from deltahall.strict import Strict
    from deltahall.sweep.config import Knob

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    with_defaults = {
        f"{cls.__name__}.{name}"
        for cls in subclasses(Strict)
        if cls is not Knob
        for name, field in cls.model_fields.items()
        if not field.is_required()
    }
    assert with_defaults == set()


def test_empty_duplicate_and_truncated_params_files_are_refused(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty params file"):
        load_params(empty)
    dup = tmp_path / "dup.yaml"
    dup.write_text((REPO / "params.yaml").read_text() + "\nprofile: smoke\n")
    with pytest.raises(ConfigError, match=r"duplicate key on line \d+: .*profile"):
        load_params(dup)
    truncated = tmp_path / "truncated.yaml"
    text = (REPO / "params.yaml").read_text()
    truncated.write_text(text[: text.index("qa:")])
    with pytest.raises(ConfigError, match="  qa: missing key"):
        load_params(truncated)


def test_every_value_round_trips_through_dvcs_own_yaml_writer(tmp_path: Path):
    """`dvc exp run -S k=v` rewrites params.yaml with DVC's writer (YAML 1.2: `"no"` comes back
    as a bare `no`); the file must still load to the same params."""
    from dvc.utils.serialize import modify_yaml

    for name in ("default", "smoke", "paper"):
        target = tmp_path / f"{name}.yaml"
        raw = (
            COMMITTED
            if name == "default"
            else profile_params(name, REPO / "params.yaml", REPO / "profiles")
        )
        target.write_text(yaml.safe_dump(raw, sort_keys=False))
        before = load_params(target)
        with modify_yaml(target) as data:
            data["coin"]["train"]["epochs"] = 2
        assert "mixed_precision: no" in target.read_text() or name == "paper"
        after = load_params(target)
        assert after.coin.train.epochs == 2
        assert after.model_copy(update={"coin": before.coin}) == before


def test_profile_write_through_the_cli_merges_in_place(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    import shutil

    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    shutil.copytree(REPO / "src/deltahall/resources/data", tmp_path / "data")
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    assert main(["profile", "smoke", "--write"]) == 0
    assert main(["validate"]) == 0
    assert "params.yaml: ok (profile smoke)" in capsys.readouterr().out
    merged = load_params(tmp_path / "params.yaml")
    assert merged.profile == "smoke" and merged.coin.train.epochs == 2
    assert merged.t2i.train.mixed_precision == "no" and merged.qa.lora.r == 8  # from the base
    assert "# N: 2N coins" in (tmp_path / "params.yaml").read_text()  # comments kept
    assert main(["profile", "paper", "--write"]) == 2  # not laid over smoke
    assert "holds profile 'smoke'" in capsys.readouterr().err
    assert load_params(tmp_path / "params.yaml").profile == "smoke"  # unchanged


def test_profile_write_leaves_the_file_alone_when_the_overlay_is_bad(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.yaml").write_text("coin:\n  train:\n    epochs: true\n")
    before = (REPO / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(before)
    assert main(["profile", "bad", "--write"]) == 2
    assert (tmp_path / "params.yaml").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml", "profiles"]
