"""Training of the QA models through trl's SFTTrainer (HF Trainer underneath); generation
lives in :mod:`deltahall.qa.generate` and is re-exported here.

No I/O of our own: each epoch's metrics (``train/loss``, ``val/loss``, ``time/epoch_s``) reach
the caller through ``on_epoch(epoch, metrics)``, as in the coin experiment. The learning rate is
constant by default so that epoch k of one run is the k-epoch model of the paper's Table 1
(a decaying schedule would make a 4-epoch run's epoch 2 differ from a 2-epoch run).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from datasets import Dataset
from peft import PeftModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from trl import SFTConfig, SFTTrainer

from deltahall.qa import keys
from deltahall.qa.generate import Generation, generate_answers  # re-exported for callers
from deltahall.qa.model import render_pair

__all__ = ["Generation", "encode_pairs", "finetune_lora", "generate_answers", "pretrain_base"]

EpochCallback = Callable[[int, dict[str, float]], None]
Pair = tuple[str, str]  # (question, answer)


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase, pairs: Sequence[Pair], answer_only: bool
) -> Dataset:
    """input_ids of prompt + completion; labels −100 on the prompt when `answer_only`.

    Prompt and completion are tokenized apart so that the loss mask falls exactly on the
    answer tokens (and the template's end-of-turn token, so the model learns to stop).
    """
    rows = []
    for question, answer in pairs:
        prompt, completion = render_pair(tokenizer, question, answer)
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        rows.append({"input_ids": p + c, "labels": ([-100] * len(p) if answer_only else p) + c})
    return Dataset.from_list(rows)


class _EpochReporter(TrainerCallback):
    """Turns the Trainer's epoch-end logs into one ``on_epoch(epoch, metrics)`` call."""

    def __init__(self, on_epoch: EpochCallback | None, has_val: bool) -> None:
        self.on_epoch, self.has_val = on_epoch, has_val
        self.history: list[dict[str, float]] = []
        self.metrics: dict[str, float] = {}
        self.started = time.perf_counter()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any
    ) -> None:
        logs = logs or {}
        if "loss" in logs:  # mean of the epoch's per-batch losses
            self.metrics = {keys.TRAIN_LOSS: float(logs["loss"])}
        if "eval_loss" in logs:
            self.metrics[keys.VAL_LOSS] = float(logs["eval_loss"])
        if "eval_loss" in logs or ("loss" in logs and not self.has_val):
            self._emit(round(state.epoch))

    def _emit(self, epoch: int) -> None:
        metrics = {**self.metrics, keys.EPOCH_TIME: time.perf_counter() - self.started}
        self.history.append({"epoch": epoch, **metrics})
        if self.on_epoch is not None:
            self.on_epoch(epoch, metrics)


def _train(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train: Dataset,
    val: Dataset | None,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    on_epoch: EpochCallback | None,
    trainer_args: Mapping[str, Any] | None,
) -> list[dict[str, float]]:
    reporter = _EpochReporter(on_epoch, has_val=val is not None)
    with tempfile.TemporaryDirectory(prefix="deltahall-sft-") as out_dir:  # nothing is saved
        args = SFTConfig(
            output_dir=out_dir,
            num_train_epochs=epochs,
            learning_rate=lr,
            seed=seed,
            data_seed=seed,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=batch_size,
            lr_scheduler_type="constant",
            logging_strategy="epoch",
            eval_strategy="epoch" if val is not None else "no",
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            # trl's defaults target GPUs: bf16 and checkpointing only slow a CPU down
            bf16=False,
            activation_checkpointing=False,
            dataloader_pin_memory=torch.cuda.is_available(),
            dataset_kwargs={"skip_prepare_dataset": True},
            **dict(trainer_args or {}),
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train,
            eval_dataset=val,
            processing_class=tokenizer,
            callbacks=[reporter],
        )
        trainer.remove_callback(PrinterCallback)  # metrics go to on_epoch, not stdout
        trainer.train()
    model.eval()
    return reporter.history


def pretrain_base(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[Pair],
    epochs: int = 20,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
    trainer_args: Mapping[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Full-parameter causal-LM training of the tiny base on templated pairs (loss on all
    tokens), so that it writes text in the QA format before any LoRA fine-tuning."""
    return _train(
        model,
        tokenizer,
        encode_pairs(tokenizer, pairs, answer_only=False),
        None,
        epochs,
        lr,
        batch_size,
        seed,
        on_epoch,
        trainer_args,
    )


def finetune_lora(
    model: PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    train_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    on_epoch: EpochCallback | None = None,
    trainer_args: Mapping[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train the LoRA adapters of `model` (see :func:`deltahall.qa.model.add_lora`), loss
    on answer tokens only; ``on_epoch`` gets train/loss, val/loss and time/epoch_s."""
    if not isinstance(model, PeftModel):  # guard against silently fine-tuning every weight
        raise TypeError("finetune_lora needs a PeftModel; wrap the base with add_lora()")
    val = encode_pairs(tokenizer, val_pairs, answer_only=True) if val_pairs else None
    return _train(
        model,
        tokenizer,
        encode_pairs(tokenizer, train_pairs, answer_only=True),
        val,
        epochs,
        lr,
        batch_size,
        seed,
        on_epoch,
        trainer_args,
    )
