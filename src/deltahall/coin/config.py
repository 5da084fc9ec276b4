"""Typed params of the coin experiment (paper §6.1): the `coin:` and `coin_hidden:` sections."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from deltahall.strict import Strict


class CoinModelConfig(Strict):
    # Paper §6.1: "an 8-layer transformer with 64 hidden dimensions and 256 feed-forward".
    n_layers: int = Field(ge=1, le=64)
    d_model: int = Field(ge=4, le=4096)
    ff_dim: int = Field(ge=4, le=16384)
    n_heads: int = Field(ge=1, le=64)
    dropout: float = Field(ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> CoinModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        return self


class CoinTrainConfig(Strict):
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=1_000_000)
    lr: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(ge=0.0, le=1.0)
    torch_threads: int = Field(ge=1, le=256)
    # Forward each distinct coin set of a batch once, its loss weighted by its count: the same
    # gradient as the plain loop (exact math; only float rounding differs), needs dropout 0.
    collapse_duplicates: bool
    processes: int = Field(ge=1, le=256)  # seeds trained side by side, torch_threads each


class CoinEvalConfig(Strict):
    # `ceil` is the reference code's rule; `round` is round-half-up. Both are reported.
    rounding: Literal["ceil", "round"]
    delta: float = Field(gt=0.0, lt=1.0)  # see params.yaml (and delta_near_an_atom below)
    n_boot: int = Field(ge=10, le=100_000)
    ci_level: float = Field(gt=0.0, lt=1.0)


class CoinConfig(Strict):
    # Paper §6.1: N in {2, 3, 5}, M from 20 000 to 40 000, 5 rounds.
    n_choose: list[int] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    n_examples: int = Field(ge=10, le=10_000_000)
    val_fraction: float = Field(gt=0.0, lt=1.0)
    model: CoinModelConfig
    train: CoinTrainConfig
    eval: CoinEvalConfig

    @model_validator(mode="after")
    def _valid_lists(self) -> CoinConfig:
        for n in self.n_choose:
            if not 1 <= n <= 12:
                raise ValueError(f"n_choose entries must be in 1..12 (got {n})")
        if len(set(self.n_choose)) != len(self.n_choose) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("n_choose and seeds must not repeat values")
        return self


class CoinHiddenConfig(Strict):
    """The variant whose latent state (one of two coin regimes) the input does not reveal."""

    n_choose: int = Field(ge=1, le=12)
    seeds: list[int] = Field(min_length=1)
    # Regime "low": p_i * shrink; regime "high": 1 - (1 - p_i) * shrink. Small shrink = far modes.
    shrink: float = Field(gt=0.0, le=1.0)


# δ must stay this far from every pmf atom (the δ-rate would otherwise hinge on float rounding).
ATOM_MARGIN = 1e-3
# Beyond C(16, 8) subsets (N > 8) the atoms are too dense to avoid; the check is skipped there.
MAX_SUBSETS = 20_000


def delta_near_an_atom(delta: float, settings: list[tuple[str, int, float | None]]) -> str | None:
    """Why `delta` is refused, or None. settings: (where, N, shrink) of every coin setting that
    scores with coin.eval.delta; shrink None = the observed variant."""
    from math import comb

    from deltahall.coin.data import regime_table
    from deltahall.theory import pmf_atoms

    for where, n_choose, shrink in settings:
        if comb(2 * n_choose, n_choose) > MAX_SUBSETS:
            continue
        variant = "observed" if shrink is None else "hidden"
        table, _ = regime_table(n_choose, variant, 1.0 if shrink is None else shrink)
        atoms = pmf_atoms(table, n_choose)
        nearest = float(atoms[np.argmin(np.abs(atoms - delta))])
        if abs(nearest - delta) < ATOM_MARGIN:
            return (
                f"coin.eval.delta: {delta} lies within {ATOM_MARGIN} of {nearest:.6g}, a value "
                f"P(K = k | coins) takes at {where} (N={n_choose}): whether an estimate "
                f"δ-hallucinates would hinge on float rounding there; choose a δ at least "
                f"{ATOM_MARGIN} away from every atom"
            )
    return None
