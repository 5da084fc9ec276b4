"""QA models: a tiny Qwen2 built in code (default profile, no downloads), the paper's
pretrained chat models (paper profile), a LoRA wrapper, and the prompt format they share.

Both kinds of model are prompted through their tokenizer's chat template, so training and
generation code never branch on the profile: the tiny tokenizer carries a template that
renders ``Question: <q>\\nAnswer: <a><|endoftext|>``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from deltahall.qa.schema import OpenQuestion, TruthfulQARow

EOS = "<|endoftext|>"
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}Question: {{ m['content'] }}\nAnswer:"
    "{% elif m['role'] == 'assistant' %} {{ m['content'] }}" + EOS + "{% endif %}"
    "{% endfor %}"
)
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def render_prompt(tokenizer: PreTrainedTokenizerFast, question: str) -> str:
    """The prompt text up to where the model's answer starts."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def render_pair(tokenizer: PreTrainedTokenizerFast, question: str, answer: str) -> tuple[str, str]:
    """(prompt, completion): the completion carries the template's end-of-turn markers."""
    prompt = render_prompt(tokenizer, question)
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        tokenize=False,
    )
    if not full.startswith(prompt):  # a template that rewrites earlier turns cannot be split
        raise ValueError("the chat template's prompt is not a prefix of the full conversation")
    return prompt, full[len(prompt) :]


def corpus_pairs(
    truthfulqa: Iterable[TruthfulQARow], open_questions: Iterable[OpenQuestion] = ()
) -> list[tuple[str, str]]:
    """(question, answer) pairs for pretraining the tiny base model on bundled data.

    Every TruthfulQA question appears with each of its correct AND incorrect answers: like web
    text, the base model sees both the truth and the misconception. Each open question
    appears with both of its valid answers, i.e. the base learns the two-mode mixture. Passing
    all open questions plays the role of a chat model's world knowledge (the paper's models
    knew the answers before fine-tuning); passing the training split only keeps validation
    answers unseen.
    """
    pairs = [
        (row.question, answer)
        for row in truthfulqa
        for answer in (*row.correct_answers, *row.incorrect_answers)
    ]
    pairs += [(item.question, answer) for item in open_questions for answer in item.answers]
    return pairs


def build_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, prefix_space: bool = False
) -> PreTrainedTokenizerFast:
    """Byte-level BPE (Qwen's tokenizer family) fitted offline on `texts`.

    Byte-level: any string round-trips through encode/decode, so unseen words in TruthfulQA
    or in generated text never become <unk>. `prefix_space`: a text's first word is encoded as
    if a space preceded it, so a name that opens a statement ("Elio Yilmaz was born ...") is
    the same tokens as inside a question ("... where Elio Yilmaz has lived"); without it the
    world's facts are learnt under one token and asked under another.
    """
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=EOS)
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def build_tiny_qwen2(
    tokenizer: PreTrainedTokenizerFast,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    intermediate_size: int | None = None,
    max_positions: int = 256,
    seed: int = 0,
) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2ForCausalLM (the architecture of Qwen1.5/2.5) sized for CPU.

    The initial weights depend on `seed` only (a forked RNG leaves the caller's state alone).
    """
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        intermediate_size=intermediate_size or 4 * hidden_size,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def load_pretrained(
    name_or_path: str | Path,
    local_files_only: bool = True,
    dtype: str | torch.dtype = "auto",
    device: str | None = None,
    revision: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Model and tokenizer by hub name (e.g. Qwen/Qwen2.5-7B-Instruct) or local directory.

    `local_files_only=True` (the default) never touches the network: the hub cache or the
    directory must already hold the files. The paper profile passes False on a GPU machine.
    """
    kwargs = {"local_files_only": local_files_only, "revision": revision}
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **kwargs)
    if tokenizer.pad_token is None:  # batched generation needs a pad token
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return (model.to(device) if device else model), tokenizer


def save_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: str | Path
) -> Path:
    """Write model and tokenizer to one directory that :func:`load_pretrained` reads back."""
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def add_lora(
    model: PreTrainedModel,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    target_modules: Sequence[str] = DEFAULT_LORA_TARGETS,
) -> PeftModel:
    """Freeze `model` and attach LoRA adapters (causal LM task) to `target_modules`."""
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        bias="none",
    )
    with warnings.catch_warnings():  # peft 0.21 calls a transformers accessor deprecated in v5
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return get_peft_model(model, config)
