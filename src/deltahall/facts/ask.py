"""The base model of the facts experiment: a tiny Qwen2 pretrained on the world's statements,
then asked every arbitrary fact by a cloze prompt; each answer comes with its probability.

The answer's probability is the product of its tokens' probabilities (not their geometric
mean): the chance the model gives to that whole answer, which is what a confidence target
thresholds (Kalai et al. §4.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _answer(text: str) -> str:
    """The generated continuation up to the end of the statement."""
    return text.split(".")[0].split("\n")[0].strip()


@torch.no_grad()
def answer_probability(model, tokenizer, prompt: str, answer: str) -> float:
    """P(" " + answer | prompt) = Π of the answer tokens' probabilities (teacher forcing)."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(f"{prompt} {answer}", add_special_tokens=False)["input_ids"]
    start = next((i for i, (a, b) in enumerate(zip(p, full)) if a != b), len(p))
    if start == len(full):
        return 0.0
    logits = model(input_ids=torch.tensor([full])).logits[0]
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = [logp[i - 1, full[i]] for i in range(max(start, 1), len(full))]
    return float(torch.exp(torch.stack(picked).sum()))


@torch.no_grad()
def cloze_answers(
    model, tokenizer, prompts: Sequence[str], max_new_tokens: int, batch_size: int
) -> list[tuple[str, float]]:
    """Greedy continuation of each prompt, cut at the statement's end, with its probability."""
    model.eval()
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start : start + batch_size])
        enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
        texts = tokenizer.batch_decode(
            out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        answers += [_answer(t) for t in texts]
    return [
        (a, answer_probability(model, tokenizer, p, a) if a else 0.0)
        for p, a in zip(prompts, answers)
    ]
