"""params.yaml -> typed, validated config. The one source of truth for every stage.

Unknown keys, wrong types and out-of-range values stop with a ConfigError that names the
key (dotted path) and the offending value; validation happens before any stage writes.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from deltahall.strict import Strict as _Strict
from deltahall.qa.config import QAConfig
from deltahall.sweep.config import SweepConfig
from deltahall.t2i.config import T2IConfig
from deltahall.vision.config import ClipConfig, DetectorConfig, ImagesConfig

DEFAULT_PARAMS = Path("params.yaml")
PROFILES_DIR = Path("profiles")


class ConfigError(ValueError):
    """A params file that cannot be used; the message names the file and key."""


class TrackingConfig(_Strict):
    # An MLflow tracking URI; the env var MLFLOW_TRACKING_URI overrides it (tests, servers).
    uri: str = "sqlite:///mlflow.db"


class CoinModelConfig(_Strict):
    # Paper §6.1: "an 8-layer transformer with 64 hidden dimensions and 256 feed-forward".
    n_layers: int = Field(8, ge=1, le=64)
    d_model: int = Field(64, ge=4, le=4096)
    ff_dim: int = Field(256, ge=4, le=16384)
    n_heads: int = Field(4, ge=1, le=64)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "CoinModelConfig":
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self


class CoinTrainConfig(_Strict):
    epochs: int = Field(15, ge=1, le=10_000)
    batch_size: int = Field(128, ge=1, le=1_000_000)
    lr: float = Field(5e-4, gt=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    torch_threads: int = Field(2, ge=1, le=256)


class CoinEvalConfig(_Strict):
    # `ceil` is the reference code's rule; `round` is round-half-up.
    rounding: Literal["ceil", "round"] = "ceil"
    # Definition 3.2: hallucinated iff P(K = k_hat | state) <= delta for every state.
    delta: float = Field(0.25, gt=0.0, le=1.0)


class CoinConfig(_Strict):
    # Paper §6.1: N in {2, 3, 5}, M from 20 000 to 40 000, 5 rounds.
    n_choose: list[int] = Field(default_factory=lambda: [2, 3, 5], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    n_examples: int = Field(20_000, ge=10, le=10_000_000)
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    model: CoinModelConfig = CoinModelConfig()
    train: CoinTrainConfig = CoinTrainConfig()
    eval: CoinEvalConfig = CoinEvalConfig()

    @model_validator(mode="after")
    def _valid_lists(self) -> "CoinConfig":
        for n in self.n_choose:
            if not 1 <= n <= 12:
                raise ValueError(f"n_choose entries must be in 1..12 (got {n})")
        if len(set(self.n_choose)) != len(self.n_choose) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("n_choose and seeds must not repeat values")
        return self


class CoinHiddenConfig(_Strict):
    """The variant whose latent state (one of two coin regimes) the input does not reveal."""

    n_choose: int = Field(4, ge=1, le=12)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    # Regime "low": p_i * shrink; regime "high": 1 - (1 - p_i) * shrink. Small shrink = far modes.
    shrink: float = Field(0.1, gt=0.0, le=1.0)


class Params(_Strict):
    profile: str = "default"
    tracking: TrackingConfig = TrackingConfig()
    coin: CoinConfig = CoinConfig()
    coin_hidden: CoinHiddenConfig = CoinHiddenConfig()
    images: ImagesConfig = ImagesConfig()
    clip: ClipConfig = ClipConfig()
    detector: DetectorConfig = DetectorConfig()
    qa: QAConfig = QAConfig()
    sweep: SweepConfig = SweepConfig()
    t2i: T2IConfig = T2IConfig()


def _format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid parameters:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"].removeprefix("Value error, ")
        got = "" if e["type"] == "missing" else f" (got {e.get('input')!r})"
        if e["type"] == "extra_forbidden":
            msg, got = "unknown key", ""
        lines.append(f"  {key}: {msg}{got}")
    return "\n".join(lines)


def parse_params(raw: Any, source: str = "<params>") -> Params:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_errors(source, err)) from None


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


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


def profile_params(profile: str, base: Path = DEFAULT_PARAMS, profiles_dir: Path = PROFILES_DIR) -> dict:
    """params.yaml with profiles/<profile>.yaml laid over it, validated; returns plain data."""
    overlay_path = Path(profiles_dir) / f"{profile}.yaml"
    if not overlay_path.exists():
        known = sorted(p.stem for p in Path(profiles_dir).glob("*.yaml"))
        raise ConfigError(f"unknown profile {profile!r}; known: {', '.join(known) or 'none'}")
    merged = deep_merge(read_yaml(base) or {}, read_yaml(overlay_path) or {})
    merged["profile"] = profile
    parse_params(merged, f"{base} + {overlay_path}")
    return merged
