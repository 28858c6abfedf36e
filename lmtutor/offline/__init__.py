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

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoint import clean_stale_temps
from ..recipes import cache_dir

__all__ = ["OfflineCheckpoint", "BUILDERS", "build", "checkpoint_root", "atomic_folder", "cached_or_build"]
__all__ += ["quiet_transformers", "read_info", "write_info"]

INFO_FILE = "lmtutor_info.json"  # description, metrics and examples next to the weights


@dataclass
class OfflineCheckpoint:
    """A folder that ``from_pretrained`` reads, and what the book measured about its model."""

    name: str
    path: Path
    description: str  # e.g. "the book's Shakespeare GPT exported to GPT-2 format"
    metrics: dict = field(default_factory=dict)  # held-out quality, training steps and seconds
    examples: list[str] = field(default_factory=list)  # inputs that suit the model

    def quality(self) -> str:
        """The measured quality as a short phrase, e.g. ``"val loss 1.69"`` or ``"exact match 98% on 200 held-out"``."""
        m = self.metrics
        if "val_loss" in m:
            return f"val loss {m['val_loss']:.2f}"
        shown = [k for k in m if k.endswith(("accuracy", "match", "f1"))]
        parts = [f"{k.replace('_', ' ').replace('f1', 'F1')} {100 * m[k]:.0f}%" for k in shown]
        held = f" on {m['n_test']} held-out examples" if "n_test" in m else ""
        return ", ".join(parts) + held


def checkpoint_root() -> Path:
    """Folder of the book's 🤗 checkpoints: ``<LMTUTOR_CACHE_DIR or ~/.cache/lmtutor/runs>/hf``."""
    return cache_dir() / "hf"


@contextlib.contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``final``; rename it to ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(final.parent / f".{final.name}", ".tmp")  # left by builds that were interrupted
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists():  # another process finished first: keep its folder
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_info(folder: Path, **info) -> None:
    """Store the description, metrics and examples of a checkpoint in its folder."""
    (Path(folder) / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_info(folder: Path) -> dict:
    """The info a builder stored with ``write_info``."""
    return json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))


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


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence 🤗 warnings and progress bars while a checkpoint is built, then restore the caller's settings."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # e.g. "some weights are newly initialised": expected for a new head
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def cached_or_build(name: str, folder: Path, make: Callable[[Path], dict]) -> OfflineCheckpoint:
    """Load ``folder``'s info if it exists, else run ``make(tmp)`` (which saves the model and returns the info)."""
    if not (folder / INFO_FILE).exists():
        if folder.exists():  # not written by this module (writes are atomic): build it again
            shutil.rmtree(folder)
        print(f"Building the book's {name} checkpoint (first use only; cached afterwards) ...", flush=True)
        with atomic_folder(folder) as tmp, quiet_transformers():
            write_info(tmp, **make(tmp))
    info = read_info(folder)
    return OfflineCheckpoint(name, folder, info["description"], info.get("metrics", {}), info.get("examples", []))


# The submodules are part of the package's interface (chapter 13 uses ``lt.offline.data`` and
# ``lt.offline.encoders`` whatever the source of its models): import them with the package, after
# the names above that they import from it.
from . import data, encoders, gpt2, seq2seq, tok  # noqa: E402, F401
