"""Figures 5/6 and the measured claim from a hand-made history (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltahall.t2i.report import claim, figure5, figure6, seed_band


def _history(rates: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for seed, per_epoch in rates.items():
        for epoch, rate in enumerate(per_epoch, start=1):
            row = {
                "seed": seed,
                "epoch": epoch,
                "train/loss": 1.0 / epoch + 0.01 * seed,
                "train/loss_fixed_noise": 0.5 / epoch,
                "val/hall_rate": rate,
                "val/mean_hall": 1.0,
            }
            for p in ("a", "b"):
                row[f"val/hall_rate/{p}"] = rate
                row[f"val/mean_hall/{p}"] = float(seed == 0)
            rows.append(row)
    return pd.DataFrame(rows)


def test_seed_band_is_the_mean_over_seeds_with_a_ci_around_it():
    history = _history({0: [0.2, 0.4], 1: [0.4, 0.4], 2: [0.6, 0.4]})
    band = seed_band(history, "val/hall_rate", n_boot=200, level=0.95)
    assert band["epoch"].tolist() == [1, 2]
    assert band["mean"].tolist() == pytest.approx([0.4, 0.4])
    assert band["low"][0] < 0.4 < band["high"][0]
    assert band["low"][1] == band["high"][1] == pytest.approx(0.4)  # no spread, no width


def test_claim_separates_a_falling_loss_from_a_rate_that_stays():
    stays = claim(_history({0: [1.0, 0.6, 0.7, 0.5], 1: [1.0, 0.5, 0.6, 0.6]}), 200, 0.95)
    assert stays["loss_falls"] and stays["rate_stays_above_zero"]
    assert stays["train/loss"]["first"][0] == pytest.approx(1.005)
    assert stays["val/hall_rate"]["last"][0] == pytest.approx(0.55)
    assert stays["val/hall_rate"]["change"][0] == pytest.approx(-0.45)
    # last half = epochs 3, 4: |0.7 - 0.5| / 2 = 0.1 and 0 -> mean 0.05
    assert stays["val/hall_rate"]["std_last_half"] == pytest.approx(0.05)
    vanishes = claim(_history({0: [1.0, 0.5, 0.0], 1: [1.0, 0.2, 0.0]}), 200, 0.95)
    assert vanishes["loss_falls"] and not vanishes["rate_stays_above_zero"]


def test_figures_are_drawn(tmp_path: Path):
    history = _history({0: [1.0, 0.8, 0.7], 1: [1.0, 0.9, 0.6]})
    assert figure5(history, tmp_path / "f5.png", 50, 0.95).stat().st_size > 10_000
    f6 = figure6(history, {"a": "prompt a", "b": "prompt b"}, tmp_path / "f6.png", 50, 0.95)
    assert f6.stat().st_size > 10_000
    assert np.isfinite(claim(history, 50, 0.95)["val/hall_rate"]["std_last_half"])
