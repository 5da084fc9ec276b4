"""Typed params of the QA experiment (paper §6.2): the `qa:` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from deltahall.strict import Strict


class QAModelConfig(Strict):
    # "" = a tiny Qwen2 built and pretrained by qa_pretrain (default: CPU, no download);
    # else a hub name or local dir (paper: Qwen/Qwen1.5-1.8B-Chat, Qwen/Qwen2.5-7B-Instruct).
    pretrained: str
    revision: str  # hub revision of `pretrained`; "" = the default branch
    local_files_only: bool  # never download unless a profile says so
    # The tiny model (ignored when `pretrained` is set).
    vocab_size: int = Field(ge=258, le=65_536)  # byte-level BPE: 256 bytes + EOS + merges
    hidden_size: int = Field(ge=8, le=8192)
    num_layers: int = Field(ge=1, le=64)
    num_heads: int = Field(ge=1, le=64)
    max_positions: int = Field(ge=32, le=32_768)
    seed: int

    @model_validator(mode="after")
    def _heads_divide_width(self) -> QAModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_heads ({self.num_heads})"
            )
        return self


class QAPretrainConfig(Strict):
    """Full-parameter pretraining of the tiny base (skipped for a pretrained model)."""

    epochs: int = Field(ge=1, le=10_000)
    lr: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=100_000)
    # qa.source world: the rate falls linearly to 0 over the last decay_epochs (files: unused)
    decay_epochs: int = Field(ge=0, le=10_000)

    @model_validator(mode="after")
    def _decay_within(self) -> QAPretrainConfig:
        if self.decay_epochs > self.epochs:
            raise ValueError(f"decay_epochs ({self.decay_epochs}) exceeds epochs ({self.epochs})")
        return self


class QALoraConfig(Strict):
    r: int = Field(ge=1, le=1024)
    alpha: int = Field(ge=1, le=4096)
    dropout: float = Field(ge=0.0, lt=1.0)
    target_modules: list[str] = Field(min_length=1)


class QATrainConfig(Strict):
    """LoRA fine-tuning on the two-answer pairs; the LR is constant (see qa/train.py)."""

    lr: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=100_000)


class QAGridConfig(Strict):
    # Table 1: 2, 3 and 4 epochs x 2 seeds; one MLflow run per (epochs, seed) cell.
    epochs: list[int] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    # true: train each seed once to max(epochs) and record cell E from epochs 0..E (exact with
    # the constant LR, see qa/qa_train.py); false: train every cell from the base on its own.
    share_prefix: bool

    @model_validator(mode="after")
    def _valid_lists(self) -> QAGridConfig:
        if any(not 1 <= e <= 1000 for e in self.epochs):
            raise ValueError(f"epochs entries must be in 1..1000 (got {self.epochs})")
        if len(set(self.epochs)) != len(self.epochs) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("epochs and seeds must not repeat values")
        return self


class QAEvalConfig(Strict):
    # An answer δ-hallucinates iff its resemblance to each valid answer is <= delta.
    delta: float = Field(ge=0.0, lt=1.0)
    # Kalai et al.'s confidence targets t: answer iff confidence > t, wrong costs t/(1-t).
    confidence_targets: list[float] = Field(min_length=1)
    max_new_tokens: int = Field(ge=1, le=4096)
    batch_size: int = Field(ge=1, le=4096)
    temperature: float = Field(gt=0.0, le=10.0)  # sampled decoding only
    top_p: float = Field(gt=0.0, le=1.0)  # sampled decoding only
    ece_bins: int = Field(ge=2, le=100)  # equal-width bins of the calibration error
    n_boot: int = Field(ge=10, le=100_000)  # bootstrap resamples for every CI
    ci_level: float = Field(gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _valid_targets(self) -> QAEvalConfig:
        if any(not 0.0 <= t < 1.0 for t in self.confidence_targets):
            raise ValueError(
                f"confidence_targets must lie in [0, 1) (got {self.confidence_targets})"
            )
        return self


class QAGateConfig(Strict):
    """World only: the base must know what it saw often before any fine-tuning runs."""

    mentions: int = Field(ge=1)  # facts stated at least this many times ...
    min_accuracy: float = Field(ge=0.0, le=1.0)  # ... answered right at least this often


class QAConfig(Strict):
    # world: the world stage's questions (outputs/world), its statements as pretraining text;
    # files: questions_path split by val_fraction, truthfulqa_path (the paper's data)
    source: Literal["world", "files"]
    questions_path: str  # files: two valid answers per question
    truthfulqa_path: str  # files: paper: the real 817-row file
    max_questions: int = Field(ge=0)  # 0 = all; the first N questions (smoke runs)
    max_truthfulqa: int = Field(ge=0)  # 0 = all; the first N TruthfulQA rows
    # files: held-out questions, never in pretraining nor LoRA training (val/* metrics).
    val_fraction: float = Field(gt=0.0, lt=1.0)
    split_seed: int
    decoding: Literal["greedy", "sampled"]
    torch_threads: int = Field(ge=1, le=256)
    model: QAModelConfig
    pretrain: QAPretrainConfig
    gate: QAGateConfig
    lora: QALoraConfig
    train: QATrainConfig
    grid: QAGridConfig
    eval: QAEvalConfig
