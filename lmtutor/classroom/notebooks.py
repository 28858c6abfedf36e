"""Reading, writing and inspecting chapter notebooks: which cells are exercises, which checks they run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ..storage import atomic_file

__all__ = [
    "NotebookError",
    "read_notebook",
    "write_notebook",
    "is_solution_cell",
    "is_check_cell",
    "check_names",
    "expected_exercises",
    "collect_notebooks",
    "find_notebooks",
    "short_source",
]

# `lt.check("attention.scaled_dot_product", attention)`, also `lmtutor.exercises.check(...)` or `check(...)`.
_CHECK_CALL = re.compile(r"""\bcheck\(\s*(['"])(?P<name>[^'"\n]+)\1""")


class NotebookError(ValueError):
    """A file that is not a readable notebook, or a notebook that breaks the exercise conventions."""


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a notebook (nbformat 4), with one clear message for a missing, corrupted or invalid file."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook file. Check the path.")
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except UnicodeDecodeError as err:
        raise NotebookError(f"{path}: not a notebook (not UTF-8 text: {err.reason}).") from None
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"{path}: not a readable notebook: invalid JSON at line {err.lineno}, column {err.colno} "
            f"({err.msg}). The file is probably truncated or was edited by hand; download it again "
            "or open it in Jupyter and save it."
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or "nbformat" not in raw:
        raise NotebookError(f"{path}: valid JSON but not a Jupyter notebook (no 'cells' list or 'nbformat' field).")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several kinds for broken structure
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotebookError(f"{path}: not a valid notebook ({first_line[:200]}).") from None
    return nb


def write_notebook(nb: NotebookNode, path: str | Path) -> Path:
    """Write a notebook atomically: a reader never sees a half-written file."""
    with atomic_file(path, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    return Path(path)


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution_cell(cell: NotebookNode) -> bool:
    """A cell the student build turns into a stub: tagged "solution" or an nbgrader solution cell."""
    return "solution" in _tags(cell) or cell.get("metadata", {}).get("nbgrader", {}).get("solution") is True


def is_check_cell(cell: NotebookNode) -> bool:
    """A cell that runs an exercise's check: tagged "check"."""
    return cell.get("cell_type") == "code" and "check" in _tags(cell)


def check_names(source: str) -> list[str]:
    """Names of the exercises checked in a piece of code, in order: ``lt.check("name", fn)`` -> ["name"]."""
    return [m.group("name") for m in _CHECK_CALL.finditer(source)]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def expected_exercises(nb: NotebookNode) -> list[str]:
    """Exercises a notebook assigns: its check cells, plus those the student build recorded in its metadata."""
    recorded = nb.get("metadata", {}).get("lmtutor", {}).get("exercises", [])
    in_cells = [name for cell in nb.cells if is_check_cell(cell) for name in check_names(cell.source)]
    return _unique([n for n in recorded if isinstance(n, str)] + in_cells)


def collect_notebooks(sources: Iterable[str | Path]) -> list[Path]:
    """The notebooks named by ``sources``: ``.ipynb`` files, and the ``*.ipynb`` directly inside folders."""
    paths: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            found = sorted(p for p in src.glob("*.ipynb") if p.is_file())
            if not found:
                raise NotebookError(f"{src}: no .ipynb files in this folder.")
            paths += found
        elif src.suffix == ".ipynb" and src.is_file():
            paths.append(src)
        else:
            raise NotebookError(f"{src}: not a notebook (.ipynb) or a folder of notebooks. Check the path.")
    return paths


def find_notebooks(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Every ``*.ipynb`` under ``folder`` (sorted), skipping checkpoints and anything inside ``exclude``."""
    exclude = exclude.resolve() if exclude else None
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        if exclude and (path.resolve() == exclude or exclude in path.resolve().parents):
            continue
        found.append(path)
    return found


def short_source(cell: NotebookNode, limit: int = 60) -> str:
    """The first non-empty, non-comment line of a cell, shortened: how a teacher recognises the cell."""
    lines = [ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()]
    code = [ln for ln in lines if not ln.startswith("#")] or lines or [""]
    line = code[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."
