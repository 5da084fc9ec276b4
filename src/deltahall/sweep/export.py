"""A finished study -> the files DVC tracks: one row per trial, one row per (trial, seed, epoch).

Pure with respect to Optuna: takes FrozenTrials (or anything with the same attributes).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltahall.sweep.stats import pareto_front
from deltahall.sweep.trial import TRAIN_LOSS, VAL_LOSS

TRIAL_COLUMNS = ["number", "state", "loss", "rate", "pareto", "duration_s", "error"]
HISTORY_COLUMNS = ["trial", "seed", "epoch", "loss", "rate", TRAIN_LOSS, VAL_LOSS]
_EPOCH_KEY = re.compile(r"^history/seed(-?\d+)/epoch(-?\d+)$")  # objective.HISTORY_ATTR


def trial_rows(trials: Sequence[Any]) -> list[dict[str, Any]]:
    """Every trial, COMPLETE ones with (loss, rate) and whether they are on the Pareto front."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.values is not None]
    front = pareto_front(np.array([t.values for t in done]).reshape(-1, 2)) if done else []
    on_front = {t.number for t, f in zip(done, front) if f}
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        loss, rate = t.values if t.values is not None else (None, None)
        duration = t.duration.total_seconds() if t.duration is not None else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "loss": loss,
                "rate": rate,
                "pareto": t.number in on_front,
                "duration_s": duration,
                "error": t.user_attrs.get("error"),  # why a FAIL trial failed
                **t.params,
            }
        )
    return rows


def history_rows(trials: Sequence[Any], loss_key: str, rate_key: str) -> list[dict[str, Any]]:
    """Per-epoch (loss, rate) of every seed of every trial, from the trials' user attrs."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        points = {}
        for key, point in t.user_attrs.items():
            match = _EPOCH_KEY.match(key)
            if match:
                points[int(match.group(1)), int(match.group(2))] = point
        for (seed, _), point in sorted(points.items()):
            rows.append(
                {
                    "trial": t.number,
                    "seed": seed,
                    "epoch": point["epoch"],
                    "loss": point.get(loss_key),
                    "rate": point.get(rate_key),
                    TRAIN_LOSS: point.get(TRAIN_LOSS),
                    VAL_LOSS: point.get(VAL_LOSS),
                }
            )
    return rows


def write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path) -> Path:
    """Columns first as given, then any extra keys (the knobs) in first-seen order."""
    extra = [k for row in rows for k in row if k not in columns]
    fields = columns + list(dict.fromkeys(extra))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def study_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, the best trial of each objective and the Pareto front (trial numbers)."""
    done = [r for r in rows if r["state"] == "COMPLETE"]
    summary: dict[str, Any] = {
        "n_trials": len(rows),
        "n_complete": len(done),
        "n_failed": sum(r["state"] == "FAIL" for r in rows),
        "pareto_trials": [r["number"] for r in done if r["pareto"]],
    }
    for key in ("loss", "rate"):
        if done:
            best = min(done, key=lambda r: (r[key], r["number"]))
            summary[f"best_{key}"] = {
                "trial": best["number"],
                "loss": best["loss"],
                "rate": best["rate"],
            }
    return summary
