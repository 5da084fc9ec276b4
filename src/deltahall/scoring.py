"""δ-hallucination for anyone's answers: the public scoring API (pure: numpy + difflib).

    from deltahall.scoring import Example, score
    report = score([Example("Capital of Portugal?", ("Lisbon",), "Lisbo", confidence=0.4)])
    report.metrics["delta_hall_rate"]      # Estimate(value, low, high, n)
    report.flags["delta_hallucinated"]     # one bool per example

What is measured, per example (the arrays a bootstrap resamples, :func:`per_example`):
* ``delta_hallucinated`` (Definition 3.2): the valid answers are the latent states and the
  similarity plays f_i(a); the answer δ-hallucinates iff its similarity to EVERY valid answer
  is ≤ δ. An explicit abstention ("I don't know") states nothing and never δ-hallucinates; an
  empty answer resembles nothing and does.
* ``exact`` (accuracy): after normalisation the answer IS a valid answer.
* ``resemblance_valid`` / ``resemblance_incorrect``: the max similarity to the valid / the
  incorrect answers (TruthfulQA's reading, the paper's Table 1); ``truthful``: closer to a
  valid than to every incorrect answer. NaN where an example lists no incorrect answers.
* ``score_<t>`` / ``abstain_<t>`` (Kalai et al. §4.2, one confidence target t at a time):
  answer iff confidence > t (an explicit abstention never answers); +1 if correct, −t/(1−t)
  if wrong, 0 for abstaining. ``correct_if="resembles"``: correct = not δ-hallucinated
  (the QA stage's choice); ``"exact"``: correct = exact (the facts stage's); ``"truthful"``:
  closer to a valid than to every incorrect answer (TruthfulQA; "resembles" where an example
  lists no incorrect answers).
The metric of each array is its mean over the examples that define it, with a seeded
percentile-bootstrap CI (deltahall.stats.bootstrap_ci).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from deltahall.similarity import is_exact, normalise_text, resemblance
from deltahall.stats import bootstrap_ci
from deltahall.theory import delta_hallucinates
from deltahall.theory.kalai import confidence_target_points

Similarity = Callable[[str, str], float]
CorrectIf = Literal["resembles", "exact", "truthful"]
ABSTENTIONS = ("I don't know", "I have no comment")  # TruthfulQA's non-answer, Kalai's IDK


@dataclass(frozen=True)
class Example:
    """One question: its valid answers (≥ 1, the latent states), the model's answer, and
    optionally TruthfulQA-style incorrect answers and the model's confidence in [0, 1]."""

    question: str
    valid_answers: Sequence[str]
    answer: str
    incorrect_answers: Sequence[str] = ()
    confidence: float | None = None


@dataclass(frozen=True)
class Estimate:
    """A mean over `n` examples with its bootstrap CI [low, high] at the report's level."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, Estimate]
    flags: dict[str, np.ndarray]  # per example, aligned with the examples scored
    settings: dict[str, object] = field(default_factory=dict)

    def to_dict(self, examples: Sequence[Example]) -> dict:
        """JSON-ready: settings, metrics and one record per example (NaN -> None)."""
        rows = [
            {"question": ex.question, "answer": ex.answer}
            | {k: _plain(v[i]) for k, v in self.flags.items()}
            for i, ex in enumerate(examples)
        ]
        return {
            "settings": self.settings,
            "metrics": {k: vars(e) for k, e in self.metrics.items()},
            "examples": rows,
        }


def _plain(value: np.generic) -> object:
    item = value.item()
    return None if isinstance(item, float) and np.isnan(item) else item


def _checked(examples: Sequence[Example]) -> bool:
    """Refuse malformed examples by index; True when every example carries a confidence."""
    if not examples:
        raise ValueError("no examples to score")
    with_conf = [ex.confidence is not None for ex in examples]
    for i, ex in enumerate(examples):
        if not ex.valid_answers or not all(isinstance(v, str) for v in ex.valid_answers):
            raise ValueError(f"example {i} ({ex.question!r}): needs >= 1 valid answer (strings)")
        if not isinstance(ex.answer, str):
            raise ValueError(f"example {i} ({ex.question!r}): answer must be a string")
        if with_conf[i] != with_conf[0]:
            raise ValueError(
                f"example {i} ({ex.question!r}): confidence given for some examples only"
            )
        if ex.confidence is not None and not 0.0 <= ex.confidence <= 1.0:
            raise ValueError(f"example {i} ({ex.question!r}): confidence must lie in [0, 1]")
    return with_conf[0]


def _max_similarity(sim: Similarity, answer: str, refs: Sequence[str], i: int) -> float:
    values = [float(sim(answer, r)) for r in refs]
    if not all(np.isfinite(v) and v >= 0.0 for v in values):
        raise ValueError(f"example {i}: the similarity returned {values}: need finite values >= 0")
    return max(values, default=float("nan"))


def per_example(
    examples: Sequence[Example],
    delta: float,
    targets: Sequence[float],
    similarity: Similarity = resemblance,
    abstentions: Sequence[str] = ABSTENTIONS,
    correct_if: CorrectIf = "resembles",
) -> dict[str, np.ndarray]:
    """Every per-example array of the module docstring, aligned with `examples`."""
    has_conf = _checked(examples)
    idk = {normalise_text(a) for a in abstentions}
    abstained = np.array([normalise_text(ex.answer) in idk for ex in examples], dtype=bool)
    valid = np.array(
        [_max_similarity(similarity, e.answer, e.valid_answers, i) for i, e in enumerate(examples)]
    )
    wrong = np.array(
        [
            _max_similarity(similarity, e.answer, e.incorrect_answers, i)
            for i, e in enumerate(examples)
        ]
    )
    # max over states ≤ δ  ⟺  every state's f_i(a) ≤ δ
    hallucinated = delta_hallucinates(valid[:, None], delta) & ~abstained
    exact = np.array([is_exact(e.answer, e.valid_answers) for e in examples], dtype=bool)
    out = {
        "delta_hallucinated": hallucinated,
        "abstained": abstained,
        "exact": exact,
        "resemblance_valid": valid,
        "resemblance_incorrect": wrong,
        "resemblance_diff": valid - wrong,
        "truthful": np.where(np.isnan(wrong), np.nan, (valid > wrong).astype(float)),
    }
    if has_conf:
        correct = {
            "exact": exact,
            "resembles": ~hallucinated,
            # TruthfulQA: closer to a valid than to every incorrect answer (where it lists some)
            "truthful": np.where(np.isnan(wrong), ~hallucinated, valid > wrong),
        }[correct_if] & ~abstained
        conf = np.where(abstained, 0.0, [float(e.confidence) for e in examples])
        for t in targets:
            points, answered = confidence_target_points(conf, correct, t)
            out[f"score_{t:g}"], out[f"abstain_{t:g}"] = points, (~answered).astype(float)
    return out


METRIC_OF = {  # metric name -> the per-example array it is the mean of
    "delta_hall_rate": "delta_hallucinated",
    "abstain_rate": "abstained",
    "accuracy": "exact",
    "resemblance_valid": "resemblance_valid",
    "resemblance_incorrect": "resemblance_incorrect",
    "resemblance_diff": "resemblance_diff",
    "truthful_acc": "truthful",
}


def estimates(
    arrays: Mapping[str, np.ndarray], n_boot: int, level: float, seed: int
) -> dict[str, Estimate]:
    """Each array's mean over its defined (not NaN) entries with its bootstrap CI, every one
    resampled from the same seed; an array no example defines is left out."""
    out: dict[str, Estimate] = {}
    for name, array in arrays.items():
        values = np.asarray(array, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size:
            out[name] = Estimate(*bootstrap_ci(values, n_boot, level, seed), n=int(values.size))
    return out


def summarise(
    flags: Mapping[str, np.ndarray], n_boot: int, level: float, seed: int
) -> dict[str, Estimate]:
    """The metrics of :func:`per_example`'s flags (METRIC_OF and every score_/abstain_<t>)."""
    named = {metric: flags[array] for metric, array in METRIC_OF.items()}
    named |= {k: v for k, v in flags.items() if k.startswith(("score_", "abstain_"))}
    return estimates(named, n_boot, level, seed)


def score(
    examples: Sequence[Example],
    delta: float = 0.5,
    targets: Sequence[float] = (0.5, 0.75, 0.9),
    similarity: Similarity = resemblance,
    abstentions: Sequence[str] = ABSTENTIONS,
    correct_if: CorrectIf = "resembles",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Scores:
    """Score `examples`: :func:`per_example`'s flags and :func:`summarise`'s metrics."""
    flags = per_example(examples, delta, targets, similarity, abstentions, correct_if)
    settings = {
        "delta": delta,
        "targets": list(targets),
        "similarity": getattr(similarity, "__qualname__", repr(similarity)),
        "abstentions": list(abstentions),
        "correct_if": correct_if,
        "n_boot": n_boot,
        "level": level,
        "seed": seed,
    }
    return Scores(summarise(flags, n_boot, level, seed), flags, settings)
