"""Metric files as `dvc metrics` and `dvc exp show` read them (issue 16).

- Finite or null: NaN is not JSON, and DVC reads a NaN as changed on every comparison, so a
  value that is not a number (an undefined correlation, an empty class) is written `null`.
- Headline only: what varies per seed goes to a sibling `<name>.per_seed.json`, which
  dvc.yaml declares as an out, not a metric, so `dvc exp show` keeps one column per figure.
- Written atomically with sorted keys: a crash never leaves half a file, and a rerun with the
  same numbers leaves the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None (numpy scalars made plain)."""
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any, sort_keys: bool = True) -> Path:
    """Write `data` (NaN -> null) to `path` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(finite(data), indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
    return path


def per_seed_path(path: Path) -> Path:
    """metrics/coin/observed_n2.json -> metrics/coin/observed_n2.per_seed.json"""
    path = Path(path)
    return path.with_name(f"{path.stem}.per_seed.json")


def across_seeds(finals: Mapping[Any, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """{"mean": {key: mean over seeds}, "std": {key: population std}} of each key that every
    seed has; NaN-free means (nanmean) so one undefined seed does not blank the figure."""
    rows = list(finals.values())
    shared = [k for k in rows[0] if all(k in row for row in rows)] if rows else []
    table = np.array([[float(row[k]) for k in shared] for row in rows], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: null is the answer
        means, stds = np.nanmean(table, axis=0), np.nanstd(table, axis=0)
    return {
        "mean": dict(zip(shared, means.tolist())),
        "std": dict(zip(shared, stds.tolist())),
    }


def write_metrics(
    path: Path, headline: Mapping[str, Any], per_seed: Mapping[Any, Any] | None = None
) -> Path:
    """The headline file at `path` and, when given, the per-seed detail beside it."""
    if per_seed is not None:
        write_json(per_seed_path(path), {str(k): v for k, v in per_seed.items()})
    return write_json(path, headline)
