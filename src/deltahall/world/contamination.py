"""How much of the evaluation leaks into the training text (pure; issue 12).

An evaluation row leaks when its question occurs in a training text (`questions_found`), and
worse when one of its valid answers occurs on that same line (`qa_pairs_found`): then the
model can recite the pair. Facts are stated in the corpus — that is the point — but never as
the evaluation's question–answer pairs, so both counts must be 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def contamination(
    evaluation: Sequence[tuple[str, Sequence[str]]], sources: Mapping[str, Iterable[str]]
) -> dict:
    """evaluation: (question, valid answers) rows; sources: {name: training lines}."""
    out: dict = {"n_eval": len(evaluation), "sources": {}}
    for name, lines in sources.items():
        lines = [_norm(line) for line in lines]
        questions = qa_pairs = 0
        for question, answers in evaluation:
            q = _norm(question)
            hits = [line for line in lines if q in line]
            questions += bool(hits)
            qa_pairs += any(_norm(a) in line for line in hits for a in answers)
        out["sources"][name] = {
            "n_lines": len(lines),
            "questions_found": questions,
            "qa_pairs_found": qa_pairs,
        }
    out["qa_pairs_found"] = sum(s["qa_pairs_found"] for s in out["sources"].values())
    out["questions_found"] = sum(s["questions_found"] for s in out["sources"].values())
    return out
