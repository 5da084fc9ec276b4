"""The committed params.yaml as tests build on it: no config class has defaults, so a test that
changes a few values lays them over the committed file (as a profile does)."""

from __future__ import annotations

from pathlib import Path

from deltahall.config import Params, deep_merge, parse_params, read_yaml

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params.yaml"


def committed_with(overlay: dict | None = None) -> dict:
    """The committed params.yaml (plain data) with `overlay` laid over it."""
    return deep_merge(read_yaml(PARAMS_FILE), overlay or {})


def committed_params(overlay: dict | None = None) -> Params:
    return parse_params(committed_with(overlay), str(PARAMS_FILE))


def section_with(section: str, overlay: dict) -> dict:
    """One section of the committed params (e.g. "t2i") with `overlay` laid over it."""
    return deep_merge(read_yaml(PARAMS_FILE)[section], overlay)
