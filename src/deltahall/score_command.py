"""`deltahall score`: δ-hallucination, accuracy and Kalai's confidence-target scores of anyone's
answers file, each with a bootstrap CI (deltahall.scoring), as a table, a JSON file and, when
a tracking URI is set, an MLflow run.

The whole input is read and scored before anything is written: a bad row is refused with its
line number and no file changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import import_module
from pathlib import Path
from typing import Any

import pandas as pd

from deltahall.answers_file import read_examples
from deltahall.scoring import Scores, Similarity, score
from deltahall.similarity import resemblance
from deltahall.tracking import ENV_URI, open_run


def load_similarity(spec: str | None) -> Similarity:
    """`module:function` -> that callable (answer, reference) -> float; None -> difflib."""
    if spec is None:
        return resemblance
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"--similarity {spec!r}: write it module:function")
    try:
        function = getattr(import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"--similarity {spec!r}: {err}") from None
    if not callable(function):
        raise ValueError(f"--similarity {spec!r} is not callable")
    return function


def table(report: Scores) -> str:
    level = report.settings["level"]
    head = f"{'metric':<24}{'value':>9}{f'{level:.0%} CI low':>12}{'high':>9}{'n':>7}"
    lines = [head, "-" * len(head)]
    for name, est in report.metrics.items():
        lines.append(f"{name:<24}{est.value:>9.4f}{est.low:>12.4f}{est.high:>9.4f}{est.n:>7}")
    return "\n".join(lines)


def _write_json(data: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, out)


def _digest(*paths: Path | None) -> str:
    sha = hashlib.sha256()
    for path in paths:
        if path is not None:
            sha.update(Path(path).read_bytes())
    return sha.hexdigest()[:16]


def _log(report: Scores, data: dict, inputs: list[Path | None], uri: str, experiment: str):
    files = {"input": str(inputs[0]), "answers": str(inputs[1]) if inputs[1] else ""}
    with open_run(
        uri,
        True,
        experiment,
        f"score {Path(inputs[0]).name}",
        {**report.settings, **files},
        {"deltahall.tool": "score", "input_digest": _digest(*inputs)},
    ) as run:
        metrics = {}
        for name, est in report.metrics.items():
            metrics |= {name: est.value, f"{name}_low": est.low, f"{name}_high": est.high}
        run.log_metrics(metrics)
        run.log_table(pd.DataFrame(data["examples"]), "examples.json")
        return run.run_id


def run_score(
    input: Path,
    answers: Path | None,
    out: Path | None,
    experiment: str,
    tracking_uri: str | None,
    similarity: str | None = None,
    **settings: Any,
) -> Scores:
    """Read, score (deltahall.scoring.score with `settings`), print, write JSON, then log."""
    examples = read_examples(input, answers)
    report = score(examples, similarity=load_similarity(similarity), **settings)
    data = report.to_dict(examples) | {"input": str(input), "answers": str(answers or "")}
    out = Path(out) if out else Path(input).with_suffix(".scores.json")
    _write_json(data, out)
    delta = report.settings["delta"]
    print(f"{len(examples)} examples from {input}; δ = {delta}\n{table(report)}\nwrote {out}")
    uri = tracking_uri or os.environ.get(ENV_URI)
    if uri:
        run_id = _log(report, data, [Path(input), answers], uri, experiment)
        print(f"logged to MLflow run {run_id} (experiment {experiment!r})")
    return report


SCORE_OPTIONS = ("delta", "targets", "correct_if", "n_boot", "level", "seed")


def run_score_command(args) -> None:
    """`deltahall score`: options left unset take deltahall.scoring.score's defaults."""
    given = {k: getattr(args, k) for k in SCORE_OPTIONS if getattr(args, k) is not None}
    run_score(
        args.input,
        args.answers,
        args.out,
        args.experiment,
        args.tracking_uri,
        args.similarity,
        **given,
    )
