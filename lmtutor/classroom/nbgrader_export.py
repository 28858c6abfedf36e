"""Export a chapter notebook as an nbgrader *source* assignment.

The chapters already use nbgrader's solution markers and cell metadata; the export makes the
notebook one that ``nbgrader generate_assignment`` and ``nbgrader autograde`` accept as is:

- solution cells become "autograded answer" cells (``solution: true, grade: false``), visible;
- check cells become "autograder tests" cells (``grade: true, locked: true`` with the exercise's
  points): they print the check's feedback and ``assert`` that it passed, so nbgrader gives
  the points only for a passing check;
- solution and check cells lose their outputs; all other cells keep theirs (with
  ``c.ClearOutput.enabled = False`` nbgrader releases them with the chapter's figures);
- grade ids use only the characters nbgrader allows (``attention.scaled_dot_product`` becomes
  ``attention-scaled_dot_product`` for the answer and ``attention-scaled_dot_product-check`` for the test).
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

from nbformat import NotebookNode

from .notebooks import (
    NotebookError,
    check_names,
    collect_notebooks,
    is_check_cell,
    is_solution_cell,
    read_notebook,
    write_notebook,
)
from .student import HIDING_TAGS, strip_solution

__all__ = ["nbgrader_id", "to_nbgrader", "export_nbgrader"]

_NBVAL_MARK = re.compile(r"^\s*#\s*NBVAL_\w+\s*$")


def nbgrader_id(name: str, suffix: str = "") -> str:
    """An nbgrader grade_id (letters, digits, ``_`` and ``-`` only) for an exercise name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name) + suffix


def _points(name: str) -> float:
    try:
        from lmtutor.exercises import get

        return float(get(name).points)
    except KeyError:  # defined inside the notebook itself: nbgrader needs a number, 1 like the default
        return 1.0


def _meta(grade_id: str, solution: bool, grade: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return meta


def _test_source(source: str, where: str) -> str:
    """Rewrite each ``lt.check(...)`` statement of a check cell as print + assert."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise NotebookError(
            f"{where}: the check cell is not plain Python ({err.msg}); it cannot be exported."
        ) from None
    lines = source.split("\n")
    calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and check_names(ast.unparse(node.value))
    ]
    if not calls:
        raise NotebookError(f"{where}: a check cell without an lt.check(...) statement.")
    for n, node in enumerate(reversed(calls)):
        var = f"_check{len(calls) - 1 - n}" if len(calls) > 1 else "_check"
        call = ast.get_source_segment(source, node.value)
        indent = " " * node.col_offset
        block = [
            f"{indent}{var} = {call}",
            f"{indent}print({var}.message)",
            f'{indent}assert {var}.passed, "the check did not pass: see its message above"',
        ]
        lines[node.lineno - 1 : node.end_lineno] = block
    header = "# Autograder test (nbgrader): the points are given only when the check passes."
    return "\n".join([header] + [line for line in lines if not _NBVAL_MARK.match(line)])


def _answer_names(nb: NotebookNode) -> dict[int, str]:
    """For each solution cell, the exercise it answers: the first check after it (or its own grade_id)."""
    names, pending = {}, []
    for i, cell in enumerate(nb.cells):
        if is_solution_cell(cell):
            pending.append(i)
        elif is_check_cell(cell) and check_names(cell.source) and pending:
            for j in pending:
                names[j] = check_names(cell.source)[0]
            pending = []
    for j in pending:
        names[j] = nb.cells[j].metadata.get("nbgrader", {}).get("grade_id") or f"answer-{j + 1}"
    return names


def to_nbgrader(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The nbgrader source version of a chapter notebook (a modified copy)."""
    out = copy.deepcopy(nb)
    answers, used = _answer_names(nb), set()

    def unique(grade_id: str) -> str:
        base, k = grade_id, 2
        while grade_id in used:
            grade_id, k = f"{base}-{k}", k + 1
        used.add(grade_id)
        return grade_id

    for i, cell in enumerate(out.cells):
        where = f"{name}, cell {i + 1}"
        meta = cell.setdefault("metadata", {})
        meta.pop("nbgrader", None)
        if is_solution_cell(nb.cells[i]):
            strip_solution(cell.source, where)  # validates the markers; nbgrader removes the region itself
            meta["tags"] = [t for t in meta.get("tags", []) if t not in HIDING_TAGS]
            meta.get("jupyter", {}).pop("source_hidden", None)
            meta["nbgrader"] = _meta(unique(nbgrader_id(answers[i])), solution=True, grade=False)
            cell.outputs = []
        elif is_check_cell(cell) and check_names(cell.source):
            names = check_names(cell.source)
            cell.source = _test_source(cell.source, where)
            points = sum(_points(n) for n in names)
            meta["nbgrader"] = _meta(unique(nbgrader_id(names[0], "-check")), solution=False, grade=True, points=points)
            cell.outputs = []  # the instructor's "✓" must not appear in the release
    out.metadata.pop("lmtutor", None)
    return out


def export_nbgrader(sources: list[str | Path], output: str | Path) -> list[Path]:
    """Write the nbgrader source version of each notebook into the folder ``output``; return the files."""
    output = Path(output)
    if output.suffix == ".ipynb":
        raise NotebookError(f"{output}: give a folder (an nbgrader assignment), e.g. course/source/ch05/.")
    paths = collect_notebooks(sources)
    if any(output.resolve() == p.resolve().parent for p in paths):
        raise NotebookError(f"{output}: refusing to write into the folder of the source notebooks; choose another.")
    converted = [(to_nbgrader(read_notebook(p), p.name), output / p.name) for p in paths]
    return [write_notebook(nb, target) for nb, target in converted]
