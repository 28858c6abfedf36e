"""What was handed in: every file of the submissions folder, read into memory before anything runs.

Every file gets an entry, so every file gets a row in the report: a notebook (``.ipynb``) is
graded; anything else (``.IPYNB``, ``.ipynb.json``, ``.py``, a link, a file too large) gets a
message saying why it was not graded. Reading all files first means no submission can change
another one on disk before it is graded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_BYTES", "Submission", "collect_submissions"]

MAX_BYTES = 50 * 2**20  # a notebook larger than this is not graded


@dataclass
class Submission:
    """One handed-in file: who, its name, its bytes, and why it is not graded ("" if it is)."""

    student: str
    name: str
    data: bytes
    problem: str = ""


def _looks_like_notebook(data: bytes) -> bool:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(raw, dict) and "cells" in raw


def _problem(path: Path, data: bytes | None) -> str:
    """Why a file is not graded ("" for a notebook that can be graded)."""
    if path.is_symlink():
        return f"handed in as '{path.name}': a link, not a file; not graded (0 points)."
    if data is None:
        return f"handed in as '{path.name}': larger than {MAX_BYTES // 2**20} MiB; not graded (0 points)."
    if path.suffix == ".ipynb":
        return ""
    text = f"handed in as '{path.name}': not a .ipynb notebook, so it was not graded (0 points)."
    if _looks_like_notebook(data):
        return text + " It contains a notebook: rename it to end in .ipynb and grade again."
    if path.suffix.lower() == ".py":
        return text + " It is a Python file: hand in the notebook itself."
    return text


def _student(path: Path, root: Path) -> str:
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    return rel.with_suffix("").as_posix() if path.suffix == ".ipynb" else rel.as_posix()


def _files(root: Path, exclude: Path | None) -> list[Path]:
    if not root.is_dir():
        return [root]
    exclude = exclude.resolve() if exclude else None
    found = []
    for path in sorted(root.rglob("*")):
        if ".ipynb_checkpoints" in path.parts or (path.is_dir() and not path.is_symlink()):
            continue
        if exclude and (path.resolve() == exclude or exclude in path.resolve().parents):
            continue
        found.append(path)
    return found


def collect_submissions(root: Path, exclude: Path | None = None) -> list[Submission]:
    """Every file under ``root`` (or ``root`` itself), read now; raises if there is nothing to grade."""
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder or notebook. Give the folder of submitted notebooks.")
    subs = []
    for path in _files(root, exclude):
        try:
            small = not path.is_symlink() and path.stat().st_size <= MAX_BYTES
            data = path.read_bytes() if small else None
            problem = _problem(path, data)
        except OSError as err:
            data, problem = None, f"handed in as '{path.name}': could not be read ({err.strerror}); not graded."
        subs.append(Submission(_student(path, root), path.name, data or b"", problem))
    if not subs:
        raise FileNotFoundError(f"{root}: no .ipynb files (no files at all) in this folder.")
    return subs
