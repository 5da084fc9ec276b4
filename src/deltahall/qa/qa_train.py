"""Stage `qa_train` (paper §6.2, Table 1): LoRA fine-tuning of every (epochs, seed) cell.

Read params.qa, call the pure core (qa/model, qa/train, qa/metrics), write files first (the
history CSV flushed every epoch, per-question answers), then mirror to MLflow.
"""

from __future__ import annotations

import copy
import importlib.metadata
import math
import shutil
import time

import numpy as np
import pandas as pd
import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger, HistoryCsv
from deltahall.metrics_file import across_seeds, write_metrics
from deltahall.qa import keys
from deltahall.qa.config import QAConfig
from deltahall.qa.data import qa_inputs
from deltahall.qa.inputs import QAData, check_base, load_base, load_qa_data, setup_torch
from deltahall.qa.metrics import open_examples, per_question_scores, truthfulqa_examples
from deltahall.qa.model import add_lora
from deltahall.qa.schema import OpenQuestion
from deltahall.qa.train import finetune_lora, generate_answers
from deltahall.scoring import estimates
from deltahall.seeding import derive_seed, seed_everything
from deltahall.theory.kalai import expected_calibration_error
from deltahall.tracking import start_run


def two_answer_pairs(questions: list[OpenQuestion]) -> list[tuple[str, str]]:
    """Each question twice, once per valid answer: the model sees both modes (paper §6.2)."""
    return [(q.question, answer) for q in questions for answer in q.answers]


def evaluate(
    model, tokenizer, cfg: QAConfig, data: QAData, seed: int, epoch: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """Answer the held-out and the TruthfulQA questions; every rate with a bootstrap CI and
    the per-question table. Seeds depend on (seed, epoch) only, never on the cell."""
    ev = cfg.eval

    def answer(questions: list[str]):
        return generate_answers(
            model,
            tokenizer,
            questions,
            cfg.decoding,
            derive_seed("qa-generate", seed, epoch),
            ev.max_new_tokens,
            ev.batch_size,
            ev.temperature,
            ev.top_p,
        )

    val_gen = answer([q.question for q in data.val])
    tqa_gen = answer([r.question for r in data.truthfulqa])
    val, tqa = per_question_scores(
        open_examples(data.val, [g.answer for g in val_gen], [g.confidence for g in val_gen]),
        truthfulqa_examples(data.truthfulqa, [g.answer for g in tqa_gen]),
        ev.delta,
        ev.confidence_targets,
    )
    confidence = np.array([g.confidence for g in val_gen])
    metrics = {
        keys.CONFIDENCE: float(confidence.mean()),
        keys.ECE: expected_calibration_error(confidence, val[keys.DELTA_RATE] == 0.0, ev.ece_bins)[
            0
        ],
    }
    boot_seed = derive_seed("qa-bootstrap", seed, epoch)
    for name, est in estimates({**val, **tqa}, ev.n_boot, ev.ci_level, boot_seed).items():
        metrics[name], metrics[f"{name}_low"], metrics[f"{name}_high"] = (
            est.value,
            est.low,
            est.high,
        )
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "split": "val",
                    "question": [q.question for q in data.val],
                    "valid_answers": [" | ".join(q.answers) for q in data.val],
                    "answer": [g.answer for g in val_gen],
                    "confidence": [g.confidence for g in val_gen],
                    **val,
                }
            ),
            pd.DataFrame(
                {
                    "split": "truthfulqa",
                    "question": [r.question for r in data.truthfulqa],
                    "answer": [g.answer for g in tqa_gen],
                    "confidence": [g.confidence for g in tqa_gen],
                    **tqa,
                }
            ),
        ],
        ignore_index=True,
    )
    return metrics, table


def _train_seed(
    cfg: QAConfig, data: QAData, seed: int, cells: list[int], history: HistoryCsv
) -> tuple[dict[int, dict], dict[int, pd.DataFrame], dict[int, torch.nn.Module]]:
    """LoRA-train one seed for max(cells) epochs, evaluating after every epoch (and before
    the first: epoch 0, Table 1's "Original"); rows for every cell that includes the epoch,
    and a copy of the model at each cell's last epoch."""
    model, tokenizer = load_base(cfg)
    train_seed = derive_seed("qa-train", seed)
    seed_everything(train_seed)  # LoRA's A matrices come from the global RNG
    lora = add_lora(model, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules)
    rows: dict[int, dict] = {}
    tables: dict[int, pd.DataFrame] = {}
    models: dict[int, torch.nn.Module] = {}
    # MLflow comes per cell once the seed is trained (_track_cell): one training serves cells.
    log = EpochLogger(f"[qa-train seed={seed}]", max(cells), keys.HEADLINE, None, history)

    def record(epoch: int, metrics: dict[str, float]) -> None:
        started = time.perf_counter()
        scores, table = evaluate(lora, tokenizer, cfg, data, seed, epoch)
        rows[epoch] = row = {**metrics, **scores, keys.EVAL_TIME: time.perf_counter() - started}
        log(
            epoch,
            row,
            f" (eval {row[keys.EVAL_TIME]:.1f}s)",
            rows=[{"epochs": cell, "seed": seed} for cell in cells if epoch <= cell],
        )
        if epoch in cells or epoch == 0:  # epoch 0: the base's calibration (qa_report)
            tables[epoch] = table
            table.to_csv(paths.qa_answers(epoch, seed), index=False)
        if epoch in cells:  # the cell's model as it is now, for its MLflow run (_track_cell)
            models[epoch] = copy.deepcopy(lora).eval()

    record(0, {})
    finetune_lora(
        lora,
        tokenizer,
        two_answer_pairs(data.train),
        two_answer_pairs(data.val),
        max(cells),
        cfg.train.lr,
        cfg.train.batch_size,
        train_seed,
        record,
    )
    return rows, tables, models


def _track_cell(
    params: Params,
    data: QAData,
    cell: int,
    seed: int,
    history: dict[int, dict],
    table: pd.DataFrame,
    model: torch.nn.Module,
) -> None:
    """One MLflow run per (epochs, seed) cell: epochs 0..cell at step=epoch, the answers,
    and the cell's LoRA model as the run's MLflow model."""
    cfg = params.qa
    run_params = {
        "epochs": cell,
        "seed": seed,
        "train_seed": derive_seed("qa-train", seed),
        "split_seed": derive_seed("qa-split", cfg.split_seed),
        "n_train_pairs": 2 * len(data.train),
        "n_val_questions": len(data.val),
        "n_truthfulqa": len(data.truthfulqa),
        "qa": cfg.model_dump(exclude={"grid"}),
    }
    tags = {
        "deltahall.stage": "qa_train",
        "epochs": cell,
        "seed": seed,
        "model": cfg.model.pretrained or "tiny-qwen2",
        "decoding": cfg.decoding,
        "share_prefix": cfg.grid.share_prefix,
    }
    inputs = [*qa_inputs(cfg), paths.QA_BASE]
    with start_run(params, "qa", f"qa-e{cell}-seed{seed}", run_params, tags, inputs=inputs) as run:
        run.expect_model()  # the epochs' metrics link to the cell's model
        for epoch in range(cell + 1):
            run.log_metrics(
                {k: v for k, v in history[epoch].items() if math.isfinite(v)}, step=epoch
            )
        # Run has no log_table wrapper; _call keeps its "tracker errors never kill" rule.
        run._call("log_table", data=table, artifact_file=f"answers/e{cell}-seed{seed}.json")
        run.log_artifact(paths.qa_answers(cell, seed), "answers")
        requirements = [f"{p}=={importlib.metadata.version(p)}" for p in ("transformers", "peft")]
        run.log_model(model, requirements)


def run_qa_train(params: Params) -> dict:
    """Every (epochs, seed) cell of qa.grid; per-epoch metrics to plots/qa/history.csv as
    they come, one MLflow run per cell once its seed is trained, the cells' final metrics to
    metrics/qa/train.json (mean and std over seeds per epochs cell; each cell's in
    train.per_seed.json).

    Why one training per seed (grid.share_prefix, default): the LR is constant, the epoch-k
    data order and LoRA's init depend on the seed only, and evaluation seeds on (seed, epoch);
    so epoch k of the max(epochs) run IS the k-epoch run (a test checks it against
    share_prefix: false, which trains every cell from the base), for max/sum of the training
    (4/9 on Table 1's 2, 3, 4 epochs grid).
    """
    cfg = params.qa
    setup_torch(cfg)
    check_base(cfg)
    data = load_qa_data(cfg)
    cells = sorted(cfg.grid.epochs)
    plan = (
        [(seed, cells) for seed in cfg.grid.seeds]
        if cfg.grid.share_prefix
        else [(seed, [cell]) for seed in cfg.grid.seeds for cell in cells]
    )
    shutil.rmtree(paths.QA_ANSWERS, ignore_errors=True)  # no stale cells of an earlier grid
    paths.QA_ANSWERS.mkdir(parents=True)
    finals: dict[str, dict[str, float]] = {}
    columns = ["epochs", "seed", "epoch", *keys.epoch_keys(cfg.eval.confidence_targets)]
    with HistoryCsv(paths.QA_HISTORY, columns) as history:
        for seed, group in plan:
            rows, tables, models = _train_seed(cfg, data, seed, group, history)
            for cell in group:
                _track_cell(params, data, cell, seed, rows, tables[cell], models.pop(cell))
                finals[f"e{cell}-seed{seed}"] = {k: rows[cell][k] for k in keys.HEADLINE}
    by_cell = {
        f"e{cell}": across_seeds({k: v for k, v in finals.items() if k.startswith(f"e{cell}-")})
        for cell in cells
    }
    write_metrics(paths.QA_METRICS / "train.json", by_cell, per_seed=finals)
    return finals
