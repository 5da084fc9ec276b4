"""Figures 5/6 and the measured claim from a hand-made history (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltahall.t2i import claim
from deltahall.t2i.figures import figure5, figure6, seed_band
from deltahall.t2i.report import measured_claim


def _history(rates: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for seed, per_epoch in rates.items():
        for epoch, rate in enumerate(per_epoch):
            row = {
                "seed": seed,
                "epoch": epoch,
                "train/loss": 1.0 / (epoch + 1) + 0.01 * seed,
                "train/loss_fixed_noise": 0.5 / (epoch + 1),
                "val/hall_rate": rate,
                "val/mean_hall": 1.0,
            }
            for p in ("a", "b"):
                row[f"val/hall_rate/{p}"] = rate
                row[f"val/mean_hall/{p}"] = float(seed == 0)
            rows.append(row)
    return pd.DataFrame(rows)


FLOORS = {  # 10 of 100 real images flagged per class
    name: {"flagged": 10, "n": 100, "rate": 0.1, "low": 0.05, "high": 0.16} for name in ("a", "all")
}


def test_seed_band_is_the_mean_over_seeds_with_a_ci_around_it():
    history = _history({0: [0.2, 0.4], 1: [0.4, 0.4], 2: [0.6, 0.4]})
    band = seed_band(history, "val/hall_rate", n_boot=200, level=0.95)
    assert band["epoch"].tolist() == [0, 1]
    assert band["mean"].tolist() == pytest.approx([0.4, 0.4])
    assert band["low"][0] < 0.4 < band["high"][0]
    assert band["low"][1] == band["high"][1] == pytest.approx(0.4)  # no spread, no width


def test_excess_is_generated_minus_real_with_both_resampled():
    flags = claim.floor_flags({"flagged": 10, "n": 100})
    assert flags.sum() == 10 and flags.size == 100
    out = claim.excess(np.array([0.5, 0.5]), flags, 500, 0.95, seed=0)
    assert out["excess"] == pytest.approx(0.4)
    # the seeds agree, so the width is the floor's alone: 0.4 ± ~0.06
    assert 0.3 < out["low"] < 0.4 < out["high"] < 0.5
    perfect = claim.excess(np.array([0.08, 0.12]), flags, 500, 0.95, seed=0)
    assert perfect["low"] < 0 < perfect["high"]  # a generator as good as real images


def test_slope_resamples_whole_runs():
    runs = np.array([[[1.0, 0.9], [0.5, 0.4]], [[1.0, 0.7], [0.5, 0.2]]])  # (run, epoch, 2)
    assert claim.slope_statistic(runs, axis=0) == pytest.approx(1.0)  # rate = loss - c_run
    history = _history({0: [0.9, 0.5, 0.4], 1: [0.9, 0.6, 0.4], 2: [0.8, 0.5, 0.3]})
    slope = claim.rate_loss_slope(history, 300, 0.95, seed=0)
    assert slope["n_runs"] == 3 and slope["low"] > 0  # the rate falls with the loss
    flat = claim.rate_loss_slope(_history({0: [0.5] * 3, 1: [0.5] * 3}), 300, 0.95, seed=0)
    assert flat["slope"] == pytest.approx(0.0) and flat["low"] <= 0 <= flat["high"]


def test_the_claim_is_judged_against_the_real_floor():
    stays = measured_claim(
        _history({0: [1.0, 0.6, 0.7, 0.5], 1: [1.0, 0.5, 0.6, 0.6]}), FLOORS, ["a", "b"], 200, 0.95
    )
    assert stays["loss_falls"] and stays["rate_stays_above_floor"]
    assert stays["base_rate"] == {"all": 1.0, "a": 1.0, "b": 1.0}
    assert stays["train/loss"]["first"][0] == pytest.approx(1.005)
    assert stays["val/hall_rate"]["change"][0] == pytest.approx(-0.45)
    assert stays["real_heldout_rate"] == 0.1 and stays["real_heldout_rate_low"] == 0.05
    assert [r["epoch"] for r in stays["excess_rate_by_epoch"]] == [0, 1, 2, 3]
    assert stays["excess_rate_by_epoch"][-1]["excess"] == pytest.approx(0.45)
    assert "above the real floor" in stays["verdict"]
    # prompt b has no class of its own: its floor is the pooled one
    assert stays["by_prompt"]["b"]["real_heldout"] is FLOORS["all"]
    # a generator that ends at the real images' rate is not called a hallucinator
    level = measured_claim(
        _history({0: [1.0, 0.5, 0.1], 1: [1.0, 0.2, 0.1]}), FLOORS, ["a"], 200, 0.95
    )
    assert not level["rate_stays_above_floor"]
    assert (
        "at the real floor" in level["verdict"] and "lower loss lowers the rate" in level["verdict"]
    )


def test_figures_are_drawn(tmp_path: Path):
    history = _history({0: [1.0, 0.8, 0.7], 1: [1.0, 0.9, 0.6]})
    measured = measured_claim(history, FLOORS, ["a", "b"], 50, 0.95)
    assert figure5(history, measured, tmp_path / "f5.png", 50, 0.95).stat().st_size > 10_000
    prompts = {"a": "prompt a", "b": "prompt b"}
    f6 = figure6(history, prompts, measured, tmp_path / "f6.png", 50, 0.95)
    assert f6.stat().st_size > 10_000
