"""Typed params of the sweeps: the `sweep:` section of params.yaml.

One Optuna study per experiment over the knobs that move the loss; each study's search space
names knobs of that experiment's own params section (coin.model/train, qa.lora/train, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from deltahall.strict import Strict

# The knobs a study may search, per experiment (each overrides the experiment's own params).
COIN_KNOBS = (
    "lr",
    "weight_decay",
    "batch_size",
    "epochs",
    "n_layers",
    "d_model",
    "ff_dim",
    "n_heads",
    "dropout",
)
QA_KNOBS = ("lr", "batch_size", "epochs", "r", "alpha", "dropout")
T2I_KNOBS = ("lr", "batch_size", "epochs", "weight_decay", "layers_per_block")
STORAGE_PREFIXES = (
    "sqlite:///",
    "journal:",
    "postgresql://",
    "postgresql+psycopg2://",
    "mysql://",
    "mysql+pymysql://",
)


class Knob(Strict):
    """One dimension of a search space: a float or int range, or a list of choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[int | float | str | bool] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Knob:
        if self.type == "categorical":
            if not self.choices or self.low is not None or self.high is not None:
                raise ValueError("a categorical knob needs `choices` (and no low/high)")
            return self
        if self.low is None or self.high is None or self.choices is not None:
            raise ValueError(f"a {self.type} knob needs `low` and `high` (and no choices)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale knob needs low > 0 (got {self.low})")
        if self.log and self.step is not None:
            raise ValueError("a knob cannot have both `log` and `step`")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an int knob needs integer low and high")
        return self


def _space(knobs: dict[str, Knob], allowed: tuple[str, ...], section: str) -> None:
    unknown = sorted(set(knobs) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown knob(s) {unknown} in {section}.space; known: {', '.join(allowed)}"
        )
    if not knobs:
        raise ValueError(f"{section}.space must search at least one knob")


class StudyConfig(Strict):
    n_trials: int = Field(ge=1, le=100_000)  # trials of the study, over all workers
    # Every trial trains once per seed (same seeds in every trial: differences between trials
    # come from the knobs); its objectives are the means over seeds, its curves give the bands.
    seeds: list[int] = Field(min_length=1)
    # The study and its replicates (replicate_seeds) side by side, one process each (a SQLite
    # storage: one file each, one writer per file): the same trials as one after another.
    processes: int = Field(ge=1, le=256)

    @model_validator(mode="after")
    def _unique_seeds(self) -> StudyConfig:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must not repeat values")
        return self


class CoinSweepConfig(StudyConfig):
    """Coin aggregation (paper §6.1) on one N, with a small generated dataset per seed."""

    n_choose: int = Field(ge=1, le=12)
    n_examples: int = Field(ge=10, le=10_000_000)
    space: dict[str, Knob]

    @model_validator(mode="after")
    def _known_knobs(self) -> CoinSweepConfig:
        _space(self.space, COIN_KNOBS, "sweep.coin")
        return self


class QASweepConfig(StudyConfig):
    """Open-ended QA (paper §6.2): LoRA on the base that `qa_pretrain` made."""

    n_trials: int = Field(ge=1, le=100_000)
    seeds: list[int] = Field(min_length=1)
    space: dict[str, Knob]

    @model_validator(mode="after")
    def _known_knobs(self) -> QASweepConfig:
        _space(self.space, QA_KNOBS, "sweep.qa")
        return self


class T2ISweepConfig(StudyConfig):
    """Text-to-image (paper §6.3): UNet fine-tuning judged by the registered HCDR detector."""

    n_trials: int = Field(ge=1, le=100_000)
    seeds: list[int] = Field(min_length=1)
    space: dict[str, Knob]

    @model_validator(mode="after")
    def _known_knobs(self) -> T2ISweepConfig:
        _space(self.space, T2I_KNOBS, "sweep.t2i")
        return self


class SweepConfig(Strict):
    # Where the studies live; {experiment} is replaced by the experiment's name (coin, qa, t2i).
    # sqlite:///PATH: one worker (default); journal:PATH: parallel workers on one machine;
    # postgresql://user:pass@host/db: workers on several machines. Same code for all three.
    storage: str
    study_name: str
    sampler: Literal["tpe", "qmc", "random"]
    seed: int
    # Each replicate runs the same studies again with the sampler seeded by this value; the
    # analysis reports the verdict for every seed (verdict_by_seed) and whether they agree.
    replicate_seeds: list[int]
    # Crash safety (sweep/recovery.py): on a database server every running trial beats each
    # heartbeat_interval s and one silent for grace_period s is failed; a trial whose worker
    # died is run again up to max_retry times, and the coordinator gives up after max_retry
    # rounds in a row that complete no trial.
    heartbeat_interval: int = Field(ge=1, le=3600)
    grace_period: int = Field(ge=2, le=86_400)
    max_retry: int = Field(ge=0, le=10)
    # Analysis: bootstrap over trials (and over runs for the within-run correlations).
    n_boot: int = Field(ge=10, le=100_000)
    ci_level: float = Field(gt=0.0, lt=1.0)
    min_effect: float = Field(gt=0.0, lt=1.0)  # the verdict rule: sweep/stats.py verdict()
    coin: CoinSweepConfig
    qa: QASweepConfig
    t2i: T2ISweepConfig

    @model_validator(mode="after")
    def _distinct_seeds(self) -> SweepConfig:
        if self.seed in self.replicate_seeds or len(set(self.replicate_seeds)) != len(
            self.replicate_seeds
        ):
            raise ValueError("replicate_seeds must be distinct and differ from seed")
        return self

    @model_validator(mode="after")
    def _grace_after_beats(self) -> SweepConfig:
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError(
                f"grace_period ({self.grace_period}) must exceed heartbeat_interval "
                f"({self.heartbeat_interval}): a live worker would be failed between two beats"
            )
        return self

    @field_validator("storage")
    @classmethod
    def _valid_storage(cls, value: str) -> str:
        if not value.startswith(STORAGE_PREFIXES):
            raise ValueError(f"must start with one of {', '.join(STORAGE_PREFIXES)}")
        for prefix in ("sqlite:///", "journal:"):
            path = Path(value.removeprefix(prefix)) if value.startswith(prefix) else None
            # a relative path stays inside the project; an absolute one is an explicit choice
            if path is not None and not path.is_absolute() and ".." in path.parts:
                raise ValueError(
                    f"{value!r} leaves the project: write a path inside it, or an absolute path"
                )
        return value
