"""Metric files: null for NaN, atomic, per-seed detail beside the headline."""

import json
import math

import numpy as np
import pytest

from deltahall.metrics_file import across_seeds, finite, per_seed_path, write_json, write_metrics


def test_nan_and_infinity_are_written_as_null_everywhere(tmp_path):
    data = {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": np.float64("nan")}, "e": 2}
    out = write_json(tmp_path / "m" / "x.json", data)
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": None}, "e": 2}
    assert not list(out.parent.glob(".*partial"))  # written atomically, nothing left over


def test_finite_keeps_numbers_and_makes_numpy_scalars_plain():
    assert finite({"x": np.float32(0.5), "n": np.int64(3)}) == {"x": 0.5, "n": 3}
    assert type(finite(np.int64(3))) is int


def test_across_seeds_mean_and_population_std_skip_an_undefined_seed():
    spread = across_seeds({0: {"r": 0.2, "u": math.nan}, 1: {"r": 0.4, "u": 1.0}, 2: {"r": 0.6}})
    assert spread["mean"] == {"r": pytest.approx(0.4)}  # "u" is not in every seed
    assert spread["std"]["r"] == pytest.approx(np.std([0.2, 0.4, 0.6]))
    nan_only = across_seeds({0: {"u": math.nan}, 1: {"u": math.nan}})
    assert math.isnan(nan_only["mean"]["u"])  # and write_json makes it null


def test_write_metrics_puts_per_seed_detail_beside_the_headline(tmp_path):
    path = tmp_path / "coin" / "observed_n2.json"
    write_metrics(path, {"loss": 1.0}, {0: {"loss": 0.5}, 1: {"loss": 1.5}})
    assert per_seed_path(path).name == "observed_n2.per_seed.json"
    assert json.loads(path.read_text()) == {"loss": 1.0}
    assert json.loads(per_seed_path(path).read_text()) == {"0": {"loss": 0.5}, "1": {"loss": 1.5}}
