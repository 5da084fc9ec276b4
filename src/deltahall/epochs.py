"""Per-epoch records of a training loop: the history CSV (a DVC plots file) and the one call
that writes an epoch everywhere (file, MLflow, a line, a progress bar on a terminal)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deltahall.tracking import Run


class HistoryCsv:
    """A per-epoch history file (a DVC plots CSV): header first, each row flushed at once, so a
    crash keeps every finished epoch."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.path, self.columns = Path(path), list(columns)
        self._fh: Any = None
        self._writer: csv.DictWriter | None = None

    def __enter__(self) -> HistoryCsv:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns)
        self._writer.writeheader()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._fh.close()

    def write(self, row: Mapping[str, Any]) -> None:
        assert self._writer is not None, "use HistoryCsv as a context manager"
        self._writer.writerow(dict(row))
        self._fh.flush()


def history_part(history: Path, seed: int) -> Path:
    """Where one seed's rows go while seeds train in parallel processes (parallel.run_jobs)."""
    return history.with_name(f"{history.stem}.seed{seed}.part")


def join_histories(history: Path, seeds: list[int]) -> None:
    """The seeds' part files, in seed order, as one CSV: byte for byte what one process
    writing seed after seed makes. After a crash, the parts the seeds that started left."""
    found = [history_part(history, seed) for seed in seeds if history_part(history, seed).exists()]
    if not found:
        return
    parts = [part.read_text().splitlines(keepends=True) for part in found]
    tmp = history.with_suffix(".tmp")
    tmp.write_text("".join([parts[0][0], *(line for part in parts for line in part[1:])]))
    tmp.replace(history)
    for part in found:
        part.unlink()


class EpochRows(Protocol):
    def write(self, row: Mapping[str, Any]) -> None: ...


@dataclass
class EpochLogger:
    """The one way a training loop's epoch is recorded: files first, trackers second, a line.

    Each call writes the epoch's row(s) to `history` (flushed), then logs the metrics to the
    MLflow `run` at step=epoch (keys prefixed by `prefix`), then prints one line with the
    `shown` metrics. `extra` are constant metrics logged with every epoch (reference lines;
    `chart_name` renames them in MLflow, so they sit beside the metric they bound),
    `columns` constant columns of every row ({"seed": 0}).
    """

    tag: str
    total: int | str
    shown: Sequence[str]
    run: Run | None = None
    history: EpochRows | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, float] = field(default_factory=dict)
    prefix: str = ""
    chart_name: Callable[[str], str] | None = None
    _bar: Any = field(default=None, init=False, repr=False)

    def __call__(
        self,
        epoch: int,
        metrics: Mapping[str, float],
        note: str = "",
        rows: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        values = {**metrics, **self.extra}
        if self.history is not None:
            for columns in rows if rows is not None else [self.columns]:
                self.history.write({**columns, "epoch": epoch, **values})
        if self.run is not None:
            rename = self.chart_name or (lambda key: key)
            charted = {**metrics, **{rename(k): v for k, v in self.extra.items()}}
            self.run.log_metrics({f"{self.prefix}{k}": v for k, v in charted.items()}, step=epoch)
        timing = f" ({metrics['time/epoch_s']:.1f}s)" if "time/epoch_s" in metrics else ""
        line = (
            f"{self.tag} epoch {epoch}/{self.total} "
            + " ".join(f"{k} {metrics[k]:.4f}" for k in self.shown if k in metrics)
            + note
            + timing
        )
        self._progress(epoch, line)

    def _progress(self, epoch: int, line: str) -> None:
        """The line on stdout (logs keep one per epoch); on a terminal also a bar with ETA."""
        if self._bar is None and isinstance(self.total, int) and self.total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.tag, unit="epoch", leave=False)
        if self._bar is None:
            print(line, flush=True)
            return
        self._bar.write(line)
        self._bar.update(min(epoch, self._bar.total) - self._bar.n)
        if self._bar.n >= self._bar.total:
            self._bar.close()
