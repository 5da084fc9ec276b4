"""Every path the stages read and write, declared once (dvc.yaml names the same files).

Relative to the project root, where DVC runs the stages. Stage modules import their paths from
here, never from another stage module (which would pull in its torch and models for a path).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
VALIDATE_STAMP = Path("outputs/validate/ok")

# coin aggregation (paper §6.1)
COIN_OUTPUTS, COIN_METRICS, COIN_PLOTS = (
    Path("outputs/coin"),
    Path("metrics/coin"),
    Path("plots/coin"),
)


def coin_data(variant: str, n_choose: int, seed: int) -> Path:
    return COIN_OUTPUTS / variant / f"n{n_choose}" / "data" / f"seed{seed}.npz"


def coin_model(variant: str, n_choose: int, seed: int) -> Path:
    return COIN_OUTPUTS / variant / f"n{n_choose}" / "models" / f"seed{seed}.pt"


def coin_history(variant: str, n_choose: int) -> Path:
    return COIN_PLOTS / "history" / f"{variant}_n{n_choose}.csv"


def coin_train_metrics(variant: str, n_choose: int) -> Path:
    return COIN_METRICS / f"{variant}_n{n_choose}.json"


def coin_sensitivity(variant: str, n_choose: int) -> Path:
    """Per seed, the final model's δ-hallucination rate at every δ (and the exact references)."""
    return COIN_PLOTS / "delta_sensitivity" / f"{variant}_n{n_choose}.csv"


COIN_SENSITIVITY = COIN_PLOTS / "delta_sensitivity.csv"  # every N, with CIs across seeds


# open-ended QA (paper §6.2)
QA_OUTPUTS, QA_METRICS, QA_PLOTS = Path("outputs/qa"), Path("metrics/qa"), Path("plots/qa")
QA_CONTAMINATION = QA_METRICS / "contamination.json"  # evaluation pairs in training text: 0
WORLD_OUTPUTS, WORLD_METRICS = Path("outputs/world"), Path("metrics/world/summary.json")
FACTS_OUTPUTS, FACTS_PLOTS = Path("outputs/facts"), Path("plots/facts")
FACTS_METRICS = Path("metrics/facts/summary.json")
QA_BASE = QA_OUTPUTS / "base"
QA_BASE_SPEC = QA_BASE / "deltahall_base.json"  # what qa_pretrain made; qa_train checks it
QA_PRETRAIN_HISTORY = QA_PLOTS / "pretrain_history.csv"
QA_HISTORY = QA_PLOTS / "history.csv"  # one row per (epochs cell, seed, epoch); epoch 0 = base
QA_ANSWERS = (
    QA_OUTPUTS / "answers"
)  # per-question outputs of each cell's final epoch and the base's


def qa_answers(epoch: int, seed: int) -> Path:
    """One seed's per-question answers at that epoch (0: the base before fine-tuning)."""
    return QA_ANSWERS / f"e{epoch}-seed{seed}.csv"


QA_REPORT = QA_PLOTS / "report"

# images, the CLIP embedder and the HCDR detector (paper §6.3, Appendix B)
CLIP_DIR = Path("outputs/clip")
CLIP_METRICS = Path("metrics/clip.json")
CLIP_HISTORY = Path("plots/clip/history.csv")
DETECTOR_DIR = Path("outputs/detector")
DETECTOR_METRICS = Path("metrics/detector.json")
DETECTOR_PLOTS = Path("plots/detector")

# text-to-image (paper §6.3)
T2I_OUTPUTS, T2I_METRICS, T2I_PLOTS = Path("outputs/t2i"), Path("metrics/t2i"), Path("plots/t2i")
T2I_HISTORY = T2I_PLOTS / "history.csv"
T2I_BASE = Path("outputs/t2i_base")  # t2i_pretrain's UNet, where every fine-tuning starts
T2I_PRETRAIN_HISTORY = T2I_PLOTS / "pretrain_history.csv"

# Theorem 5.1's bound against Monte Carlo (paper §5)
THEORY_METRICS = Path("metrics/theory/bound_vs_mc.json")
THEORY_FIGURE = Path("plots/theory/bound_vs_mc.png")

# sweeps
SWEEP_OUTPUTS, SWEEP_METRICS, SWEEP_PLOTS = (
    Path("outputs/sweep"),
    Path("metrics/sweep"),
    Path("plots/sweep"),
)


def sweep_trials(experiment: str, replicate: int | None = None) -> Path:
    """The study's trials; `replicate`: those of the replicate study with that sampler seed."""
    name = "trials.csv" if replicate is None else f"trials_seed{replicate}.csv"
    return SWEEP_OUTPUTS / experiment / name


def sweep_history(experiment: str, replicate: int | None = None) -> Path:
    if replicate is None:
        return SWEEP_PLOTS / f"{experiment}_history.csv"
    return SWEEP_OUTPUTS / experiment / f"history_seed{replicate}.csv"
