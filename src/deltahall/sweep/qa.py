"""Sweep objective of the QA experiment (paper §6.2): one LoRA fine-tuning of the QA base.

The base is the one `qa_pretrain` made (outputs/qa/base); the knobs (sweep.qa.space) override
qa.lora and qa.train, `epochs` the number of LoRA epochs (default: max of qa.grid.epochs).
Every epoch answers the held-out questions: val/loss beside val/delta_hall_rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deltahall import scoring
from deltahall.config import Params
from deltahall.qa import keys
from deltahall.qa.config import QAConfig
from deltahall.qa.metrics import open_examples
from deltahall.seeding import derive_seed, seed_everything
from deltahall.similarity import max_resemblance
from deltahall.sweep.space import override, probes
from deltahall.sweep.trial import EpochCallback, SeedRun

LOSS = keys.TRAIN_LOSS  # the paper's claim is about the training loss (val/loss rises)
RATE = keys.DELTA_RATE
SCORE = "max difflib resemblance of each held-out answer to its valid answers"


_DATA: dict[str, Any] = {}


def _inputs():  # transformers is slow to import: only when a QA sweep runs
    from deltahall.qa import inputs

    return inputs


def base_params(params: Params) -> dict[str, Any]:
    return params.qa.model_dump(mode="json")


def _data(cfg: QAConfig):
    """The QA split of qa_train (same questions held out), loaded once per process."""
    key = cfg.model_dump_json()
    if key not in _DATA:
        _DATA[key] = _inputs().load_qa_data(cfg)
    return _DATA[key]


def check(params: Params) -> None:
    """Fail before the first trial if the base or the data are missing, or a corner of the
    space gives an invalid LoRA/train config."""
    _inputs().check_base(params.qa)
    _data(params.qa)
    for knobs in probes(params.sweep.qa.space):
        _configs(params, knobs)


def _configs(params: Params, knobs: dict[str, Any]):
    where = "sweep.qa.space"
    return override(params.qa.lora, knobs, where), override(params.qa.train, knobs, where)


def train(params: Params, knobs: dict[str, Any], seed: int, on_epoch: EpochCallback) -> SeedRun:
    from deltahall.qa.model import add_lora
    from deltahall.qa.qa_train import two_answer_pairs
    from deltahall.qa.train import finetune_lora, generate_answers

    cfg, inputs = params.qa, _inputs()
    lora_cfg, train_cfg = _configs(params, knobs)
    epochs = int(knobs.get("epochs", max(cfg.grid.epochs)))
    data = _data(cfg)
    questions = [q.question for q in data.val]
    valid = [q.answers for q in data.val]
    inputs.setup_torch(cfg)
    model, tokenizer = inputs.load_base(cfg)
    train_seed = derive_seed("sweep-qa-train", seed)
    seed_everything(train_seed)  # LoRA's A matrices come from the global RNG
    lora = add_lora(model, lora_cfg.r, lora_cfg.alpha, lora_cfg.dropout, lora_cfg.target_modules)
    history: list[dict[str, float]] = []
    last: dict[str, list[str]] = {}

    def record(epoch: int, metrics: dict[str, float]) -> None:
        answers = [
            g.answer
            for g in generate_answers(
                lora,
                tokenizer,
                questions,
                cfg.decoding,
                derive_seed("sweep-qa-generate", seed, epoch),
                cfg.eval.max_new_tokens,
                cfg.eval.batch_size,
                cfg.eval.temperature,
                cfg.eval.top_p,
            )
        ]
        flags = scoring.per_example(open_examples(data.val, answers), cfg.eval.delta, ())
        rate = float(np.mean(flags["delta_hallucinated"]))
        row = {**metrics, RATE: rate}
        history.append({"epoch": epoch, **row})
        last["answers"] = answers
        on_epoch(epoch, row)

    finetune_lora(
        lora,
        tokenizer,
        two_answer_pairs(data.train),
        two_answer_pairs(data.val),
        epochs,
        train_cfg.lr,
        train_cfg.batch_size,
        train_seed,
        record,
    )
    scores = [round(max_resemblance(a, v), 5) for a, v in zip(last["answers"], valid)]
    return SeedRun(history, scores, cfg.eval.delta)
