"""params.yaml -> typed config: every bad input names its key; dvc.yaml names only real keys."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deltahall.cli import main
from deltahall.config import ConfigError, load_params, parse_params, profile_params

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_load_as_default_profile():
    params = load_params(REPO / "params.yaml")
    assert params.profile == "default"
    assert params.coin.n_choose == [2, 3, 5]
    assert params.coin.seeds == [0, 1, 2, 3, 4]
    # the paper's architecture (§6.1)
    assert (params.coin.model.n_layers, params.coin.model.d_model, params.coin.model.ff_dim) == (8, 64, 256)


@pytest.mark.parametrize("raw, key, fragment", [
    ({"coin": {"train": {"epochz": 3}}}, "coin.train.epochz", "unknown key"),
    ({"coin": {"train": {"epochs": "ten"}}}, "coin.train.epochs", "integer"),
    ({"coin": {"eval": {"delta": 1.5}}}, "coin.eval.delta", "less than or equal to 1"),
    ({"coin": {"eval": {"rounding": "floor"}}}, "coin.eval.rounding", "'ceil' or 'round'"),
    ({"coin": {"model": {"d_model": 30, "n_heads": 4}}}, "coin.model", "divisible"),
    ({"coin": {"n_choose": [2, 2]}}, "coin", "repeat"),
    ({"coin_hidden": {"shrink": 0}}, "coin_hidden.shrink", "greater than 0"),
    ({"colour": 1}, "colour", "unknown key"),
])
def test_bad_values_name_their_key(raw, key, fragment):
    with pytest.raises(ConfigError) as err:
        parse_params(raw, "p.yaml")
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
    (workdir / "params.yaml").write_text(yaml.safe_dump({"coin": {"n_examples": -5}}))
    assert main(["coin-data", "--n-choose", "2"]) == 2
    err = capsys.readouterr().err
    assert "coin.n_examples" in err and "-5" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["params.yaml"]


def test_profiles_overlay_and_validate():
    smoke = profile_params("smoke", REPO / "params.yaml", REPO / "profiles")
    assert smoke["profile"] == "smoke" and smoke["coin"]["train"]["epochs"] == 2
    assert smoke["coin"]["model"]["ff_dim"] == 32 and smoke["coin"]["eval"]["rounding"] == "ceil"
    assert profile_params("paper", REPO / "params.yaml", REPO / "profiles")["coin"]["n_examples"] == 40000
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
