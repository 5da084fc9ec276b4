"""Stage `theory_report` on the smoke grid: Theorem 5.1's bound beside Monte Carlo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deltahall.cli import main
from deltahall.theory_report.stage import one_configuration, prior


def test_priors_are_distributions():
    assert prior("uniform", 4).tolist() == [0.25] * 4
    skewed = prior("skewed", 3)
    assert skewed[0] == 0.5 and np.isclose(skewed.sum(), 1.0)


def test_a_sphere_law_has_kurtosis_ratio_one_and_the_bound_holds():
    row = one_configuration(3, 2, 0.05, "uniform", "sphere", 1.0, 4000, seed=0, factor=10)
    assert row["applicable"] and 0 < row["bound"] < row["mc"] and row["holds"]
    assert row["mc_low"] <= row["mc"] <= row["mc_high"]
    assert not row["informative"]  # the bound is orders of magnitude below MC here


def test_the_stage_writes_every_configuration_and_the_figure(workdir: Path):
    assert main(["theory-report"]) == 0
    out = json.loads((workdir / "metrics/theory/bound_vs_mc.json").read_text())
    rows = out["configurations"]
    assert out["n_configurations"] == len(rows) == 2 * 2 * 2  # smoke: N x d x radius
    assert {"bound", "mc", "mc_low", "mc_high", "applicable", "holds"} <= set(rows[0])
    assert out["n_violated"] == sum(not r["holds"] for r in rows)
    assert any(r["bound"] > 0 for r in rows) and any(not r["applicable"] for r in rows)
    assert (workdir / "plots/theory/bound_vs_mc.png").stat().st_size > 10_000
