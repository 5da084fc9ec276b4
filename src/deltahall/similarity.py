"""Text resemblance (paper §6.2): difflib's Gestalt pattern matching after normalisation.

Pure (difflib only). The scoring API (deltahall.scoring) takes it as the default similarity;
the QA stages and the sweeps score answers with it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Casefold, replace punctuation by spaces, collapse whitespace.

    Why: "Butter." and "butter" are the same answer; difflib alone would score the full stop
    and the capital as mismatches and inflate differences between short answers.
    """
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.casefold())).strip()


def resemblance(answer: str, reference: str) -> float:
    """difflib ratio in [0, 1] of the normalised texts; 0.0 when either one is empty.

    ``autojunk=False``: the junk heuristic only triggers on texts of 200+ characters, where it
    would make long answers score differently from short ones for no reason of content.
    """
    a, b = normalise_text(answer), normalise_text(reference)
    if not a or not b:  # difflib says ratio("", "") == 1.0; an empty answer resembles nothing
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def max_resemblance(answer: str, references: Sequence[str]) -> float:
    """Max resemblance over `references`; 0.0 for an empty list (nothing to resemble)."""
    return max((resemblance(answer, ref) for ref in references), default=0.0)


def is_exact(answer: str, references: Sequence[str]) -> bool:
    """After :func:`normalise_text` the answer IS one of `references`."""
    return normalise_text(answer) in {normalise_text(r) for r in references}
