"""Stage `qa_pretrain` (paper §6.2): the base model the LoRA runs start from.

Default profile (qa.source: world): fit a byte-level BPE tokenizer and pretrain a tiny Qwen2 on
the world's statements and the FORMAT people's QA pairs, save it to outputs/qa/base, then ask
it every evaluation question: accuracy by mentions goes to metrics/qa/pretrain.json, and the
stage fails (after writing it) when the base is below qa.gate on facts it saw often.
qa.source: files pretrains on the bundled pairs (training questions, TruthfulQA's answers).
`paper` profile: check that the named model loads and record its name.
"""

from __future__ import annotations

import json
import shutil

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv
from deltahall.gate import check_knowledge_gate
from deltahall.metrics_file import write_json
from deltahall.qa import keys
from deltahall.qa.config import QAConfig
from deltahall.qa.data import qa_inputs, world_pretraining_text
from deltahall.qa.inputs import BASE_DIR, BASE_SPEC, load_qa_data, setup_torch
from deltahall.qa.knowledge import base_knowledge, knowledge_metrics
from deltahall.qa.model import (
    build_tiny_qwen2,
    build_tokenizer,
    corpus_pairs,
    load_pretrained,
    save_model,
)
from deltahall.qa.pretrain_text import pretrain_on_text
from deltahall.qa.train import pretrain_base
from deltahall.seeding import derive_seed, seed_everything
from deltahall.tracking import start_run


def _write_base_spec(cfg: QAConfig, extra: dict) -> None:
    BASE_DIR.mkdir(parents=True, exist_ok=True)
    BASE_SPEC.write_text(json.dumps({"pretrained": cfg.model.pretrained, **extra}, indent=2) + "\n")


def run_qa_pretrain(params: Params) -> dict:
    """Tiny profile: fit the tokenizer, build and pretrain the tiny Qwen2, save it to
    outputs/qa/base. Pretrained profile: check the model loads offline and record its name."""
    cfg = params.qa
    setup_torch(cfg)
    data = load_qa_data(cfg)  # fail on missing data before touching outputs
    if BASE_DIR.exists():
        shutil.rmtree(BASE_DIR)  # no stale weights beside a new spec
    if cfg.model.pretrained:
        model, _ = load_pretrained(
            cfg.model.pretrained, cfg.model.local_files_only, revision=cfg.model.revision or None
        )
        summary = {
            "pretrained": cfg.model.pretrained,
            "epochs": 0,
            "n_parameters": sum(p.numel() for p in model.parameters()),
        }
        _write_base_spec(cfg, {"n_parameters": summary["n_parameters"]})
        return _pretrain_summary(summary)
    if cfg.source == "world":  # statements, and the QA format learnt on other people
        texts, pairs = world_pretraining_text(), []
    else:  # validation questions stay out of the corpus: val/* measures answers never seen
        pairs = corpus_pairs(data.truthfulqa, data.train)
        texts = [f"Question: {q}\nAnswer: {a}" for q, a in pairs]
    # world: names open statements and sit inside questions; one tokenization for both
    tokenizer = build_tokenizer(texts, cfg.model.vocab_size, prefix_space=cfg.source == "world")
    m = cfg.model
    init_seed, train_seed = derive_seed("qa-base", m.seed), derive_seed("qa-pretrain", m.seed)
    model = build_tiny_qwen2(
        tokenizer,
        m.hidden_size,
        m.num_layers,
        m.num_heads,
        max_positions=m.max_positions,
        seed=init_seed,
    )
    seed_everything(train_seed)
    n_parameters = sum(p.numel() for p in model.parameters())
    run_params = {
        "init_seed": init_seed,
        "train_seed": train_seed,
        "source": cfg.source,
        "n_texts": len(texts),
        "n_parameters": n_parameters,
        "vocab": len(tokenizer),
        "model": m.model_dump(),
        "pretrain": cfg.pretrain.model_dump(),
    }
    columns = ["epoch", keys.TRAIN_LOSS, keys.EPOCH_TIME]
    with (
        HistoryCsv(paths.QA_PRETRAIN_HISTORY, columns) as rows,
        start_run(
            params,
            "qa_pretrain",
            "qa-pretrain-tiny",
            run_params,
            {"deltahall.stage": "qa_pretrain"},
            inputs=qa_inputs(cfg),
            system_metrics=True,
        ) as run,
    ):
        log = EpochLogger("[qa-pretrain]", cfg.pretrain.epochs, [keys.TRAIN_LOSS], run, rows)
        p = cfg.pretrain
        if pairs:
            history = pretrain_base(
                model, tokenizer, pairs, p.epochs, p.lr, p.batch_size, train_seed, log
            )
        else:
            history = pretrain_on_text(
                model,
                tokenizer,
                texts,
                p.epochs,
                p.lr,
                p.batch_size,
                train_seed,
                log,
                decay_epochs=p.decay_epochs,
            )
        save_model(model, tokenizer, BASE_DIR)
        _write_base_spec(cfg, {"n_parameters": n_parameters, "vocab": len(tokenizer)})
        summary = {
            "pretrained": "",
            "source": cfg.source,
            "epochs": len(history),
            "n_texts": len(texts),
            "n_parameters": n_parameters,
            keys.TRAIN_LOSS: history[-1][keys.TRAIN_LOSS],
        }
        if cfg.source == "world":
            summary.update(base_knowledge(params, model, tokenizer, data))
            run.log_metrics(knowledge_metrics(summary))
        _pretrain_summary(summary)
    if cfg.source == "world":
        check_knowledge_gate(
            summary["accuracy_seen_often"],
            cfg.gate.mentions,
            cfg.gate.min_accuracy,
            "qa.gate.min_accuracy",
            f"{paths.QA_METRICS / 'pretrain.json'} accuracy_seen_often",
        )
        print(
            f"[qa-pretrain] base accuracy {summary['accuracy_seen_often']['rate']:.3f} on facts "
            f"stated >= {cfg.gate.mentions} times (gate {cfg.gate.min_accuracy}); by mentions "
            + " ".join(
                f"{b}: {r['rate']:.3f}"
                for b, r in summary["accuracy_by_mentions"].items()
                if r["n"]
            ),
            flush=True,
        )
    return summary


def _pretrain_summary(summary: dict) -> dict:
    out = paths.QA_METRICS / "pretrain.json"
    write_json(out, summary)
    return summary
