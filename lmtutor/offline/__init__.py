"""The book's own checkpoints in 🤗 format, for readers without the hub (chapter 13).

Each builder trains (or exports) a small model of the same architecture as a hub model and
saves it with ``save_pretrained`` into ``<cache>/hf/<name>-<steps>``, so the chapter code
``AutoTokenizer.from_pretrained(folder)`` / ``GPT2LMHeadModel.from_pretrained(folder)`` runs
exactly as with ``"gpt2"``. Folders are written atomically (temporary folder, then rename) and
reused on later calls; fast-mode builds use fewer steps and so get other folders.

* ``shakespeare-gpt2``: ``GPT2LMHeadModel`` (for gpt2), the chapter-9 Shakespeare GPT exported;
* ``t5-tasks``: ``T5ForConditionalGeneration`` (for t5-small), dates -> ISO and match summaries;
* ``marian-dates``: ``MarianMTModel`` (for opus-mt-en-fr), dates -> ISO;
* ``minilm-sentiment``: ``BertForSequenceClassification`` from MiniLM, the book's sentiment sentences;
* ``minilm-qa``: ``BertForQuestionAnswering`` from MiniLM, the book's QA passages.
"""

from __future__ import annotations

from collections.abc import Callable

from . import data, encoders, gpt2, seq2seq, tok  # noqa: F401  (lt.offline.data etc. are public)
from .store import (
    INFO_FILE,
    OfflineCheckpoint,
    atomic_folder,
    cached_or_build,
    checkpoint_root,
    quiet_transformers,
    read_info,
    write_info,
)

__all__ = ["OfflineCheckpoint", "BUILDERS", "build", "checkpoint_root", "atomic_folder", "cached_or_build"]
__all__ += ["INFO_FILE", "quiet_transformers", "read_info", "write_info"]


def _builders() -> dict[str, Callable[..., OfflineCheckpoint]]:
    return {
        "shakespeare-gpt2": gpt2.shakespeare_gpt2,
        "t5-tasks": seq2seq.t5_tasks,
        "marian-dates": seq2seq.marian_dates,
        "minilm-sentiment": encoders.minilm_sentiment,
        "minilm-qa": encoders.minilm_qa,
    }


BUILDERS = ("shakespeare-gpt2", "t5-tasks", "marian-dates", "minilm-sentiment", "minilm-qa")


def build(name: str, **kwargs) -> OfflineCheckpoint:
    """The checkpoint ``name`` (see the table above): loaded from the cache, or built and cached first."""
    builders = _builders()
    if name not in builders:
        raise ValueError(f"unknown offline checkpoint {name!r}; choose one of {', '.join(BUILDERS)}")
    return builders[name](**kwargs)
