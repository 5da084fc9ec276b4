"""The subcommands that are tools, not stages: `score`, `judge-images`, `gate`, `repro`.

Their parsers live here; each runs a function of its own module (TOOL_CALLS). They need no
params file: gate and judge-images read its tracking.uri only when no store is named.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _add_tracking_uri(p: argparse.ArgumentParser, when: str) -> None:
    p.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help=f"MLflow store (default: $MLFLOW_TRACKING_URI, {when})",
    )


def _add_score(sub) -> None:
    p = sub.add_parser(
        "score",
        help="δ-hallucination rate, accuracy, resemblance and Kalai's confidence-target "
        "scores of any answers file, each with a bootstrap CI",
        description="Score a model's answers: JSONL lines {question, valid_answers, "
        "incorrect_answers?, answer, confidence?}, or a TruthfulQA-format CSV with --answers "
        "(JSONL lines {question, answer, confidence?}). An answer δ-hallucinates iff its "
        "similarity to every valid answer is <= δ (Definition 3.2); 'I don't know' abstains. "
        "Prints a table, writes JSON (per-example flags included) and logs an MLflow run when "
        "a tracking URI is set. A bad row is refused with its line number; nothing is written.",
    )
    p.add_argument("--input", type=Path, required=True, help="answers JSONL or TruthfulQA CSV")
    p.add_argument("--answers", type=Path, default=None, help="with a CSV: the answers JSONL")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON to write (default: INPUT.scores.json)"
    )
    # None: deltahall.scoring.score's own default, named in the help (tests check they agree)
    p.add_argument("--delta", type=float, default=None, help="δ of Definition 3.2 (default: 0.5)")
    p.add_argument(
        "--targets",
        type=_floats,
        default=None,
        help="confidence targets t, comma-separated: answer iff confidence > t "
        "(default: 0.5,0.75,0.9)",
    )
    p.add_argument(
        "--correct-if",
        choices=["resembles", "exact", "truthful"],
        default=None,
        help="correct, for the confidence targets: not δ-hallucinated (resembles, the "
        "default), exactly a valid answer (exact), or closer to a valid than to every "
        "incorrect answer (truthful: TruthfulQA, where valid answers share words with wrong ones)",
    )
    p.add_argument(
        "--similarity",
        default=None,
        metavar="MODULE:FUNCTION",
        help="similarity(answer, reference) -> float >= 0 (default: difflib ratio)",
    )
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default: 1000)")
    p.add_argument("--level", type=float, default=None, help="CI level (default: 0.95)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: 0)")
    p.add_argument(
        "--experiment", default="deltahall-score", help="MLflow experiment (default: %(default)s)"
    )
    _add_tracking_uri(p, "else nothing is logged")


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: comma-separated numbers, e.g. 0.5,0.75"
        ) from None


def _add_judge_images(sub, add_params) -> None:
    p = sub.add_parser(
        "judge-images",
        help="the registered HCDR detector judges any images: per-image flags and the rate",
        description="Load a registered detector version with the CLIP it was fitted on, embed "
        "each image (files, or folders searched recursively) and flag those outside every "
        "class's HCDR; prints each verdict and the flagged rate with its bootstrap CI.",
    )
    p.add_argument("--model", required=True, help="models:/NAME@ALIAS or models:/NAME/VERSION")
    p.add_argument("images", nargs="+", type=Path, help="image files or folders")
    p.add_argument("--out", type=Path, default=None, help="CSV of per-image flags to write")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--level", type=float, default=0.95, help="CI level")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    add_params(p)
    _add_tracking_uri(p, "else the params file's tracking.uri")


def _add_gate(sub, add_params) -> None:
    p = sub.add_parser(
        "gate",
        help="exit 1 unless a run's metric CI lies within a limit; move an alias only on a pass",
        description="Read a tracked run's metric and its CI bounds (<metric>_low/_high). --max "
        "X fails when the upper bound exceeds X, --min X when the lower bound is under X: one "
        "line, exit 1. With --model and --alias a pass points the alias at the model version "
        "that run registered; a fail leaves it where it was.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", default=None, metavar="RUN_ID", help="the run to judge")
    which.add_argument("--experiment", default=None, help="judge its newest finished run")
    p.add_argument("--metric", required=True, help="e.g. val/delta_hall_rate")
    bound = p.add_mutually_exclusive_group(required=True)
    bound.add_argument("--max", type=float, default=None, help="the CI upper bound's limit")
    bound.add_argument("--min", type=float, default=None, help="the CI lower bound's limit")
    p.add_argument("--model", default=None, help="registered model whose alias a pass moves")
    p.add_argument("--alias", default=None, help="the alias a pass moves (e.g. gated)")
    add_params(p)
    _add_tracking_uri(p, "else the params file's tracking.uri")


def _add_repro(sub) -> None:
    p = sub.add_parser(
        "repro",
        help="dvc repro with independent stages side by side (what `make run` calls)",
        description="Run every stage that `dvc status` finds out of date, each as `dvc "
        "--wait-for-lock repro --single-item STAGE`, once no stage upstream of it is left to "
        "run and its cores (processes x torch threads, from params.yaml) fit in --jobs beside "
        "the running stages'; a stage whose outputs came out changed queues the stages that "
        "read them. DVC writes dvc.lock as after `dvc repro`. A failed stage starts nothing "
        "new, the running ones finish, and the exit status is the failed stage's. Ctrl-C and "
        "SIGTERM reach every running stage.",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="cores to fill (default: this machine's, %(default)s)",
    )


def add_tool_parsers(sub, add_params) -> None:
    _add_repro(sub)
    _add_score(sub)
    _add_judge_images(sub, add_params)
    _add_gate(sub, add_params)


# subcommand -> (module, function taking the parsed args), imported by name only when called:
# no stage's dvc.yaml deps reach them (tests/test_dvc_deps.py walks import statements)
TOOL_CALLS = {
    "score": ("deltahall.score_command", "run_score_command"),
    "judge-images": ("deltahall.judge_images", "run_judge_command"),
    "gate": ("deltahall.metric_gate", "run_gate_command"),
    "repro": ("deltahall.repro", "run_repro_command"),
}


def run_tool(args: argparse.Namespace) -> int:
    from importlib import import_module

    module, function = TOOL_CALLS[args.command]
    return getattr(import_module(module), function)(args) or 0
