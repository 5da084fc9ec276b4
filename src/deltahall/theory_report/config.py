"""Typed params of the Theorem 5.1 report (paper §5): the `theory:` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from deltahall.strict import Strict


class TheoryReportConfig(Strict):
    # The grid: every (N, d, radius, p, law, mu_scale) is one configuration. States' means are
    # independent: gaussian μ_i ~ N(0, mu_scale² I_d); sphere: mu_scale × a uniform direction
    # (‖μ_i − μ_0‖ fixed, so K_i = 1: the law most favourable to the bound). U_i is the ball
    # of `radius` around μ_i.
    n_states: list[int] = Field(min_length=1)
    dims: list[int] = Field(min_length=1)
    radii: list[float] = Field(min_length=1)
    priors: list[Literal["uniform", "skewed"]] = Field(min_length=1)
    mu_laws: list[Literal["gaussian", "sphere"]] = Field(min_length=1)
    mu_scales: list[float] = Field(min_length=1)
    n_samples: int = Field(ge=100, le=10_000_000)
    informative_factor: float = Field(gt=1.0)  # "informative": bound within this factor of MC
    seed: int
