"""Typed params of the facts experiment (Kalai et al. on the world): the `facts:` section."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from deltahall.strict import Strict

_BIN = re.compile(r"^(\d+)(?:-(\d+)|(\+))?$")


def parse_bin(text: str) -> tuple[int, int | None]:
    """ "3" -> (3, 3); "3-4" -> (3, 4); "5+" -> (5, None): mention counts in the bin."""
    match = _BIN.match(text)
    if not match:
        raise ValueError(f"mention bin {text!r} must read N, N-M or N+")
    low = int(match.group(1))
    high = None if match.group(3) else int(match.group(2) or low)
    if high is not None and high < low:
        raise ValueError(f"mention bin {text!r}: {high} < {low}")
    return low, high


class FactsModelConfig(Strict):  # the tiny Qwen2 pretrained on the world's statements
    vocab_size: int = Field(ge=300, le=50_000)
    hidden_size: int = Field(ge=16, le=2048)
    num_layers: int = Field(ge=1, le=24)
    num_heads: int = Field(ge=1, le=32)
    max_positions: int = Field(ge=16, le=4096)


class FactsPretrainConfig(Strict):
    epochs: int = Field(ge=1, le=1000)
    lr: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=4096)


class FactsGateConfig(Strict):
    # the base must know what it saw often: accuracy on facts stated >= `mentions` times
    mentions: int = Field(ge=1)
    min_accuracy: float = Field(ge=0.0, le=1.0)


class FactsSweepConfig(Strict):
    """Worlds that differ only in how many facts are stated once (stage facts_sweep)."""

    n_people: int = Field(ge=4, le=1600)
    # per world: a share `never` of the facts never stated, `s` once, the rest `often` times
    singleton_shares: list[float] = Field(min_length=2)
    never: float = Field(ge=0.0, lt=1.0)
    often: int = Field(ge=2, le=100)
    processes: int = Field(ge=1, le=256)  # worlds side by side, facts.torch_threads each

    @model_validator(mode="after")
    def _shares(self) -> FactsSweepConfig:
        bad = [s for s in self.singleton_shares if not 0.0 <= s <= 1.0 - self.never]
        if bad:
            raise ValueError(
                f"singleton_shares {bad} must lie in [0, 1 - never] = [0, {1 - self.never:g}]"
            )
        return self

    def mentions(self, share: float) -> dict:
        """world.mentions of the world with this share of singletons."""
        return {
            "values": [0, 1, self.often],
            "probs": [self.never, share, 1.0 - self.never - share],
        }


class FactsConfig(Strict):
    seed: int
    torch_threads: int = Field(ge=1, le=256)
    model: FactsModelConfig
    pretrain: FactsPretrainConfig
    max_new_tokens: int = Field(ge=1, le=64)
    batch_size: int = Field(ge=1, le=4096)
    mention_bins: list[str] = Field(min_length=1)
    gate: FactsGateConfig
    # Definition 3.2 on an answer: δ-hallucinated iff its difflib resemblance to the value <= δ
    delta: float = Field(gt=0.0, le=1.0)
    confidence_targets: list[float] = Field(min_length=1)
    ece_bins: int = Field(ge=2, le=100)
    n_boot: int = Field(ge=10, le=100_000)
    ci_level: float = Field(gt=0.0, lt=1.0)
    sweep: FactsSweepConfig

    @model_validator(mode="after")
    def _consistent(self) -> FactsConfig:
        bins = [parse_bin(b) for b in self.mention_bins]
        for (_, high), (low, _) in zip(bins, bins[1:]):
            if high is None or low <= high:
                raise ValueError(
                    f"mention_bins must be increasing and disjoint: {self.mention_bins}"
                )
        if any(not 0.0 <= t < 1.0 for t in self.confidence_targets):
            raise ValueError(f"confidence_targets must lie in [0, 1): {self.confidence_targets}")
        if self.model.hidden_size % self.model.num_heads:
            raise ValueError("model.hidden_size must be divisible by model.num_heads")
        return self
