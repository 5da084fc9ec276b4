"""The facts experiment (Kalai et al. on the world): pure analysis by hand, then the stage on
a small world through the CLI, gate included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from deltahall.cli import main
from deltahall.facts.analysis import analyse_facts, error_by_mentions
from deltahall.facts.config import parse_bin
from deltahall.scoring import Example, per_example

BINS = ["0", "1", "2", "3-4", "5+"]


def test_bins_parse_and_bad_ones_are_named():
    assert parse_bin("3") == (3, 3) and parse_bin("3-4") == (3, 4) and parse_bin("5+") == (5, None)
    with pytest.raises(ValueError, match="'x' must read"):
        parse_bin("x")


def test_error_by_mentions_by_hand():
    mentions = np.array([0, 0, 1, 1, 1, 2, 3, 4, 5, 9])
    correct = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 1], dtype=bool)
    out = error_by_mentions(mentions, correct, BINS, 200, 0.95)
    assert {b: r["rate"] for b, r in out.items()} == pytest.approx(
        {"0": 1.0, "1": 2 / 3, "2": 0.0, "3-4": 0.0, "5+": 0.0}
    )
    assert [r["n"] for r in out.values()] == [2, 3, 1, 2, 2]
    empty = error_by_mentions(np.array([0]), np.array([False]), ["7+"], 50, 0.95)
    assert empty["7+"] == {"n": 0, "rate": None, "low": None, "high": None}


def test_analysis_gate_figure_and_targets():
    mentions = np.array([5, 6, 7, 1])
    conf = np.array([0.9, 0.8, 0.6, 0.2])
    truth, said = ["Lisbon", "Oslo", "Riga", "Lima"], ["Lisbon", "oslo.", "Rigga", "Quito"]
    examples = [Example(t, (t,), a, confidence=c) for t, a, c in zip(truth, said, conf)]
    flags = per_example(examples, 0.5, [0.0, 0.75], correct_if="exact")
    out = analyse_facts(mentions, flags, conf, BINS, 5, [0.0, 0.75], 5, 100, 0.95)
    assert out["accuracy_seen_often"]["rate"] == pytest.approx(2 / 3)
    assert out["hallucination_rate"]["rate"] == 0.5
    # "Rigga" is an error (not the value) but no δ-hallucination (2·4/9 > 0.5); "Quito" is both
    assert out["delta_hall_rate"]["rate"] == 0.25
    # t = 0.75: answer .9 (right) and .8 (right): 2 points over 4; abstain on 2
    t75, t0 = out["confidence_targets"]["0.75"], out["confidence_targets"]["0.0"]
    assert (t75["score"], t75["abstain_rate"]) == (0.5, 0.5)
    assert t75["score_low"] <= 0.5 <= t75["score_high"] and t75["abstain_low"] < t75["abstain_high"]
    # t = 0: answer all: +1 +1 -0 -0 (a wrong answer costs 0 at t = 0)
    assert (t0["score"], t0["abstain_rate"]) == (0.5, 0.0)


def _small(workdir: Path, **facts) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["world"]["n_people"] = 40
    params["facts"]["pretrain"]["epochs"] = 2
    params["facts"]["gate"].update(facts)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def test_facts_stage_writes_the_summary_and_the_gate_can_fail(
    workdir: Path, mlflow_uri: str, capsys
):
    _small(workdir, min_accuracy=0.0)
    assert main(["facts"]) == 2
    assert "run the world stage first" in capsys.readouterr().err
    assert main(["world"]) == 0 and main(["facts"]) == 0
    summary = json.loads((workdir / "metrics/facts/summary.json").read_text())
    assert set(summary["error_rate_by_mentions"]) == set(BINS)
    assert summary["n_facts"] == 40 * 3  # every single-valued fact is asked
    assert {"singleton_rate", "kalai_bound", "ece_base", "hallucination_rate"} <= set(summary)
    assert set(summary["confidence_targets"]) == {"0.0", "0.5", "0.75", "0.9"}
    for fig in ("error_by_mentions", "confidence_targets", "reliability"):
        assert (workdir / f"plots/facts/{fig}.png").stat().st_size > 5_000
    answers = (workdir / "outputs/facts/answers.csv").read_text().splitlines()
    assert len(answers) == 1 + 40 * 3
    _small(workdir, min_accuracy=1.0)  # two epochs cannot know every fact
    assert main(["facts"]) == 2
    err = capsys.readouterr().err
    assert (
        "facts.gate.min_accuracy: base accuracy" in err and "facts.gate.min_accuracy = 1.0" in err
    )
    assert (workdir / "metrics/facts/summary.json").exists()  # the figure it names is there


def test_facts_sweep_sets_error_rate_beside_singleton_rate_across_worlds(
    workdir: Path, mlflow_uri: str, capsys
):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["facts"]["pretrain"]["epochs"] = 2
    params["facts"]["sweep"] = {
        "n_people": 20,
        "singleton_shares": [0.0, 0.9],
        "never": 0.1,
        "often": 5,
        "processes": 1,
    }
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["facts-sweep"]) == 0
    summary = json.loads((workdir / "metrics/facts/sweep.json").read_text())
    params["facts"]["sweep"]["processes"] = 2  # the worlds side by side: the same numbers
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["facts-sweep"]) == 0
    assert json.loads((workdir / "metrics/facts/sweep.json").read_text()) == summary
    none, most = summary["worlds"]
    assert none["singleton_rate"] == 0.0  # no fact stated once: no singleton at all
    assert none["share_stated_once"] == 0.0 and most["share_stated_once"] > 0.7
    assert most["singleton_rate"] > 0.5  # nearly every statement is its fact's only one
    for w in (none, most):
        assert w["error_rate"]["n"] == 20 * 3 and 0 <= w["error_rate"]["rate"] <= 1
        assert w["error_rate"]["low"] <= w["error_rate"]["rate"] <= w["error_rate"]["high"]
    assert (workdir / "plots/facts/sweep.png").stat().st_size > 5_000
    params["facts"]["sweep"]["singleton_shares"] = [0.0, 0.95]  # never 0.1: above 1 - never
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["facts-sweep"]) == 2
    assert "facts.sweep: singleton_shares [0.95] must lie in [0, 1 - never]" in (
        capsys.readouterr().err
    )
