"""Smoke training run of the QA pipeline on a tiny Qwen2: pretrain, LoRA, generate.

Sized to finish in seconds on one CPU thread; it checks behaviour, not quality.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from deltahall.qa.metrics import open_examples
from deltahall.qa.model import EOS, add_lora, build_tiny_qwen2, build_tokenizer, corpus_pairs
from deltahall.qa.train import encode_pairs, finetune_lora, generate_answers, pretrain_base
from deltahall.scoring import per_example


@pytest.fixture(scope="module")
def splits(open_questions):
    train_q, val_q = open_questions[:16], open_questions[16:24]
    return (
        [(q.question, a) for q in train_q for a in q.answers],
        [(q.question, a) for q in val_q for a in q.answers],
        val_q,
    )


@pytest.fixture(scope="module")
def pretrained(truthfulqa_rows, open_questions):
    pairs = corpus_pairs(truthfulqa_rows[:8], open_questions[:24])
    tokenizer = build_tokenizer([f"{q} {a}" for q, a in pairs], vocab_size=384)
    model = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=1, num_heads=2, seed=0)
    history = pretrain_base(model, tokenizer, pairs, epochs=3, lr=1e-2, batch_size=16, seed=0)
    return model, tokenizer, history


def test_encode_pairs_puts_the_loss_on_the_answer_only(pretrained) -> None:
    _, tokenizer, _ = pretrained
    row = encode_pairs(tokenizer, [("Name a colour.", "Red")], answer_only=True)[0]
    scored = [t for t, label in zip(row["input_ids"], row["labels"]) if label != -100]
    assert tokenizer.decode(scored) == f" Red{EOS}"
    assert tokenizer.decode(row["input_ids"]) == f"Question: Name a colour.\nAnswer: Red{EOS}"
    full = encode_pairs(tokenizer, [("Name a colour.", "Red")], answer_only=False)[0]
    assert full["labels"] == full["input_ids"]


def test_pretraining_lowers_the_loss(pretrained) -> None:
    *_, history = pretrained
    assert [h["epoch"] for h in history] == [1, 2, 3]
    losses = [h["train/loss"] for h in history]
    assert losses[0] > losses[1] > losses[2]
    assert "val/loss" not in history[0]  # no validation set in pretraining


def test_lora_epochs_report_losses_and_leave_the_base_frozen(pretrained, splits) -> None:
    model, tokenizer, _ = pretrained
    model = copy.deepcopy(model)  # peft injects adapters in place; keep the fixture's base
    train_pairs, val_pairs, _ = splits
    base_before = {n: p.detach().clone() for n, p in model.named_parameters()}
    lora = add_lora(model, r=4, alpha=8, dropout=0.0)
    calls: list[tuple[int, dict[str, float]]] = []
    history = finetune_lora(
        lora,
        tokenizer,
        train_pairs,
        val_pairs,
        epochs=2,
        lr=1e-2,
        batch_size=8,
        seed=0,
        on_epoch=lambda e, m: calls.append((e, m)),
    )
    assert [e for e, _ in calls] == [1, 2] and len(history) == 2
    for _, metrics in calls:
        assert set(metrics) == {"train/loss", "val/loss", "time/epoch_s"}
        assert all(math.isfinite(v) for v in metrics.values())
    assert calls[1][1]["train/loss"] < calls[0][1]["train/loss"]
    for name, param in lora.base_model.model.named_parameters():
        if "lora_" not in name:  # peft renames wrapped layers to ...base_layer...
            original = name.replace(".base_layer", "")
            assert torch.equal(param, base_before[original]), name
    with pytest.raises(TypeError):
        finetune_lora(model, tokenizer, train_pairs, [], 1, 1e-3, 8, 0)


def test_generation_is_deterministic_and_excludes_the_prompt(pretrained, splits) -> None:
    model, tokenizer, _ = pretrained
    _, _, val_q = splits
    questions = [q.question for q in val_q]
    greedy = generate_answers(model, tokenizer, questions, max_new_tokens=12, batch_size=3)
    assert greedy == generate_answers(
        model, tokenizer, questions, max_new_tokens=12, batch_size=3, seed=99
    )  # greedy ignores the seed
    sampled = [
        generate_answers(
            model, tokenizer, questions, "sampled", seed=s, max_new_tokens=12, batch_size=3
        )
        for s in (7, 7, 8)
    ]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]
    for g in greedy + sampled[0]:
        assert "Question:" not in g.answer and "\n" not in g.answer
        assert 1 <= g.n_tokens <= 12 and 0.0 < g.confidence <= 1.0 and g.logprob <= 0.0
        # the whole answer's probability (Kalai's confidence), not a per-token mean
        assert g.confidence == pytest.approx(math.exp(g.logprob))
    # rates are computable on the answers (values depend on the tiny model, not asserted)
    flags = per_example(open_examples(val_q, [g.answer for g in greedy]), 0.5, ())
    assert flags["delta_hallucinated"].shape == (len(val_q),)


def test_generation_does_not_depend_on_the_batch(pretrained, splits) -> None:
    model, tokenizer, _ = pretrained
    questions = [q.question for q in splits[2]]  # different lengths -> left padding in batches
    one = generate_answers(model, tokenizer, questions, max_new_tokens=8, batch_size=1)
    many = generate_answers(model, tokenizer, questions, max_new_tokens=8, batch_size=8)
    assert [g.answer for g in one] == [g.answer for g in many]
    for a, b in zip(one, many):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_generate_rejects_unknown_mode(pretrained) -> None:
    model, tokenizer, _ = pretrained
    with pytest.raises(ValueError, match="mode"):
        generate_answers(model, tokenizer, ["Why?"], mode="beam")
