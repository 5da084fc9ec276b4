"""The QA DVC stages (paper §6.2): `deltahall qa-pretrain` and `deltahall qa-train`.

Read params.qa, call the pure core (qa/model, qa/train, qa/metrics), write files first (DVC
outputs, CSV histories flushed every epoch), then mirror to MLflow.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers.utils import logging as hf_logging

from deltahall.config import Params
from deltahall.qa.config import QAConfig
from deltahall.qa.metrics import per_question_scores
from deltahall.qa.model import (add_lora, build_tiny_qwen2, build_tokenizer, corpus_pairs,
                                load_pretrained, save_model)
from deltahall.qa.schema import OpenQuestion, TruthfulQARow, load_open_questions, load_truthfulqa
from deltahall.qa.train import finetune_lora, generate_answers, pretrain_base
from deltahall.seeding import derive_seed, seed_everything
from deltahall.stats import bootstrap_ci
from deltahall.tracking import start_run

OUTPUTS, METRICS, PLOTS = Path("outputs/qa"), Path("metrics/qa"), Path("plots/qa")
BASE_DIR = OUTPUTS / "base"
BASE_SPEC = BASE_DIR / "deltahall_base.json"  # what qa_pretrain made; qa_train checks it
PRETRAIN_HISTORY = PLOTS / "pretrain_history.csv"
HISTORY = PLOTS / "history.csv"   # one row per (epochs cell, seed, epoch); epoch 0 = the base
ANSWERS = OUTPUTS / "answers"     # per-question outputs of each cell's final epoch
TQA_RATES = ["resemblance/incorrect", "resemblance/correct", "resemblance/diff", "truthful/acc"]
HEADLINE = ["train/loss", "val/loss", "val/delta_hall_rate", *TQA_RATES]


@dataclass(frozen=True)
class QAData:
    train: list[OpenQuestion]       # LoRA training set; also in the tiny base's pretraining
    val: list[OpenQuestion]         # held out from both: val/loss, val/delta_hall_rate
    truthfulqa: list[TruthfulQARow]  # resemblance/*, truthful/acc


def load_qa_data(cfg: QAConfig) -> QAData:
    """Both data files, the split by question (seeded, the same in every stage)."""
    for path in (cfg.questions_path, cfg.truthfulqa_path):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: QA data missing; run `deltahall data` first "
                                    f"(or fix qa.questions_path / qa.truthfulqa_path)")
    questions = load_open_questions(cfg.questions_path)[:cfg.max_questions or None]
    rows = load_truthfulqa(cfg.truthfulqa_path)[:cfg.max_truthfulqa or None]
    n_val = round(len(questions) * cfg.val_fraction)
    if not 1 <= n_val < len(questions):
        raise ValueError(f"qa.val_fraction {cfg.val_fraction} leaves no train or no val "
                         f"question among {len(questions)}")
    rng = np.random.default_rng(derive_seed("qa-split", cfg.split_seed))
    order = rng.permutation(len(questions))
    is_val = np.zeros(len(questions), dtype=bool)
    is_val[order[:n_val]] = True
    return QAData([q for q, v in zip(questions, is_val) if not v],
                  [q for q, v in zip(questions, is_val) if v], rows)


def two_answer_pairs(questions: list[OpenQuestion]) -> list[tuple[str, str]]:
    """Each question twice, once per valid answer: the model sees both modes (paper §6.2)."""
    return [(q.question, answer) for q in questions for answer in q.answers]


def check_base(cfg: QAConfig) -> None:
    if not BASE_SPEC.exists():
        raise FileNotFoundError(f"{BASE_DIR}: no QA base model; run `deltahall qa-pretrain` first")
    made_for = json.loads(BASE_SPEC.read_text())["pretrained"]
    if made_for != cfg.model.pretrained:
        raise ValueError(f"{BASE_SPEC}: made for qa.model.pretrained={made_for!r}, params say "
                         f"{cfg.model.pretrained!r}; rerun `deltahall qa-pretrain`")


def load_base(cfg: QAConfig):
    """(model, tokenizer) that qa_pretrain made, on the GPU when there is one."""
    check_base(cfg)
    device = "cuda" if torch.cuda.is_available() else None
    if cfg.model.pretrained:
        return load_pretrained(cfg.model.pretrained, cfg.model.local_files_only,
                               revision=cfg.model.revision or None, device=device)
    return load_pretrained(BASE_DIR, local_files_only=True, device=device)


def _setup(cfg: QAConfig) -> None:
    torch.set_num_threads(cfg.torch_threads)
    hf_logging.disable_progress_bar()  # per-shard bars would drown the per-epoch lines


def _write_base_spec(cfg: QAConfig, extra: dict) -> None:
    BASE_DIR.mkdir(parents=True, exist_ok=True)
    BASE_SPEC.write_text(json.dumps({"pretrained": cfg.model.pretrained, **extra}, indent=2) + "\n")


def run_qa_pretrain(params: Params) -> dict:
    """Tiny profile: fit the tokenizer, build and pretrain the tiny Qwen2, save it to
    outputs/qa/base. Pretrained profile: check the model loads offline and record its name."""
    cfg = params.qa
    _setup(cfg)
    data = load_qa_data(cfg)  # fail on missing data before touching outputs
    if BASE_DIR.exists():
        shutil.rmtree(BASE_DIR)  # no stale weights beside a new spec
    if cfg.model.pretrained:
        model, _ = load_pretrained(cfg.model.pretrained, cfg.model.local_files_only,
                                   revision=cfg.model.revision or None)
        summary = {"pretrained": cfg.model.pretrained, "epochs": 0,
                   "n_parameters": sum(p.numel() for p in model.parameters())}
        _write_base_spec(cfg, {"n_parameters": summary["n_parameters"]})
        return _pretrain_summary(summary)
    # Validation questions stay out of the corpus: val/* then measures answers never seen.
    pairs = corpus_pairs(data.truthfulqa, data.train)
    tokenizer = build_tokenizer([f"Question: {q}\nAnswer: {a}" for q, a in pairs],
                                cfg.model.vocab_size)
    m = cfg.model
    init_seed, train_seed = derive_seed("qa-base", m.seed), derive_seed("qa-pretrain", m.seed)
    model = build_tiny_qwen2(tokenizer, m.hidden_size, m.num_layers, m.num_heads,
                             max_positions=m.max_positions, seed=init_seed)
    seed_everything(train_seed)
    n_parameters = sum(p.numel() for p in model.parameters())
    run_params = {"init_seed": init_seed, "train_seed": train_seed, "n_pairs": len(pairs),
                  "n_parameters": n_parameters, "vocab": len(tokenizer),
                  "model": m.model_dump(), "pretrain": cfg.pretrain.model_dump()}
    PRETRAIN_HISTORY.parent.mkdir(parents=True, exist_ok=True)
    with PRETRAIN_HISTORY.open("w", newline="") as fh, start_run(
            params, "qa_pretrain", "qa-pretrain-tiny", run_params,
            {"deltahall.stage": "qa_pretrain"}) as run:
        writer = csv.DictWriter(fh, fieldnames=["epoch", "train/loss", "time/epoch_s"])
        writer.writeheader()

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            writer.writerow({"epoch": epoch, **metrics})
            fh.flush()  # files first: a crash keeps every finished epoch
            run.log_metrics(metrics, step=epoch)
            print(f"[qa-pretrain] epoch {epoch}/{cfg.pretrain.epochs} train/loss "
                  f"{metrics['train/loss']:.4f} ({metrics['time/epoch_s']:.1f}s)", flush=True)

        p = cfg.pretrain
        history = pretrain_base(model, tokenizer, pairs, p.epochs, p.lr, p.batch_size,
                                train_seed, on_epoch)
        save_model(model, tokenizer, BASE_DIR)
        _write_base_spec(cfg, {"n_parameters": n_parameters, "vocab": len(tokenizer)})
        summary = {"pretrained": "", "epochs": len(history), "n_pairs": len(pairs),
                   "n_parameters": n_parameters, "train/loss": history[-1]["train/loss"]}
        _pretrain_summary(summary)
    return summary


def _pretrain_summary(summary: dict) -> dict:
    out = METRICS / "pretrain.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


# --------------------------------------------------------------------------- qa_train
def rate_names(cfg: QAConfig) -> list[str]:
    """The per-epoch rates, each logged with a bootstrap CI (`_low`, `_high`)."""
    targets = [f"val/{kind}_{t:g}" for t in cfg.eval.confidence_targets
               for kind in ("score", "abstain")]
    return ["val/delta_hall_rate", *targets, *TQA_RATES]


def history_columns(cfg: QAConfig) -> list[str]:
    rates = rate_names(cfg)
    return ["epochs", "seed", "epoch", "train/loss", "val/loss", *rates,
            *[f"{r}_{end}" for r in rates for end in ("low", "high")],
            "val/confidence", "time/epoch_s", "time/eval_s"]


def evaluate(model, tokenizer, cfg: QAConfig, data: QAData, seed: int,
             epoch: int) -> tuple[dict[str, float], pd.DataFrame]:
    """Answer the held-out and the TruthfulQA questions; every rate with a bootstrap CI and
    the per-question table. Seeds depend on (seed, epoch) only, never on the cell."""
    ev = cfg.eval

    def answer(questions: list[str]):
        return generate_answers(model, tokenizer, questions, cfg.decoding,
                                derive_seed("qa-generate", seed, epoch), ev.max_new_tokens,
                                ev.batch_size, ev.temperature, ev.top_p)

    val_gen = answer([q.question for q in data.val])
    tqa_gen = answer([r.question for r in data.truthfulqa])
    val, tqa = per_question_scores(
        [g.answer for g in val_gen], [q.answers for q in data.val],
        [g.confidence for g in val_gen], [g.answer for g in tqa_gen], data.truthfulqa,
        ev.delta, ev.confidence_targets)
    metrics = {"val/confidence": float(np.mean([g.confidence for g in val_gen]))}
    boot_seed = derive_seed("qa-bootstrap", seed, epoch)
    for name, values in {**val, **tqa}.items():
        metrics[name], metrics[f"{name}_low"], metrics[f"{name}_high"] = bootstrap_ci(
            values, ev.n_boot, ev.ci_level, boot_seed)
    table = pd.concat([
        pd.DataFrame({"split": "val", "question": [q.question for q in data.val],
                      "valid_answers": [" | ".join(q.answers) for q in data.val],
                      "answer": [g.answer for g in val_gen],
                      "confidence": [g.confidence for g in val_gen], **val}),
        pd.DataFrame({"split": "truthfulqa", "question": [r.question for r in data.truthfulqa],
                      "answer": [g.answer for g in tqa_gen],
                      "confidence": [g.confidence for g in tqa_gen], **tqa})],
        ignore_index=True)
    return metrics, table


def answers_path(cell: int, seed: int) -> Path:
    return ANSWERS / f"e{cell}-seed{seed}.csv"


def _train_seed(cfg: QAConfig, data: QAData, seed: int, cells: list[int], writer, fh
                ) -> tuple[dict[int, dict], dict[int, pd.DataFrame]]:
    """LoRA-train one seed for max(cells) epochs, evaluating after every epoch (and before
    the first: epoch 0, Table 1's "Original"); rows for every cell that includes the epoch."""
    model, tokenizer = load_base(cfg)
    train_seed = derive_seed("qa-train", seed)
    seed_everything(train_seed)  # LoRA's A matrices come from the global RNG
    lora = add_lora(model, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules)
    history: dict[int, dict] = {}
    tables: dict[int, pd.DataFrame] = {}

    def record(epoch: int, metrics: dict[str, float]) -> None:
        started = time.perf_counter()
        scores, table = evaluate(lora, tokenizer, cfg, data, seed, epoch)
        history[epoch] = row = {**metrics, **scores, "time/eval_s": time.perf_counter() - started}
        for cell in cells:
            if epoch <= cell:
                writer.writerow({"epochs": cell, "seed": seed, "epoch": epoch, **row})
        fh.flush()  # files first: a crash keeps every finished epoch
        if epoch in cells:
            tables[epoch] = table
            table.to_csv(answers_path(epoch, seed), index=False)
        print(f"[qa-train seed={seed}] epoch {epoch}/{max(cells)} " + " ".join(
            f"{k} {row[k]:.4f}" for k in HEADLINE if k in row) +
            f" (eval {row['time/eval_s']:.1f}s)", flush=True)

    record(0, {})
    finetune_lora(lora, tokenizer, two_answer_pairs(data.train), two_answer_pairs(data.val),
                  max(cells), cfg.train.lr, cfg.train.batch_size, train_seed, record)
    return history, tables


def _track_cell(params: Params, data: QAData, cell: int, seed: int, history: dict[int, dict],
                table: pd.DataFrame) -> None:
    """One MLflow run per (epochs, seed) cell: epochs 0..cell at step=epoch, the answers."""
    cfg = params.qa
    run_params = {"epochs": cell, "seed": seed, "train_seed": derive_seed("qa-train", seed),
                  "split_seed": derive_seed("qa-split", cfg.split_seed),
                  "n_train_pairs": 2 * len(data.train), "n_val_questions": len(data.val),
                  "n_truthfulqa": len(data.truthfulqa), "qa": cfg.model_dump(exclude={"grid"})}
    tags = {"deltahall.stage": "qa_train", "epochs": cell, "seed": seed,
            "model": cfg.model.pretrained or "tiny-qwen2", "decoding": cfg.decoding,
            "share_prefix": cfg.grid.share_prefix}
    with start_run(params, "qa", f"qa-e{cell}-seed{seed}", run_params, tags) as run:
        for epoch in range(cell + 1):
            run.log_metrics({k: v for k, v in history[epoch].items() if math.isfinite(v)},
                            step=epoch)
        # Run has no log_table wrapper; _call keeps its "tracker errors never kill" rule.
        run._call("log_table", data=table, artifact_file=f"answers/e{cell}-seed{seed}.json")
        run.log_artifact(answers_path(cell, seed), "answers")


def run_qa_train(params: Params) -> dict:
    """Every (epochs, seed) cell of qa.grid; per-epoch metrics to plots/qa/history.csv as
    they come, one MLflow run per cell once its seed is trained, the cells' final metrics to
    metrics/qa/train.json.

    Why one training per seed (grid.share_prefix, default): the LR is constant, the epoch-k
    data order and LoRA's init depend on the seed only, and evaluation seeds on (seed, epoch);
    so epoch k of the max(epochs) run IS the k-epoch run (a test checks it against
    share_prefix: false, which trains every cell from the base), for max/sum of the training
    (4/9 on Table 1's 2, 3, 4 epochs grid).
    """
    cfg = params.qa
    _setup(cfg)
    check_base(cfg)
    data = load_qa_data(cfg)
    cells = sorted(cfg.grid.epochs)
    plan = ([(seed, cells) for seed in cfg.grid.seeds] if cfg.grid.share_prefix
            else [(seed, [cell]) for seed in cfg.grid.seeds for cell in cells])
    shutil.rmtree(ANSWERS, ignore_errors=True)  # no stale cells from an earlier grid
    ANSWERS.mkdir(parents=True)
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    finals: dict[str, dict[str, float]] = {}
    with HISTORY.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=history_columns(cfg))
        writer.writeheader()
        for seed, group in plan:
            history, tables = _train_seed(cfg, data, seed, group, writer, fh)
            for cell in group:
                _track_cell(params, data, cell, seed, history, tables[cell])
                finals[f"e{cell}-seed{seed}"] = {k: history[cell][k] for k in HEADLINE}
    out = METRICS / "train.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finals, indent=2, sort_keys=True) + "\n")
    return finals
