"""Hugging Face hub models with an offline fallback that never hangs (chapter 13).

``resolve(task)`` answers one question fast: where should ``from_pretrained`` load this task's
model from? Online it is the hub model the sources name (``"gpt2"``, ``"t5-small"``, ...);
with the hub unreachable it is that model's folder in the local 🤗 cache if it is there, else a
checkpoint of the same architecture that the book builds itself (``lmtutor.offline``). The
hub check honours ``HF_HUB_OFFLINE=1`` at once and otherwise probes the hub in a background
thread for at most ``PROBE_TIMEOUT`` seconds; the answer is cached for the session.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HubTask", "Resolved", "TASKS", "hub_available", "offline_env", "cached_snapshot", "resolve", "load"]
__all__ += ["has_model", "has_tokenizer", "partial_snapshot"]

PROBE_TIMEOUT = 1.0  # seconds; the probe never blocks longer, even when DNS itself hangs
PROBE_URL: str | None = None  # None: $HF_ENDPOINT or https://huggingface.co (tests point it elsewhere)
_probe_cache: dict[str, bool] = {}


@dataclass(frozen=True)
class HubTask:
    """A task of the chapter: the hub model readers load online and the book's offline stand-in."""

    hub_name: str  # repository id on the hub, as the sources write it
    model_class: str  # the 🤗 class that loads both checkpoints
    offline_name: str  # name of the builder in lmtutor.offline.BUILDERS
    hub_examples: tuple[str, ...]  # inputs that suit the hub model


TASKS: dict[str, HubTask] = {
    "text-generation": HubTask("gpt2", "GPT2LMHeadModel", "shakespeare-gpt2", ("Hello, how are you?",)),
    "translation": HubTask(
        "t5-small", "T5ForConditionalGeneration", "t5-tasks", ("translate English to French: Hello, how are you?",)
    ),
    "translation-marian": HubTask(
        "Helsinki-NLP/opus-mt-en-fr", "MarianMTModel", "marian-dates", ("This is an example sentence.",)
    ),
    "summarization": HubTask(
        "t5-small",
        "T5ForConditionalGeneration",
        "t5-tasks",
        (
            "summarize: The city council met on Tuesday evening and, after a long debate about traffic and "
            "parking, voted to close the old bridge to cars from next spring while keeping it open to bicycles.",
        ),
    ),
    "question-answering": HubTask(
        "distilbert-base-cased-distilled-squad", "AutoModelForQuestionAnswering", "minilm-qa", ()
    ),
    "sentiment-analysis": HubTask(
        "distilbert-base-uncased-finetuned-sst-2-english", "AutoModelForSequenceClassification", "minilm-sentiment", ()
    ),
}


@dataclass
class Resolved:
    """Where to load a task's model from, and a truthful sentence saying what it is."""

    task: str
    source: str  # "hub", "cache" (local 🤗 cache) or "book" (the book's own checkpoint)
    path: str  # give this to from_pretrained: a hub id or a local folder
    description: str
    examples: list[str] = field(default_factory=list)  # inputs that suit this model
    metrics: dict = field(default_factory=dict)  # held-out quality of a book checkpoint

    def __str__(self) -> str:
        return self.description


def offline_env() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks for offline mode."""
    flags = (os.environ.get(k, "") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(v.strip().lower() in {"1", "true", "yes", "on"} for v in flags)


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


def _task(task: str) -> HubTask:
    if task not in TASKS:
        import difflib

        close = difflib.get_close_matches(task, TASKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {task!r}.{hint} Choose one of: {', '.join(TASKS)}.")
    return TASKS[task]


def resolve(task: str, source: str = "auto") -> Resolved:
    """Where ``from_pretrained`` should load ``task``'s model from: the hub, the local cache or the book's checkpoint.

    ``source="auto"`` picks the hub when it is reachable; ``"book"`` always uses the book's checkpoint.
    """
    spec = _task(task)
    if source not in ("auto", "book"):
        raise ValueError(f"source must be 'auto' or 'book', got {source!r}")
    if source == "auto":
        if hub_available():
            desc = f"model: {spec.hub_name} from the Hugging Face hub"
            return Resolved(task, "hub", spec.hub_name, desc, list(spec.hub_examples))
        folder = cached_snapshot(spec.hub_name)
        if folder is not None:
            desc = f"model: {spec.hub_name} from the local Hugging Face cache (the hub is not reachable)"
            return Resolved(task, "cache", folder, desc, list(spec.hub_examples))
    from . import offline

    built = offline.build(spec.offline_name)
    why = "offline fallback" if source == "auto" else "chosen with source='book'"
    desc = f"model: {built.description} ({why}; {built.quality()})"
    return Resolved(task, "book", str(built.path), desc, list(built.examples), dict(built.metrics))


def load(task: str, source: str = "auto"):
    """``(model, tokenizer, resolved)`` for ``task``, loaded with the task's 🤗 class and ``AutoTokenizer``."""
    import transformers

    where = resolve(task, source)
    model_class = getattr(transformers, _task(task).model_class)
    tokenizer = transformers.AutoTokenizer.from_pretrained(where.path)
    model = model_class.from_pretrained(where.path)
    return model.eval(), tokenizer, where
