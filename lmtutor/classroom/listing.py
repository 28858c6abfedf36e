"""The list of exercises per chapter, generated from the chapter notebooks and the exercise registry.

``lmtutor exercises --notebooks notebooks --update book/instructors.md`` rewrites the lines
between the two marker comments of the instructor page, so that the page never goes stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from .notebooks import NotebookError, expected_exercises, read_notebook

__all__ = ["BEGIN_MARK", "END_MARK", "chapters", "exercise_listing", "update_markdown_block"]

BEGIN_MARK = (
    "% lmtutor-exercises: begin (generated: lmtutor exercises --notebooks notebooks --update book/instructors.md)"
)
END_MARK = "% lmtutor-exercises: end"


def chapters(folder: Path) -> list[tuple[str, str, list[str]]]:
    """(file name, chapter title, exercise names) for every chapter notebook ``NN_*.ipynb`` in ``folder``."""
    if not folder.is_dir():
        raise NotebookError(f"{folder}: no such folder of chapter notebooks.")
    found = []
    for path in sorted(folder.glob("[0-9]*.ipynb")):
        nb = read_notebook(path)
        titles = [c.source.strip().splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]
        title = titles[0].lstrip("#").strip() if titles and titles[0].startswith("# ") else path.stem
        found.append((path.name, title, expected_exercises(nb)))
    return found


def _natural(text: str) -> list:
    """Sort key that puts "Exercise 9.1" before "Exercise 10.1"."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _registry() -> dict:
    from lmtutor.exercises import load_all

    return dict(load_all())


def _describe(name: str, registry: dict, markdown: bool) -> list[str]:
    ex = registry.get(name)
    if ex is None:
        return [f"- `{name}`: not registered in lmtutor.exercises" if markdown else f"  {name}  (not registered)"]
    cases = [case.label for case in ex.get_cases()]
    unit = "point" if ex.points == 1 else "points"
    if not markdown:
        return [
            f"  {name:40s} {ex.title} ({ex.points} {unit}, {len(cases)} cases, {len(ex.mistakes)} typical mistakes)"
        ]
    lines = [f"- **{ex.title}** (`{name}`, {ex.points} {unit}). Cases: {'; '.join(cases)}."]
    if ex.mistakes:
        lines.append("  Wrong solutions it recognises, with the hint it gives:")
        lines += [f"  - {m.hint}" for m in ex.mistakes]
    return lines


def exercise_listing(notebooks: Path | None = None, markdown: bool = False) -> str:
    """The exercises, per chapter when ``notebooks`` is a folder of chapters, else per topic module."""
    registry = _registry()
    groups: list[tuple[str, list[str]]] = []
    if notebooks is not None:
        for file, title, names in chapters(Path(notebooks)):
            groups.append((f"{title} (`{file}`)" if markdown else f"{file}: {title}", names))
        used = {n for _, names in groups for n in names}
        unused = [n for n in sorted(registry, key=lambda n: _natural(registry[n].title)) if n not in used]
        unused = [n for n in unused if not n.startswith("_")]  # "_": exercises of tests and demos
        if unused:
            groups.append(("Registered but not used in a chapter", unused))
    else:
        public = [n for n in registry if not n.startswith("_")]
        for name in sorted(public, key=lambda n: (n.split(".")[0], _natural(registry[n].title))):
            topic = name.split(".")[0]
            if not groups or groups[-1][0] != topic:
                groups.append((topic, []))
            groups[-1][1].append(name)
    if not groups:
        return "No exercises found."
    lines: list[str] = []
    for heading, names in groups:
        lines += [f"### {heading}", ""] if markdown else [heading]
        lines += [line for name in names for line in _describe(name, registry, markdown)] or ["  (no exercises)"]
        lines += [""] if markdown else []
    return "\n".join(lines).rstrip() + "\n"


def update_markdown_block(path: Path, block: str) -> bool:
    """Replace the generated block between the marker lines of a Markdown file; True if it changed."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if BEGIN_MARK not in lines or END_MARK not in lines:
        raise NotebookError(f"{path}: add the two marker lines\n{BEGIN_MARK}\n{END_MARK}\nwhere the list belongs.")
    start, end = lines.index(BEGIN_MARK), lines.index(END_MARK)
    if end < start:
        raise NotebookError(f"{path}: the end marker comes before the begin marker.")
    new = "\n".join(lines[: start + 1] + ["", block.rstrip("\n"), ""] + lines[end:])
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
