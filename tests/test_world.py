"""The generated world (issue 12): exact mention counts, singletons, plausible falsehoods,
seeded, and a contamination report that would see a leak."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from deltahall.cli import main
from deltahall.qa.schema import load_open_questions, load_truthfulqa
from deltahall.theory.kalai import singleton_rate
from deltahall.world.config import WorldConfig
from deltahall.world.contamination import contamination
from deltahall.world.generate import EVAL, FINETUNE, FORMAT, blend, generate_world
from deltahall.world.vocab import ATTRIBUTES

from params_helpers import section_with

BY_NAME = {a.name: a for a in ATTRIBUTES}


def _cfg(**overlay) -> WorldConfig:
    return WorldConfig.model_validate(section_with("world", overlay))


def _statements_of(fact) -> set[str]:
    attr = BY_NAME[fact.attribute]
    orders = [fact.values, fact.values[::-1]] if len(fact.values) == 2 else [fact.values]
    return {
        t.format(p=fact.person, a=v[0], b=v[1] if len(v) == 2 else "")
        for t in attr.statements
        for v in orders
    }


def test_every_fact_is_stated_exactly_its_mentions_and_nothing_else_is():
    world = generate_world(_cfg(n_people=30))
    lines = Counter(world.corpus)
    stated = 0
    for fact in world.facts:
        count = sum(lines[s] for s in _statements_of(fact))
        assert count == fact.mentions, fact
        stated += count
    assert stated == len(world.corpus)  # every line states one fact
    assert len(world.facts) == 30 * len(ATTRIBUTES)


def test_the_mention_distribution_sets_the_singletons():
    only_once = generate_world(_cfg(n_people=20, mentions={"values": [1], "probs": [1.0]}))
    assert all(f.mentions == 1 for f in only_once.facts)
    assert singleton_rate([f.mentions for f in only_once.facts]) == 1.0
    none_once = generate_world(_cfg(n_people=20, mentions={"values": [0, 2], "probs": [0.5, 0.5]}))
    counts = Counter(f.mentions for f in none_once.facts)
    assert set(counts) <= {0, 2} and singleton_rate([f.mentions for f in none_once.facts]) == 0.0


def test_questions_answers_and_falsehoods():
    world = generate_world(_cfg(n_people=40))
    two = [f for f in world.facts if len(f.values) == 2]
    assert {f.split for f in two} == {FINETUNE, EVAL, FORMAT}
    assert {f.split for f in world.facts if len(f.values) == 1} == {EVAL, FORMAT}
    for f in world.facts:
        assert not set(f.incorrect) & set(f.values)
        assert f.person in f.question and f.question[-1] in "?."
    lived = next(f for f in two if f.attribute == "cities_lived")
    assert blend(*lived.values) in lived.incorrect  # e.g. "Lisbon" + "Riga" -> "Lisga"
    assert blend("Lisbon", "Riga") == "Lisga"


def test_format_people_are_whole_people_and_change_no_other_draw():
    world = generate_world(_cfg(n_people=40, qa_format_fraction=0.25))
    split_of: dict[str, set[str]] = {}
    for f in world.facts:
        split_of.setdefault(f.person, set()).add(f.split)
    taught = [p for p, splits in split_of.items() if FORMAT in splits]
    assert len(taught) == 10 and all(split_of[p] == {FORMAT} for p in taught)
    # the share moves people in or out of FORMAT, nothing else: the facts experiment's world
    none = generate_world(_cfg(n_people=40, qa_format_fraction=0.0))
    assert none.corpus == world.corpus and FORMAT not in {f.split for f in none.facts}
    for a, b in zip(none.facts, world.facts):
        assert (a.values, a.mentions, a.incorrect) == (b.values, b.mentions, b.incorrect)
        assert b.split == FORMAT or b.split == a.split


def test_same_seed_same_world_other_seed_other():
    assert generate_world(_cfg(n_people=10)) == generate_world(_cfg(n_people=10))
    assert generate_world(_cfg(n_people=10)) != generate_world(_cfg(n_people=10, seed=1))


def test_contamination_sees_a_planted_leak():
    evaluation = [("Who is A?", ["Bob"]), ("Where is C?", ["Rome"])]
    clean = contamination(evaluation, {"corpus": ["A is Bob.", "C lives in Rome."]})
    assert clean["qa_pairs_found"] == 0 and clean["questions_found"] == 0
    leaked = contamination(
        evaluation, {"corpus": ["Question: who is a?  Answer: Bob", "Where is C? Unknown."]}
    )
    assert leaked["sources"]["corpus"] == {"n_lines": 2, "questions_found": 2, "qa_pairs_found": 1}


@pytest.mark.parametrize(
    "overlay, match",
    [
        ({"mentions": {"values": [0, 1], "probs": [0.5, 0.6]}}, "sum to 1"),
        ({"mentions": {"values": [0, 1], "probs": [1.0]}}, "differ in length"),
        ({"n_people": 2}, "n_people"),
    ],
)
def test_bad_world_params_are_refused(overlay, match):
    with pytest.raises(ValueError, match=match):
        _cfg(**overlay)


def test_world_stage_writes_files_the_qa_code_reads(workdir: Path, mlflow_uri: str):
    assert main(["world"]) == 0
    report = json.loads((workdir / "metrics/qa/contamination.json").read_text())
    assert report["qa_pairs_found"] == 0 and report["n_eval"] > 0
    summary = json.loads((workdir / "metrics/world/summary.json").read_text())
    facts = (workdir / "outputs/world/facts.csv").read_text().splitlines()
    assert summary["n_facts"] == len(facts) - 1
    rows = load_truthfulqa(workdir / "outputs/world/truthfulqa.csv")  # the real TQA parser
    assert len(rows) == report["n_eval"]
    assert len(load_open_questions(workdir / "outputs/world/finetune.jsonl")) > 0
    corpus = (workdir / "outputs/world/corpus.txt").read_text().splitlines()
    assert len(corpus) == summary["n_sentences"]
    assert not any("?" in line for line in corpus)  # statements only
    # the QA base's text: the statements and the FORMAT people's pairs, no evaluation question
    from deltahall.qa.data import world_pretraining_text

    text = world_pretraining_text()
    lessons = text[len(corpus) :]
    assert text[: len(corpus)] == corpus and lessons
    assert all(t.startswith("Question: ") and "\nAnswer: " in t for t in lessons)
    asked = {r.question for r in rows}
    assert not any(t.split("\n")[0].removeprefix("Question: ") in asked for t in lessons)
    assert report["sources"]["pretraining"]["n_lines"] == len(text)
