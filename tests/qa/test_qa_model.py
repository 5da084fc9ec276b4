"""Tiny Qwen2 + offline tokenizer: prompt format, seeding, save/load round trip, LoRA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import PeftModel

from deltahall.qa.model import (
    EOS,
    add_lora,
    build_tiny_qwen2,
    build_tokenizer,
    corpus_pairs,
    load_pretrained,
    render_pair,
    render_prompt,
    save_model,
)


@pytest.fixture(scope="module")
def tokenizer(truthfulqa_rows, open_questions):
    pairs = corpus_pairs(truthfulqa_rows[:10], open_questions[:20])
    return build_tokenizer([f"{q} {a}" for q, a in pairs], vocab_size=400)


def test_corpus_pairs_hold_every_answer(truthfulqa_rows, open_questions) -> None:
    row, item = truthfulqa_rows[0], open_questions[0]
    pairs = corpus_pairs([row], [item])
    assert len(pairs) == len(row.correct_answers) + len(row.incorrect_answers) + 2
    assert (row.question, row.incorrect_answers[0]) in pairs
    assert pairs[-2:] == [(item.question, item.answers[0]), (item.question, item.answers[1])]


def test_tokenizer_round_trips_unseen_text(tokenizer) -> None:
    text = "Ünïcode, digits 12345 and\nnew lines never seen"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: no <unk>
    assert len(tokenizer) == 400 and tokenizer.eos_token == tokenizer.pad_token == EOS


def test_prompt_template(tokenizer) -> None:
    assert render_prompt(tokenizer, "Why?") == "Question: Why?\nAnswer:"
    assert render_pair(tokenizer, "Why?", "Because") == (
        "Question: Why?\nAnswer:",
        f" Because{EOS}",
    )


def test_tiny_model_depends_on_seed_only(tokenizer) -> None:
    a = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=1, num_heads=2, seed=1)
    torch.manual_seed(123)  # the caller's RNG state must not matter
    b = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=1, num_heads=2, seed=1)
    c = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=1, num_heads=2, seed=2)
    pa, pb, pc = (m.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert a.config.vocab_size == len(tokenizer) and a.config.intermediate_size == 128


def test_save_load_round_trip(tokenizer, tmp_path: Path) -> None:
    model = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=1, num_heads=2)
    save_model(model, tokenizer, tmp_path / "tiny")
    loaded, loaded_tok = load_pretrained(tmp_path / "tiny")  # local_files_only by default
    text = render_prompt(tokenizer, "Name a fruit that is yellow when ripe.")
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert torch.equal(loaded_tok(text, return_tensors="pt")["input_ids"], ids)
    assert loaded_tok.chat_template == tokenizer.chat_template
    model.eval()
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits)


def test_load_pretrained_never_downloads() -> None:
    with pytest.raises(OSError):  # not in any local cache, and the hub is off
        load_pretrained("deltahall-test/no-such-model", local_files_only=True)


def test_add_lora_trains_adapters_only(tokenizer) -> None:
    model = build_tiny_qwen2(tokenizer, hidden_size=32, num_layers=2, num_heads=2)
    lora = add_lora(model, r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj"))
    assert isinstance(lora, PeftModel)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    # A and B matrices for q and v in each of 2 layers
    assert len(trainable) == 8 and all("lora_" in n for n in trainable)
    assert lora.peft_config["default"].r == 4 and lora.peft_config["default"].lora_alpha == 8


def test_tokenizer_fit_is_deterministic(truthfulqa_rows) -> None:
    texts = [f"{q} {a}" for q, a in corpus_pairs(truthfulqa_rows[:10])]
    first, second = (build_tokenizer(texts, vocab_size=300) for _ in range(2))
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()


def test_prefix_space_gives_a_name_the_same_tokens_at_a_statement_start_and_in_a_question():
    texts = ["Elio Yilmaz was born in Riga.", "Question: Where was Elio Yilmaz born?\nAnswer: Riga"]
    for prefix_space, same in ((True, True), (False, False)):
        tokenizer = build_tokenizer(texts * 20, 300, prefix_space=prefix_space)
        opening = tokenizer.tokenize(texts[0])[:2]
        inside = tokenizer.tokenize(texts[1])
        assert (opening == inside[inside.index(opening[-1]) - 1 :][:2]) is same, opening
