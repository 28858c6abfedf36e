"""Where the book's 🤗 checkpoints live and how they are written: atomically, once, with their info.

The builders of ``lmtutor.offline`` (``gpt2``, ``seq2seq``, ``encoders``) save their models through
``cached_or_build``; the package ``lmtutor.offline`` lists them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..storage import atomic_folder, cache_dir

__all__ = ["OfflineCheckpoint", "checkpoint_root", "atomic_folder", "cached_or_build", "quiet_transformers"]
__all__ += ["read_info", "write_info"]

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


def write_info(folder: Path, **info) -> None:
    """Store the description, metrics and examples of a checkpoint in its folder."""
    (Path(folder) / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_info(folder: Path) -> dict:
    """The info a builder stored with ``write_info``."""
    return json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))


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
