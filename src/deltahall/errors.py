"""Errors the CLI reports in one line (no traceback) with exit status 1."""

from __future__ import annotations


class StageIncomplete(RuntimeError):
    """A stage ran but could not produce everything its params ask (e.g. a sweep whose
    trials keep failing); it wrote what it had first, and the message says what is missing."""
