"""A search space from params.yaml -> Optuna suggestions, and knobs -> an experiment's config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from pydantic import BaseModel, ValidationError

from deltahall.config import ConfigError
from deltahall.sweep.config import Knob


def suggest(trial: optuna.Trial, space: Mapping[str, Knob]) -> dict[str, Any]:
    """One value per knob, in the space's order (the order is part of the sampler's state)."""
    values: dict[str, Any] = {}
    for name, knob in space.items():
        if knob.type == "categorical":
            values[name] = trial.suggest_categorical(name, knob.choices)
        elif knob.type == "int":
            values[name] = trial.suggest_int(
                name, int(knob.low), int(knob.high), step=int(knob.step or 1), log=knob.log
            )
        else:
            values[name] = trial.suggest_float(
                name, knob.low, knob.high, step=knob.step, log=knob.log
            )
    return values


def override(section: BaseModel, knobs: Mapping[str, Any], where: str) -> BaseModel:
    """`section` (a params section) with the knobs it has replaced, validated again.

    Knobs the section does not have are ignored (the caller routes each knob to its
    section); an invalid combination (e.g. d_model not divisible by n_heads) is a
    ConfigError naming the sweep's space.
    """
    fields = type(section).model_fields
    updates = {k: v for k, v in knobs.items() if k in fields}
    try:
        return type(section).model_validate({**section.model_dump(), **updates})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise ConfigError(
            f"{where} proposed {updates}, which is not a valid {type(section).__name__}: {problems}"
        ) from None


def probes(space: Mapping[str, Knob]) -> list[dict[str, Any]]:
    """Knob settings to validate before the first trial: every knob at its low and at its high
    end together, and each categorical choice on its own (others low)."""

    def value(knob: Knob, end) -> Any:
        raw = end(knob.choices) if knob.choices else end(knob.low, knob.high)
        return int(raw) if knob.type == "int" else raw

    low = {k: value(v, min) for k, v in space.items()}
    out = [low, {k: value(v, max) for k, v in space.items()}]
    out += [{**low, k: c} for k, v in space.items() if v.choices for c in v.choices]
    return out
