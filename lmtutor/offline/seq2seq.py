"""Small T5 and MarianMT checkpoints trained on tasks a CPU learns in about a minute (chapter 13).

* ``t5-tasks``: a ``T5ForConditionalGeneration`` trained, as T5 was, on several tasks told
  apart by a text prefix: ``"translate date to ISO: 12 March 2021"`` -> ``"2021-03-12"``
  (the date task of ``lmtutor.synthetic``) and ``"summarize: <match report>"`` -> ``"Lions beat Owls 3-1"``.
* ``marian-dates``: a ``MarianMTModel`` trained on the date task alone, as an opus-mt model
  is trained on one language pair.

Both use a BPE tokenizer trained on the task text (``lmtutor.offline.tok``) and the same
calls as the hub models: ``tokenizer(text, return_tensors="pt")``, ``model.generate(**inputs)``,
``tokenizer.decode(out[0], skip_special_tokens=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .. import synthetic
from ..device import get_device
from ..train import TrainConfig, hf_loss, lr_at, set_lr, train_step
from ..utils import pick
from .data import summary_pairs
from .store import OfflineCheckpoint, cached_or_build, checkpoint_root
from .tok import seq2seq_bpe_tokenizer

__all__ = ["PREFIXES", "task_data", "t5_config", "marian_config", "train_hf_seq2seq", "hf_exact_match", "t5_tasks"]
__all__ += ["marian_dates"]

PREFIXES = {"dates": "translate date to ISO: ", "summaries": "summarize: "}  # T5-style task prefixes


def task_data(task: str, prefix: bool, n: int = 8000, n_test: int = 200) -> tuple[list, list]:
    """``(train, test)`` (source, target) pairs of ``"dates"`` or ``"summaries"``; no test source is in train."""
    if task not in PREFIXES:
        raise ValueError(f"unknown task {task!r}; choose one of {list(PREFIXES)}")
    pairs = synthetic.date_pairs(n, seed=1) if task == "dates" else summary_pairs(n, seed=1)
    train, test = synthetic.train_test_split(pairs, n_test / n, seed=0)
    head = PREFIXES[task] if prefix else ""
    return [(head + s, t) for s, t in train], [(head + s, t) for s, t in test]


def t5_config(vocab_size: int, d_model: int = 128, n_layers: int = 2):
    """A small ``T5Config`` (t5-small has d_model 512, 6 + 6 layers, 8 heads); ids as T5: pad 0, eos 1."""
    from transformers import T5Config

    return T5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=d_model // 4, d_ff=2 * d_model, num_layers=n_layers,
        num_decoder_layers=n_layers, num_heads=4, dropout_rate=0.0, feed_forward_proj="relu",
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )  # fmt: skip


def marian_config(vocab_size: int, d_model: int = 128, n_layers: int = 2):
    """A small ``MarianConfig`` (opus-mt-en-fr has d_model 512, 6 + 6 layers, 8 heads); ids pad 0, eos 1.

    Embeddings are scaled by √d_model, as in opus-mt: unscaled, the 0.02-sized token embeddings
    drown in the sinusoidal positions and training stalls for hundreds of steps.
    """
    from transformers import MarianConfig

    return MarianConfig(
        vocab_size=vocab_size, d_model=d_model, encoder_layers=n_layers, decoder_layers=n_layers,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model, max_position_embeddings=128, dropout=0.0, scale_embedding=True,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
    )  # fmt: skip


def train_hf_seq2seq(model, tokenizer, pairs: Sequence[tuple[str, str]], steps: int, batch_size: int = 64, lr=1e-3):
    """Teacher-forced training of a 🤗 seq2seq model on random batches; AdamW, warmup + cosine. Returns seconds."""
    if not pairs:
        raise ValueError("train_hf_seq2seq needs some (source, target) pairs")
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, warmup_steps=min(50, steps // 4))
    device = get_device()
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen, start = torch.Generator().manual_seed(0), time.perf_counter()
    for step in range(steps):
        set_lr(optimizer, lr_at(step, cfg))
        idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
        sources, targets = [pairs[i][0] for i in idx], [pairs[i][1] for i in idx]
        batch = tokenizer(sources, text_target=targets, padding=True, return_tensors="pt").to(device)
        batch["labels"] = batch["labels"].masked_fill(batch["labels"] == tokenizer.pad_token_id, -100)  # no loss
        train_step(model, optimizer, batch, grad_clip=1.0, use_autocast=False, forward=hf_loss(model))
    model.eval()
    return time.perf_counter() - start


@torch.no_grad()
def hf_exact_match(model, tokenizer, pairs: Sequence[tuple[str, str]], max_new_tokens: int = 24) -> float:
    """Fraction of pairs whose greedy output, decoded with ``skip_special_tokens=True``, equals the target."""
    if not pairs:
        raise ValueError("hf_exact_match needs at least one (source, target) pair")
    inputs = tokenizer([s for s, _ in pairs], padding=True, return_tensors="pt").to(next(model.parameters()).device)
    outputs = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    predictions = tokenizer.batch_decode(outputs, skip_special_tokens=True)
    return sum(p == t for p, (_, t) in zip(predictions, pairs, strict=True)) / len(pairs)


def _build(arch: str, tasks: Sequence[str], steps: int, tmp: Path) -> dict:
    from transformers import MarianMTModel, T5ForConditionalGeneration

    data = {task: task_data(task, prefix=arch == "t5") for task in tasks}
    train = [pair for task in tasks for pair in data[task][0]]
    tokenizer = seq2seq_bpe_tokenizer([text for pair in train for text in pair])
    torch.manual_seed(0)
    if arch == "t5":
        model = T5ForConditionalGeneration(t5_config(len(tokenizer)))
    else:
        model = MarianMTModel(marian_config(len(tokenizer)))
    seconds = train_hf_seq2seq(model, tokenizer, train, steps)
    metrics = {f"{task} exact match": hf_exact_match(model, tokenizer, data[task][1]) for task in tasks}
    model.generation_config.max_new_tokens = 32  # a default output length, as hub models ship one
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    n = sum(p.numel() for p in model.parameters())
    return {
        "description": f"the book's small {type(model).__name__} ({n / 1e6:.1f} M parameters) "
        f"trained for {steps} steps on {' and '.join(tasks)}",
        "metrics": metrics | {"n_test": len(data[tasks[0]][1]), "steps": steps, "train_seconds": round(seconds, 1)},
        "examples": [data[task][1][i][0] for task in tasks for i in range(3)],
    }


def t5_tasks(steps: int | None = None) -> OfflineCheckpoint:
    """The small multi-task T5: dates -> ISO and match report -> one-line summary, with T5's text prefixes."""
    steps = steps or pick(1000, fast=120)
    folder = checkpoint_root() / f"t5-tasks-{steps}"
    return cached_or_build("t5-tasks", folder, lambda tmp: _build("t5", ("dates", "summaries"), steps, tmp))


def marian_dates(steps: int | None = None) -> OfflineCheckpoint:
    """The small MarianMT model for one "language pair": human-written dates -> ISO dates."""
    steps = steps or pick(500, fast=300)
    folder = checkpoint_root() / f"marian-dates-{steps}"
    return cached_or_build("marian-dates", folder, lambda tmp: _build("marian", ("dates",), steps, tmp))
