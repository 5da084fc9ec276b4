"""Stage `facts` (Kalai et al. on the world): pretrain a tiny Qwen2 on the world's statements,
ask it every arbitrary fact, and set its errors beside the singleton rate and Kalai's bound.

Reads outputs/world (facts.csv, corpus.txt) and metrics/world/summary.json. Writes
plots/facts/pretrain_history.csv, outputs/facts/answers.csv (one row per fact),
metrics/facts/summary.json and plots/facts/{error_by_mentions, confidence_targets,
reliability}.png; MLflow experiment `facts`. Fails after writing them, naming the figure,
when the base's accuracy on facts stated >= facts.gate.mentions times is below the gate.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import torch

from deltahall import paths, scoring
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv
from deltahall.facts.analysis import analyse_facts
from deltahall.facts.config import FactsConfig
from deltahall.facts.figures import write_figures
from deltahall.gate import check_knowledge_gate
from deltahall.metrics_file import write_json
from deltahall.seeding import derive_seed, seed_everything
from deltahall.tracking import start_run
from deltahall.world.vocab import ATTRIBUTES

BY_NAME = {a.name: a for a in ATTRIBUTES}


def _load_world() -> tuple[list[dict], list[str], dict]:
    folder = paths.WORLD_OUTPUTS
    if not (folder / "facts.csv").exists() or not paths.WORLD_METRICS.exists():
        raise FileNotFoundError(f"{folder}/facts.csv missing: run the world stage first")
    with (folder / "facts.csv").open(encoding="utf-8") as fh:
        facts = list(csv.DictReader(fh))
    corpus = (folder / "corpus.txt").read_text(encoding="utf-8").splitlines()
    return facts, corpus, json.loads(paths.WORLD_METRICS.read_text())


def pretrain_facts_base(cfg: FactsConfig, corpus: list[str], log) -> tuple:
    """The tiny Qwen2 of the facts experiment, pretrained on `corpus` (seeded by cfg.seed)."""
    from deltahall.qa.model import build_tiny_qwen2, build_tokenizer
    from deltahall.qa.pretrain_text import pretrain_on_text

    m = cfg.model
    tokenizer = build_tokenizer(corpus, m.vocab_size)
    model = build_tiny_qwen2(
        tokenizer,
        m.hidden_size,
        m.num_layers,
        m.num_heads,
        max_positions=m.max_positions,
        seed=derive_seed("facts-init", cfg.seed),
    )
    seed_everything(derive_seed("facts-pretrain", cfg.seed))
    pretrain_on_text(
        model,
        tokenizer,
        corpus,
        cfg.pretrain.epochs,
        cfg.pretrain.lr,
        cfg.pretrain.batch_size,
        derive_seed("facts-pretrain", cfg.seed),
        log,
    )
    return model, tokenizer


def ask_arbitrary_facts(cfg: FactsConfig, model, tokenizer, asked: list[dict]):
    """Cloze-ask every single-valued fact ({"attribute", "person", "values", "mentions"}) and
    score the answers with deltahall.scoring (correct: exactly the fact's value):
    (answers with their probabilities, scoring flags, mentions)."""
    from deltahall.facts.ask import cloze_answers

    prompts = [BY_NAME[f["attribute"]].cloze(f["person"]) for f in asked]
    answers = cloze_answers(model, tokenizer, prompts, cfg.max_new_tokens, cfg.batch_size)
    examples = [
        scoring.Example(prompt, (f["values"],), a, confidence=p)
        for prompt, f, (a, p) in zip(prompts, asked, answers)
    ]
    flags = scoring.per_example(examples, cfg.delta, cfg.confidence_targets, correct_if="exact")
    return answers, flags, np.array([int(f["mentions"]) for f in asked])


def run_facts(params: Params) -> dict:
    cfg = params.facts
    facts, corpus, world = _load_world()
    torch.set_num_threads(cfg.torch_threads)
    asked = [f for f in facts if BY_NAME[f["attribute"]].n_values == 1]
    with start_run(
        params,
        "facts",
        "facts",
        {"facts": cfg.model_dump()},
        {"deltahall.stage": "facts"},
        inputs=[paths.WORLD_OUTPUTS],
        system_metrics=True,
    ) as run:
        columns = ["epoch", "train/loss", "time/epoch_s"]
        with HistoryCsv(paths.FACTS_PLOTS / "pretrain_history.csv", columns) as history:
            log = EpochLogger("[facts] pretrain", cfg.pretrain.epochs, ["train/loss"], run, history)
            model, tokenizer = pretrain_facts_base(cfg, corpus, log)
        answers, flags, mentions = ask_arbitrary_facts(cfg, model, tokenizer, asked)
        correct = flags["exact"]
        summary = analyse_facts(
            mentions,
            flags,
            np.array([p for _, p in answers]),
            cfg.mention_bins,
            cfg.gate.mentions,
            cfg.confidence_targets,
            cfg.ece_bins,
            cfg.n_boot,
            cfg.ci_level,
        )
        summary["singleton_rate"] = world["singleton_rate"]
        summary["share_stated_once"] = world["share_stated_once"]
        summary["kalai_bound"] = world["kalai_bound"]
        _write(asked, answers, correct, summary)
        write_figures(summary, paths.FACTS_PLOTS)
        run.log_metrics(_flat(summary))
    _print(summary)
    check_knowledge_gate(
        summary["accuracy_seen_often"],
        cfg.gate.mentions,
        cfg.gate.min_accuracy,
        "facts.gate.min_accuracy",
        f"{paths.FACTS_METRICS} accuracy_seen_often",
    )
    return summary


def _write(asked, answers, correct, summary) -> None:
    paths.FACTS_OUTPUTS.mkdir(parents=True, exist_ok=True)
    with (paths.FACTS_OUTPUTS / "answers.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "mentions", "truth", "answer", "probability", "correct"])
        for f, (a, p), ok in zip(asked, answers, correct):
            writer.writerow([f["id"], f["mentions"], f["values"], a, f"{p:.6g}", int(ok)])
    write_json(paths.FACTS_METRICS, summary)


def _flat(summary: dict) -> dict[str, float]:
    out = {
        "ece_base": summary["ece_base"],
        "singleton_rate": summary["singleton_rate"],
        "hallucination_rate": summary["hallucination_rate"]["rate"],
        "delta_hall_rate": summary["delta_hall_rate"]["rate"],
    }
    for b, r in summary["error_rate_by_mentions"].items():
        if r["rate"] is not None:
            out[f"error_rate/mentions_{b.replace('+', 'plus')}"] = r["rate"]
    for t, s in summary["confidence_targets"].items():
        out[f"score/t_{t}"], out[f"abstain/t_{t}"] = s["score"], s["abstain_rate"]
    return out


def _print(summary: dict) -> None:
    rates = " ".join(
        f"{b}: {r['rate']:.3f}" for b, r in summary["error_rate_by_mentions"].items() if r["n"]
    )
    print(
        f"[facts] error rate by mentions {rates}; singleton rate "
        f"{summary['singleton_rate']:.3f} ({summary['share_stated_once']:.3f} of facts stated "
        f"once); Kalai's bound {summary['kalai_bound']['value']:+.3f}; ECE "
        f"{summary['ece_base']:.3f}",
        flush=True,
    )
    for t, s in summary["confidence_targets"].items():
        print(f"[facts] t = {t}: score {s['score']:+.3f}, abstains {s['abstain_rate']:.3f}")
