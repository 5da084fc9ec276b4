"""params.yaml -> typed, validated config. The one source of truth for every stage.

Unknown keys, wrong types and out-of-range values stop with a ConfigError that names the
key (dotted path) and the offending value; validation happens before any stage writes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from deltahall.coin.config import CoinConfig, CoinHiddenConfig, delta_near_an_atom
from deltahall.facts.config import FactsConfig
from deltahall.qa.config import QAConfig
from deltahall.secrets import mask
from deltahall.strict import Strict as _Strict
from deltahall.sweep.config import SweepConfig
from deltahall.t2i.config import T2IConfig
from deltahall.theory_report.config import TheoryReportConfig
from deltahall.vision.config import ClipConfig, DetectorConfig, ImagesConfig
from deltahall.world.config import WorldConfig

DEFAULT_PARAMS = Path("params.yaml")
PROFILES_DIR = Path("profiles")


class ConfigError(ValueError):
    """A params file that cannot be used; the message names the file and key."""


TRACKING_SCHEMES = ("sqlite", "file", "http", "https", "postgresql", "databricks")


class TrackingConfig(_Strict):
    # An MLflow tracking URI; the env var MLFLOW_TRACKING_URI overrides it (tests, servers).
    uri: str
    # true: a stage whose tracking server cannot be reached fails before it trains;
    # false: it trains, writes its files and only warns that nothing was tracked.
    required: bool

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        scheme = uri.split(":", 1)[0].split("+", 1)[0] if ":" in uri else ""
        if scheme not in TRACKING_SCHEMES:
            raise ValueError(
                f"{mask(uri)!r} is not an MLflow tracking URI: the scheme must be one of "
                f"{', '.join(TRACKING_SCHEMES)} (e.g. sqlite:///mlflow.db)"
            )
        if scheme == "sqlite" and not uri.startswith("sqlite:///"):
            raise ValueError(f"{mask(uri)!r}: a SQLite store is written sqlite:///PATH")
        return uri


class Params(_Strict):
    profile: str
    tracking: TrackingConfig
    coin: CoinConfig
    coin_hidden: CoinHiddenConfig
    images: ImagesConfig
    clip: ClipConfig
    detector: DetectorConfig
    qa: QAConfig
    sweep: SweepConfig
    t2i: T2IConfig
    theory: TheoryReportConfig
    world: WorldConfig
    facts: FactsConfig

    @model_validator(mode="after")
    def _delta_away_from_atoms(self) -> Params:
        settings = [(f"coin.n_choose {n}", n, None) for n in self.coin.n_choose]
        settings += [
            ("coin_hidden", self.coin_hidden.n_choose, self.coin_hidden.shrink),
            ("sweep.coin", self.sweep.coin.n_choose, None),
        ]
        problem = delta_near_an_atom(self.coin.eval.delta, settings)
        if problem:
            raise ValueError(problem)
        return self


def _format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid parameters:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"].removeprefix("Value error, ")
        got = "" if e["type"] == "missing" else f" (got {e.get('input')!r})"
        if e["type"] == "extra_forbidden":
            msg, got = "unknown key", ""
        if e["type"] == "missing":
            msg = "missing key (params.yaml sets every value; there are no code defaults)"
        if not e["loc"]:  # a check across sections: its message names the keys itself
            lines.append(f"  {msg}")
            continue
        lines.append(mask(f"  {key}: {msg}{got}"))
    return "\n".join(lines)


def parse_params(raw: Any, source: str = "<params>") -> Params:
    if raw is None or raw == {}:
        raise ConfigError(
            f"{source}: empty params file: it must set every section "
            f"({', '.join(Params.model_fields)}); `git checkout params.yaml` "
            f"restores the default profile"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_errors(source, err)) from None


def _yaml(typ: str):
    from ruamel.yaml import YAML  # YAML 1.2, as DVC reads and writes params.yaml

    return YAML(typ=typ, pure=True)


def parse_yaml(text: str, source: str, typ: str = "safe") -> Any:
    """YAML 1.2 as DVC parses it (`no` stays a string); duplicate keys are errors."""
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    try:
        return _yaml(typ).load(text)
    except DuplicateKeyError as err:
        mark = err.problem_mark
        line = f" on line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: duplicate key{line}: {err.problem}") from None
    except YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None


def read_yaml(path: Path, typ: str = "safe") -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    return parse_yaml(text, str(path), typ)


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    return parse_params(read_yaml(Path(path)), str(path))


def deep_merge(base: dict, overlay: dict) -> dict:
    """Overlay wins; nested mappings merge key by key (lists are replaced whole)."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _overlay_path(profile: str, profiles_dir: Path) -> Path:
    overlay_path = Path(profiles_dir) / f"{profile}.yaml"
    if not overlay_path.exists():
        known = sorted(p.stem for p in Path(profiles_dir).glob("*.yaml"))
        raise ConfigError(f"unknown profile {profile!r}; known: {', '.join(known) or 'none'}")
    return overlay_path


def _merged_profile(profile: str, base: Path, profiles_dir: Path, typ: str) -> dict:
    overlay_path = _overlay_path(profile, profiles_dir)
    base_raw = read_yaml(base, typ)
    current = (base_raw or {}).get("profile") if isinstance(base_raw, dict) else None
    if current not in ("default", profile):
        raise ConfigError(
            f"{base} holds profile {current!r}; profiles are laid over the default "
            f"profile: `git checkout {base}` first"
        )
    merged = deep_merge(base_raw or {}, read_yaml(overlay_path, typ) or {})
    merged["profile"] = profile
    parse_params(merged, f"{base} + {overlay_path}")
    return merged


def profile_params(
    profile: str, base: Path = DEFAULT_PARAMS, profiles_dir: Path = PROFILES_DIR
) -> dict:
    """params.yaml with profiles/<profile>.yaml laid over it, validated; returns plain data."""
    return _merged_profile(profile, base, profiles_dir, "safe")


def write_profile(
    profile: str, base: Path = DEFAULT_PARAMS, profiles_dir: Path = PROFILES_DIR
) -> Path:
    """Lay profiles/<profile>.yaml over `base` in place: read both, merge, validate, then
    replace `base` atomically (comments kept). Nothing is written when anything fails."""
    import io
    import os
    import tempfile

    merged = _merged_profile(profile, base, profiles_dir, "rt")
    text = io.StringIO()
    _yaml("rt").dump(merged, text)
    parse_params(parse_yaml(text.getvalue(), str(base)), str(base))
    fd, tmp = tempfile.mkstemp(dir=Path(base).resolve().parent, prefix=".params-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text.getvalue())
    os.replace(tmp, base)
    return Path(base)
