"""Ready-made runs that several chapters share: the character-level Shakespeare GPT (chapters 6, 9, 13).

``shakespeare_gpt()`` trains the GPT of chapter 9 once and afterwards loads it from its
checkpoint (UvA-style *load or train*), so a later chapter never waits for training twice.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from .data import CharTokenizer, load_shakespeare, train_val_split
from .device import get_device
from .storage import cache_dir
from .train import TrainConfig, train, train_preset
from .transformer import GPT, GPTConfig
from .utils import pick

__all__ = ["cache_dir", "char_data", "checkpoint_path", "default_preset", "shakespeare_data", "shakespeare_gpt"]


def default_preset(device: torch.device | str | None = None) -> str:
    """``nano`` in fast mode, ``gpu`` when the chapter runs on CUDA (``device`` or ``get_device()``), else ``cpu``."""
    return pick("cpu", fast="nano", gpu="gpu", device=device)


def char_data(text: str) -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """Character tokenizer of ``text`` and its (train, val) id tensors, 90/10 split."""
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = train_val_split(torch.tensor(tok.encode(text), dtype=torch.long))
    return tok, train_ids, val_ids


def shakespeare_data() -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """Tokenizer and (train, val) id tensors of Tiny Shakespeare, 90/10 split."""
    return char_data(load_shakespeare())


def checkpoint_path(preset: str, train_config: TrainConfig | None = None) -> Path:
    """Where ``shakespeare_gpt`` keeps the checkpoint of a preset: ``cache_dir()/shakespeare-<preset>-<steps>.pt``."""
    steps = (train_config or train_preset(preset)).max_steps
    return cache_dir() / f"shakespeare-{preset}-{steps}.pt"


def shakespeare_gpt(
    preset: str | None = None,
    train_config: TrainConfig | None = None,
    checkpoint: str | Path | None = None,
    callbacks=(),
    device: torch.device | str | None = None,
    retrain: bool = False,
) -> tuple[GPT, CharTokenizer, dict]:
    """The character-level GPT trained on Tiny Shakespeare: loaded if its checkpoint exists, else trained.

    Returns ``(model, tokenizer, history)``; the model is in eval mode on ``device``. An interrupted
    run continues from its last checkpoint (saved at every evaluation); ``retrain=True`` trains
    from scratch and replaces the checkpoint that later chapters load.
    """
    device = get_device(device)
    preset = preset or default_preset(device)
    cfg = train_config or train_preset(preset)
    cfg = replace(cfg, checkpoint_interval=cfg.checkpoint_interval or cfg.eval_interval)
    tok, train_ids, val_ids = shakespeare_data()
    with torch.random.fork_rng(devices=[]):  # the same initial weights every time, the caller's RNG untouched
        torch.manual_seed(cfg.seed)
        model = GPT(GPTConfig.preset(preset, vocab_size=tok.vocab_size))
    path = Path(checkpoint) if checkpoint else checkpoint_path(preset, cfg)
    # resume: a finished checkpoint is loaded as it is, an interrupted one continues
    history = train(
        model, train_ids, val_ids, cfg, device=device, callbacks=callbacks, checkpoint_path=path, resume=not retrain
    )
    return model.eval(), tok, history
