"""Stage `world`: generate the world from `world:` and write what the QA and facts
experiments read, then the contamination report (issue 12).

outputs/world/: corpus.txt (the pretraining statements, one per line), facts.csv (every fact:
person, attribute, valid values, mentions, split, question), truthfulqa.csv (the evaluation
rows in TruthfulQA's format: single-valued facts and the held-out two-valued ones),
finetune.jsonl / eval.jsonl (the two-valued questions, open-question format), finetune.txt
(the LoRA targets as rendered pairs), format.txt (the FORMAT people's QA pairs, which the QA
base pretrains on beside corpus.txt). metrics/world/summary.json: sizes, mention histogram,
singleton rate, Kalai's bound at this scale; metrics/qa/contamination.json. MLflow: run
`world` in experiment `world`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter

from deltahall import paths
from deltahall.config import Params
from deltahall.metrics_file import write_json
from deltahall.theory.kalai import singleton_rate, singleton_rate_bound
from deltahall.tracking import start_run
from deltahall.world.contamination import contamination
from deltahall.world.generate import EVAL, FINETUNE, FORMAT, World, generate_world, min_errors
from deltahall.world.vocab import ATTRIBUTES

TQA_HEADER = [
    "Type",
    "Category",
    "Question",
    "Best Answer",
    "Correct Answers",
    "Incorrect Answers",
    "Source",
]


def qa_lines(world: World, split: str) -> list[str]:
    """A split's QA pairs as the tiny chat template renders them, every valid answer once:
    FINETUNE gives the LoRA targets, FORMAT the QA base's question-answering lessons."""
    return [
        f"Question: {f.question}\nAnswer: {v}"
        for f in world.facts
        if f.split == split
        for v in f.values
    ]


def _write(world: World) -> None:
    out = paths.WORLD_OUTPUTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("\n".join(world.corpus) + "\n", encoding="utf-8")
    for split in (FINETUNE, FORMAT):
        (out / f"{split}.txt").write_text(
            "\n\n".join(qa_lines(world, split)) + "\n", encoding="utf-8"
        )
    with (out / "facts.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "person", "attribute", "values", "mentions", "split", "question"])
        for f in world.facts:
            writer.writerow(
                [f.id, f.person, f.attribute, "; ".join(f.values), f.mentions, f.split, f.question]
            )
    with (out / "truthfulqa.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(TQA_HEADER)
        for f in world.facts:
            if f.split == EVAL:
                writer.writerow(
                    [
                        "Generated",
                        f.attribute,
                        f.question,
                        f.values[0],
                        "; ".join(f.values),
                        "; ".join(f.incorrect),
                        "deltahall world",
                    ]
                )
    for split in (FINETUNE, EVAL):
        rows = [
            {"id": f.id, "question": f.question, "answers": list(f.values), "topic": f.attribute}
            for f in world.facts
            if f.split == split and len(f.values) == 2
        ]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def summarise(world: World) -> dict:
    mentions = [f.mentions for f in world.facts]
    single = [f.mentions for f in world.facts if len(f.values) == 1]
    n_train = sum(single)  # Kalai's N: the statements of the arbitrary facts
    sr = singleton_rate(single)
    smallest = min(min_errors(a) for a in ATTRIBUTES if a.n_values == 1)
    bound = singleton_rate_bound(sr, smallest, n_train)
    return {
        "n_people": len({f.person for f in world.facts}),
        "n_facts": len(world.facts),
        "n_sentences": len(world.corpus),
        "mentions_histogram": {str(k): v for k, v in sorted(Counter(mentions).items())},
        "share_never_stated": sum(m == 0 for m in mentions) / len(mentions),
        "share_stated_once": sum(m == 1 for m in mentions) / len(mentions),
        # Kalai's Definition 2 over the arbitrary (single-valued) facts: |S| / N statements
        "singleton_rate": sr,
        "kalai_bound": {
            "value": bound,
            "min_errors": smallest,
            "n_train": n_train,
            "vacuous": bound <= 0.0,
        },
        "splits": dict(Counter(f.split for f in world.facts)),
    }


def run_world(params: Params) -> dict:
    cfg = params.world
    world = generate_world(cfg)
    evaluation = [(f.question, f.values) for f in world.facts if f.split == EVAL]
    report = contamination(
        evaluation,
        {
            "pretraining": [*world.corpus, *qa_lines(world, FORMAT)],
            "finetuning": qa_lines(world, FINETUNE),
        },
    )
    write_json(paths.QA_CONTAMINATION, report)
    if report["qa_pairs_found"] or report["questions_found"]:
        raise ValueError(
            f"the world's evaluation leaks into its training text ({report['questions_found']} "
            f"questions, {report['qa_pairs_found']} QA pairs): see {paths.QA_CONTAMINATION}"
        )
    _write(world)
    summary = summarise(world)
    write_json(paths.WORLD_METRICS, summary)
    print(
        f"[world] {summary['n_people']} people, {summary['n_facts']} facts, "
        f"{summary['n_sentences']} statements; singleton rate {summary['singleton_rate']:.3f}; "
        f"Kalai's bound {summary['kalai_bound']['value']:+.3f}"
        + (" (vacuous at this N)" if summary["kalai_bound"]["vacuous"] else "")
        + f"; contamination {report['qa_pairs_found']} QA pairs",
        flush=True,
    )
    metrics = {
        k: summary[k] for k in ("n_facts", "n_sentences", "share_never_stated", "singleton_rate")
    }
    metrics["kalai_bound"] = summary["kalai_bound"]["value"]
    metrics["contamination/qa_pairs_found"] = report["qa_pairs_found"]
    with start_run(
        params, "world", "world", {"world": cfg.model_dump()}, {"deltahall.stage": "world"}
    ) as run:
        run.log_metrics(metrics)
    return summary
