"""Answer generation with the model's own probability of each answer.

The answer is the generated text only (never the prompt), cut at the first end-of-turn token
or line break; its confidence feeds Kalai et al.'s confidence-target scoring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from deltahall.qa.model import render_prompt


@dataclass(frozen=True)
class Generation:
    """One generated answer; `logprob` sums log p of its tokens including the stop token."""

    answer: str
    logprob: float
    n_tokens: int

    @property
    def confidence(self) -> float:
        """exp(sum of token log-probs): the product of the tokens' probabilities, i.e. the
        chance the model gives this whole answer, which is what Kalai et al.'s confidence
        target thresholds (a per-token geometric mean would be no probability of anything)."""
        return math.exp(self.logprob) if self.n_tokens else 0.0


def _cut(
    tokenizer: PreTrainedTokenizerBase, ids: list[int], logps: list[float], stop_ids: set[int]
) -> Generation:
    """Keep tokens up to and including the first end-of-turn token or line break."""
    n = len(ids)
    for i, token in enumerate(ids):
        text = tokenizer.decode(ids[: i + 1], skip_special_tokens=True).strip()
        if token in stop_ids or "\n" in text:
            n = i + 1
            break
    answer = tokenizer.decode(ids[:n], skip_special_tokens=True).strip().split("\n")[0]
    return Generation(answer.strip(), float(sum(logps[:n])), n)


def generate_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    mode: str = "greedy",
    seed: int = 0,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> list[Generation]:
    """Answer each question (prompt excluded from the answer); same seed, same answers.

    `mode` "greedy" takes the arg-max token; "sampled" draws from the model's distribution
    (temperature/top_p, no top-k). Log-probs are of the raw model logits, before sampling
    processors, i.e. the model's own probability of its answer.
    """
    if mode not in ("greedy", "sampled"):
        raise ValueError(f"mode must be 'greedy' or 'sampled', got {mode!r}")
    eos = model.generation_config.eos_token_id
    stop_ids = {*(eos if isinstance(eos, list) else [eos]), tokenizer.eos_token_id} - {None}
    sampling = (
        dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        if mode == "sampled"
        else dict(do_sample=False)
    )
    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt
    out: list[Generation] = []
    try:
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            for start in range(0, len(questions), batch_size):
                prompts = [
                    render_prompt(tokenizer, q) for q in questions[start : start + batch_size]
                ]
                enc = tokenizer(
                    prompts, return_tensors="pt", padding=True, add_special_tokens=False
                ).to(model.device)
                res = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    num_beams=1,
                    repetition_penalty=1.0,
                    output_logits=True,
                    return_dict_in_generate=True,
                    pad_token_id=tokenizer.pad_token_id,
                    **sampling,
                )
                new = res.sequences[:, enc["input_ids"].shape[1] :]
                logp = torch.stack(res.logits, 1).float().log_softmax(-1)
                picked = logp.gather(-1, new.unsqueeze(-1)).squeeze(-1)
                out += [
                    _cut(tokenizer, ids, lps, stop_ids)
                    for ids, lps in zip(new.tolist(), picked.tolist())
                ]
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out
