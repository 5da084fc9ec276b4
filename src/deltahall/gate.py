"""Knowledge gates: a stage that needs a base model which knows what it saw often fails, after
writing its metrics, when the base does not (issue 12: the facts and the QA base)."""

from __future__ import annotations


class GateError(ValueError):  # one line from the CLI, exit 2
    pass


def check_knowledge_gate(seen: dict, mentions: int, min_accuracy: float, key: str, where: str):
    """seen: {"n", "rate", ...} of the facts stated >= `mentions` times; `key` names the param,
    `where` the metrics file that holds the figure."""
    if seen["n"] and seen["rate"] < min_accuracy:
        raise GateError(
            f"{key}: base accuracy {seen['rate']:.3f} on the {seen['n']} facts stated >= "
            f"{mentions} times is below {key} = {min_accuracy} ({where})"
        )
