"""The generated world (pure: config in, facts and sentences out; seeded, no I/O).

Each (person, attribute) is one fact; its number of statements in the pretraining corpus is
drawn from world.mentions, so the share stated never, once (the singleton rate's numerator)
or many times is known exactly. Statements only: the corpus never contains a question, so no
evaluation question–answer pair can leak into it (world/contamination.py checks). The QA base
also reads the question–answer pairs of a share of the people (FORMAT): how it learns to
answer questions about the others, who are the only ones asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deltahall.seeding import derive_seed
from deltahall.world.config import WorldConfig
from deltahall.world.vocab import ATTRIBUTES, FIRST_NAMES, LAST_NAMES, Attribute

FINETUNE, EVAL, FORMAT = "finetune", "eval", "format"


@dataclass(frozen=True)
class Fact:
    id: str
    person: str
    attribute: str
    values: tuple[str, ...]  # 1 (arbitrary fact) or 2 valid answers
    mentions: int  # statements of it in the corpus
    # FINETUNE: its QA pairs are LoRA targets; EVAL: only ever asked; FORMAT: its QA pairs are
    # in the QA base's pretraining text (the base learns the QA format from other people)
    split: str
    question: str
    incorrect: tuple[str, ...]  # plausible falsehoods: others' values, blends of the two


@dataclass(frozen=True)
class World:
    facts: tuple[Fact, ...]
    corpus: tuple[str, ...]  # one statement per line, shuffled


def _people(rng: np.random.Generator, n: int) -> list[str]:
    pairs = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    if n > len(pairs):
        raise ValueError(f"world.n_people = {n} exceeds the {len(pairs)} distinct names")
    return [" ".join(pairs[i]) for i in rng.choice(len(pairs), size=n, replace=False)]


def blend(a: str, b: str) -> str:
    """The first half of one valid answer joined to the second half of the other: an answer
    between the two latent states that is neither (paper §6.2's blends)."""
    return a[: (len(a) + 1) // 2] + b[len(b) // 2 :]


def _incorrect(values, others: list[tuple[str, ...]], n: int, rng) -> tuple[str, ...]:
    pool = sorted({v for vs in others for v in vs} - set(values))
    picks = [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]
    if len(values) == 2:
        picks += [b for b in (blend(*values), blend(*values[::-1])) if b not in values]
    return tuple(dict.fromkeys(picks))


def _statements(attr: Attribute, person: str, values, mentions: int, rng) -> list[str]:
    out = []
    for _ in range(mentions):
        template = attr.statements[rng.integers(len(attr.statements))]
        a, *rest = values if rng.random() < 0.5 else values[::-1]
        out.append(template.format(p=person, a=a, b=rest[0] if rest else ""))
    return out


def generate_world(cfg: WorldConfig) -> World:
    rng = np.random.default_rng(derive_seed("world", cfg.seed))
    people = _people(rng, cfg.n_people)
    drawn = {
        attr.name: [tuple(rng.choice(attr.pool, attr.n_values, replace=False)) for _ in people]
        for attr in ATTRIBUTES
    }
    mentions = rng.choice(
        cfg.mentions.values, size=(len(people), len(ATTRIBUTES)), p=cfg.mentions.probs
    )
    facts, corpus = [], []
    for i, person in enumerate(people):
        for j, attr in enumerate(ATTRIBUTES):
            values = tuple(str(v) for v in drawn[attr.name][i])
            others = drawn[attr.name][:i] + drawn[attr.name][i + 1 :]
            two = attr.n_values == 2
            split = FINETUNE if two and rng.random() < cfg.finetune_fraction else EVAL
            facts.append(
                Fact(
                    f"{attr.name}-{i:04d}",
                    person,
                    attr.name,
                    values,
                    int(mentions[i, j]),
                    split,
                    attr.question.format(p=person),
                    _incorrect(values, others, cfg.n_incorrect, rng),
                )
            )
            corpus += _statements(attr, person, values, int(mentions[i, j]), rng)
    order = rng.permutation(len(corpus))
    return World(_format_people(facts, cfg), tuple(corpus[k] for k in order))


def _format_people(facts: list[Fact], cfg: WorldConfig) -> tuple[Fact, ...]:
    """Every fact of a seeded qa_format_fraction of the people becomes FORMAT. A stream of its
    own: the other draws, hence the facts experiment's world, do not depend on this share."""
    people = sorted({f.person for f in facts})
    rng = np.random.default_rng(derive_seed("world-format", cfg.seed))
    chosen = set(rng.permutation(people)[: round(cfg.qa_format_fraction * len(people))])
    return tuple(replace(f, split=FORMAT) if f.person in chosen else f for f in facts)


def min_errors(attribute: Attribute) -> int:
    """|E_c| for a question of this attribute: the pool's values that are wrong for it."""
    return len(attribute.pool) - attribute.n_values
