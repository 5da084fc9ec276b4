"""Typed params of the generated world (issue 12): the `world:` section."""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from deltahall.strict import Strict


class MentionDistribution(Strict):
    # How many times a fact is stated in the pretraining corpus: values[k] with probs[k].
    values: list[int] = Field(min_length=1)
    probs: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _a_distribution(self) -> MentionDistribution:
        if len(self.values) != len(self.probs):
            raise ValueError(
                f"values ({len(self.values)}) and probs ({len(self.probs)}) differ in length"
            )
        if len(set(self.values)) != len(self.values) or min(self.values) < 0:
            raise ValueError(f"values must be distinct counts >= 0, got {self.values}")
        if min(self.probs) < 0 or not math.isclose(sum(self.probs), 1.0, abs_tol=1e-9):
            raise ValueError(f"probs must be >= 0 and sum to 1, got {self.probs}")
        return self


class WorldConfig(Strict):
    seed: int
    n_people: int = Field(ge=4, le=1600)
    mentions: MentionDistribution
    # share of the two-valued facts whose QA pairs are LoRA targets; the rest are evaluated
    finetune_fraction: float = Field(gt=0.0, lt=1.0)
    # share of the people whose QA pairs the QA base pretrains on (it learns the QA format from
    # them); their facts are never fine-tuned on nor evaluated in the QA experiment
    qa_format_fraction: float = Field(ge=0.0, lt=1.0)
    n_incorrect: int = Field(ge=1, le=20)  # other people's values per question
