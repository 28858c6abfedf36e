"""The chapter-9 Shakespeare GPT as a 🤗 GPT-2 checkpoint: ``save_pretrained`` + a character tokenizer (chapter 13)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import CharTokenizer
from ..hf import to_hf_gpt2
from ..transformer import GPT
from .store import OfflineCheckpoint, cached_or_build, checkpoint_root
from .tok import gpt_char_tokenizer

__all__ = ["export_gpt2", "shakespeare_gpt2"]


@torch.no_grad()
def export_gpt2(model: GPT, tokenizer: CharTokenizer, folder: str | Path, atol: float = 1e-4) -> Path:
    """Save ``model`` as a 🤗 ``GPT2LMHeadModel`` and ``tokenizer`` as a fast tokenizer in ``folder``.

    The exported model's logits are checked against ours before saving; a mismatch raises.
    """
    if model.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"the model has {model.config.vocab_size} token ids but the tokenizer {tokenizer.vocab_size}; "
            "export the tokenizer the model was trained with"
        )
    folder = Path(folder)
    model.eval()
    hf = to_hf_gpt2(model)  # a CPU copy of the weights, wherever the model lives
    # GPT-2 uses id 0 as begin/end of text; here id 0 is a character ('\n' for Shakespeare), so
    # there is no special token at all: generation never stops early and nothing is taken for padding.
    for config in (hf.config, hf.generation_config):
        config.bos_token_id = config.eos_token_id = config.pad_token_id = None
    ids = torch.arange(min(model.config.block_size, 32))[None] % tokenizer.vocab_size  # (1, T)
    ours = model(ids.to(next(model.parameters()).device))[0].float().cpu()  # (1, T, V)
    diff = (hf(ids).logits - ours).abs().max().item()
    if diff > atol:
        raise RuntimeError(f"the exported GPT-2 differs from the model (max |Δlogit| = {diff:.2e} > {atol})")
    hf.save_pretrained(folder)
    gpt_char_tokenizer(tokenizer.chars).save_pretrained(folder)
    return folder


def shakespeare_gpt2(preset: str | None = None) -> OfflineCheckpoint:
    """The Shakespeare GPT of ``lmtutor.recipes.shakespeare_gpt`` (trained on first use) in GPT-2 format."""
    from ..recipes import default_preset, shakespeare_gpt
    from ..train import train_preset

    preset = preset or default_preset()
    steps = train_preset(preset).max_steps
    folder = checkpoint_root() / f"shakespeare-gpt2-{preset}-{steps}"

    def make(tmp: Path) -> dict:
        model, tok, history = shakespeare_gpt(preset)
        export_gpt2(model, tok, tmp)
        n = sum(p.numel() for p in model.parameters())
        return {
            "description": f"the book's Shakespeare GPT ({n / 1e6:.1f} M parameters, preset {preset!r}) "
            "exported to GPT-2 format",
            "metrics": {"val_loss": history["val_loss"][-1], "steps": steps},
            "examples": ["Hello, how are you?", "ROMEO:"],
        }

    return cached_or_build("shakespeare-gpt2", folder, make)
