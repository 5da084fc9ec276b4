"""What the QA base knows before fine-tuning (world only, issue 12): every evaluation question
asked once, greedy, and its accuracy by how many times the corpus stated the fact."""

from __future__ import annotations

import numpy as np

from deltahall.config import Params
from deltahall.facts.analysis import rate_by_mentions, seen_often
from deltahall.qa.data import QAData, world_mentions
from deltahall.qa.generate import generate_answers
from deltahall.seeding import derive_seed
from deltahall.similarity import is_exact


def base_knowledge(params: Params, model, tokenizer, data: QAData) -> dict:
    """Accuracy (an exact valid answer) by mention bin, overall and per number of valid
    answers, and the gate's figure: accuracy on the facts stated >= qa.gate.mentions times."""
    cfg, bins = params.qa, params.facts.mention_bins  # the world's bins, one list for both
    rows = data.truthfulqa  # every evaluation fact: one valid answer or two
    mentions_of = world_mentions()
    mentions = np.array([mentions_of[r.question] for r in rows])
    generations = generate_answers(
        model,
        tokenizer,
        [r.question for r in rows],
        "greedy",
        derive_seed("qa-base-knowledge", cfg.model.seed),
        cfg.eval.max_new_tokens,
        cfg.eval.batch_size,
    )
    correct = np.array(
        [is_exact(g.answer, r.correct_answers) for g, r in zip(generations, rows)], dtype=bool
    )
    n_valid = np.array([len(r.correct_answers) for r in rows])
    ev = cfg.eval
    out = {
        "n_asked": len(rows),
        "accuracy_by_mentions": rate_by_mentions(mentions, correct, bins, ev.n_boot, ev.ci_level),
        "accuracy_seen_often": seen_often(
            mentions, correct, cfg.gate.mentions, ev.n_boot, ev.ci_level
        ),
    }
    for k, name in ((1, "one_valid_answer"), (2, "two_valid_answers")):
        pick = n_valid == k
        out[f"accuracy_seen_often_{name}"] = seen_often(
            mentions[pick], correct[pick], cfg.gate.mentions, ev.n_boot, ev.ci_level
        )
    return out


def knowledge_metrics(summary: dict) -> dict[str, float]:
    """The MLflow view: base/accuracy_mentions_<bin> and base/accuracy_seen_often."""
    out = {
        f"base/accuracy_mentions_{b.replace('+', 'plus')}": r["rate"]
        for b, r in summary["accuracy_by_mentions"].items()
        if r["rate"] is not None
    }
    if summary["accuracy_seen_often"]["rate"] is not None:
        out["base/accuracy_seen_often"] = summary["accuracy_seen_often"]["rate"]
    return out
