"""Is the Hugging Face hub reachable, and what does the local 🤗 cache hold? (chapters 3, 12, 13)

The low-level layer under everything that loads 🤗 models: ``hub_available()`` honours
``HF_HUB_OFFLINE=1`` at once and otherwise probes the hub in a background thread for at most
``PROBE_TIMEOUT`` seconds (the answer is cached for the session); ``cached_snapshot(repo)`` finds a
complete model in the local cache. Where each task's model comes
from (hub, cache or the book's own checkpoint) is decided one layer up, in ``lmtutor.tasks``;
MiniLM, the offline sentence encoder, is loaded by ``lmtutor.pretrained``.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .utils import env_flag

__all__ = ["hub_available", "offline_env", "cached_snapshot", "has_model", "has_tokenizer", "partial_snapshot"]

PROBE_TIMEOUT = 1.0  # seconds; the probe never blocks longer, even when DNS itself hangs
PROBE_URL: str | None = None  # None: $HF_ENDPOINT or https://huggingface.co (tests point it elsewhere)
_probe_cache: dict[str, bool] = {}


def offline_env() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks for offline mode."""
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


def _probe(url: str, timeout: float) -> bool:
    """One HEAD request in a daemon thread; an answer below 500 counts as reachable."""
    result = [False]

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            result[0] = True
        except urllib.error.HTTPError as err:
            # 401/404: the hub answered and serves files; 5xx: it is down or overloaded, and
            # from_pretrained would fail after long retries, so it counts as unreachable.
            result[0] = err.code < 500
        except Exception:  # DNS failure, refused, timeout, proxy error: unreachable
            result[0] = False

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)  # a hanging DNS lookup cannot hold us longer than this
    return result[0] and not thread.is_alive()


def hub_available(refresh: bool = False, timeout: float | None = None) -> bool:
    """Is the Hugging Face hub reachable? Instant under ``HF_HUB_OFFLINE=1``, else ≤ ``PROBE_TIMEOUT`` s, cached."""
    if offline_env():
        return False
    url = PROBE_URL or os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/") + "/api/models/gpt2"
    if refresh or url not in _probe_cache:
        _probe_cache[url] = _probe(url, PROBE_TIMEOUT if timeout is None else timeout)
    return _probe_cache[url]


# A tokenizer is usable when one of these sets of files is there (fast, WordPiece, byte-level BPE,
# SentencePiece, Marian). Without it transformers builds an almost empty tokenizer, silently.
TOKENIZER_FILES = (
    ("tokenizer.json",),
    ("vocab.txt",),
    ("vocab.json", "merges.txt"),
    ("spiece.model",),
    ("source.spm", "vocab.json"),
    ("tokenizer.model",),
    ("sentencepiece.bpe.model",),
)


def has_tokenizer(folder: str | Path) -> bool:
    """True if ``folder`` holds the files of a tokenizer (see ``TOKENIZER_FILES``)."""
    return any(all((Path(folder) / f).is_file() for f in files) for files in TOKENIZER_FILES)


def has_model(folder: str | Path) -> bool:
    """True if ``folder`` holds a config and weights."""
    weights = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
    return (Path(folder) / "config.json").is_file() and any((Path(folder) / f).is_file() for f in weights)


def _snapshot_folder(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached at all
        return None


def cached_snapshot(repo_id: str) -> str | None:
    """The folder of ``repo_id`` in the local 🤗 cache if it holds a config, weights *and* a tokenizer, else None.

    A snapshot with the model files but not the tokenizer's (left by a call that fetched only the
    model) does not count: loading it would give a tokenizer that maps every word to ``[UNK]``.
    """
    folder = _snapshot_folder(repo_id)
    return str(folder) if folder is not None and has_model(folder) and has_tokenizer(folder) else None


def partial_snapshot(repo_id: str) -> str | None:
    """The cached folder of ``repo_id`` if it holds the model but not its tokenizer (for error messages)."""
    folder = _snapshot_folder(repo_id)
    return str(folder) if folder is not None and has_model(folder) and not has_tokenizer(folder) else None
