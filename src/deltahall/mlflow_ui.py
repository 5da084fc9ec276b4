"""What the MLflow UI shows beside the metrics: each experiment's kind and description, each
run's description, and the DVC-versioned data a run read (its Datasets column).

Pure text and file lookups; deltahall.tracking sets them on the runs it starts.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from deltahall.dvc_files import read_yaml

# Opens an experiment on its runs (training), not on the GenAI "Traces" page.
EXPERIMENT_KIND = "custom_model_development"
NOTE_TAG = "mlflow.note.content"  # the UI's "Description" of an experiment or a run

_RATE_CI = "Every rate carries a bootstrap CI (`<metric>_low`, `<metric>_high`)."
NOTES = {
    "coin": "Coin-flip aggregation (paper §6.1, Figure 3). One run per (N, seed): a set "
    "transformer regresses the head count of N coins drawn from 2N. Compare `train/loss` and "
    "`val/loss` with `val/delta_hall_rate` (held-out estimates that fit no latent coin set, "
    "Definition 3.2) and `val/cond_prob`: the loss approaches the Bayes optimum "
    "(`val/loss:optimal`, the chart beside `val/loss`) while the rate stays near "
    "`val/delta_hall_rate:optimal` (beside it), not 0. `val/<metric>:optimal` and "
    "`:mode` are exact population values of the Bayes and the mode estimator (flat lines), "
    "`val/*_round` the other rounding rule.",
    "coin_hidden": "Coin flips whose regime the input does not reveal (paper §6.1 variant): "
    "the same charts as `coin`; the loss-minimising estimate sits between the regimes.",
    "qa": "LoRA fine-tuning of a tiny Qwen2 on two-answer questions (paper §6.2, Table 1, "
    "Figure 4). One run per (epochs, seed). Compare `train/loss`, `val/loss` with "
    "`val/delta_hall_rate` (answers resembling neither valid answer by more than δ), "
    "`val/blend_rate` and `val/accuracy`; `resemblance/incorrect` is Table 1's number; "
    f"`val/score_<t>` and `val/abstain_<t>` are Kalai et al.'s confidence targets. {_RATE_CI}",
    "qa_pretrain": "Pretraining of the tiny Qwen2 QA base (paper §6.2's base model): "
    "`train/loss` per epoch and what the base knows before fine-tuning (`base/*`).",
    "t2i": "Text-to-image (paper §6.3, Figures 5-6): the small UNet pretrained on every class, "
    "then fine-tuned per seed. Compare `train/loss` with `val/hall_rate` (generated images "
    "outside every class's HCDR, judged by the registered detector) and `val/mean_hall`. "
    + _RATE_CI,
    "detector": "Per-class HCDR detector on CLIP embeddings (paper §5, §6.3, Figure 7): "
    "held-out `coverage/<class>` should be near 1 - detector.quantile; `flagged/*` are the "
    "shares of real, unseen-class and mixed images it flags. Registers `hcdr-*` models.",
    "clip": "The small CLIP embedder the detector and the t2i judge use (the paper uses "
    "OpenAI's ViT-B-32): contrastive `train/loss` per epoch.",
    "world": "The generated world of people and facts (Kalai et al.): singleton rate, "
    "Kalai's bound and the contamination check of the evaluation questions.",
    "facts": "Kalai et al. on the world: a tiny Qwen2 pretrained on the world's statements is "
    "asked every arbitrary fact. Compare `error_rate/mentions_*` with `singleton_rate` "
    "(Theorem 2), `delta_hall_rate` with `hallucination_rate`, and the confidence-target "
    "scores `score/t_*`.",
    "sweep_analysis": "Does lower loss lower the rate? Correlations of final loss and final "
    f"rate across the sweeps' trials with verdicts per experiment. {_RATE_CI}",
    "reports": "The report stages' figures (PNG and PDF under figures/: Figures 3-6, the "
    "δ-sensitivity and reliability plots) and tables (Table 1, the δ-sensitivity table), one run "
    "per report stage, rewritten by every `dvc repro`.",
    "deltahall-score": "`deltahall score` of answers files: δ-hallucination rate, accuracy, "
    f"resemblance and Kalai's confidence-target scores. {_RATE_CI}",
}


def experiment_note(experiment: str) -> str:
    if experiment.startswith("sweep_") and experiment != "sweep_analysis":
        name = experiment.removeprefix("sweep_")
        return (
            f"Optuna study of the {name} experiment: each nested run is one trial (knobs as "
            "params, per-epoch curves); compare final `train/loss` with the final δ-rate "
            "across trials, and see `sweep_analysis` for the verdict with CIs."
        )
    return NOTES.get(experiment, f"deltahall experiment {experiment!r}.")


def run_note(experiment: str, run_name: str) -> str:
    return f"**{run_name}**. {experiment_note(experiment)}"


def _locked_outs(lock: Path) -> dict[str, str]:
    try:
        stages = read_yaml(lock).get("stages", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return {}
    return {o["path"]: o["md5"] for s in stages.values() for o in s.get("outs", []) if "md5" in o}


def dvc_digest(path: Path, root: Path = Path(".")) -> str:
    """The DVC hash of `path` (an output in dvc.lock, or data/ in data.dvc); "" if unknown."""
    outs = _locked_outs(root / "dvc.lock")
    try:
        data = read_yaml(root / "data.dvc")["outs"][0]
        outs.setdefault(data["path"], data["md5"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        pass
    return outs.get(Path(path).as_posix(), "").removesuffix(".dir")
