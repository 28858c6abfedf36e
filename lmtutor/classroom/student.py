"""The student build: chapter notebooks with every solution replaced by a stub.

In each solution cell the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become
``raise NotImplementedError()`` (same indentation), so the function signature and docstring stay
and the check reports "not attempted yet". Solution and check cells lose their outputs, solution
cells become visible, every execution count is reset; all other cells and outputs stay as they are.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from nbformat import NotebookNode

from .notebooks import (
    NotebookError,
    collect_notebooks,
    expected_exercises,
    is_check_cell,
    is_solution_cell,
    read_notebook,
    write_notebook,
)

__all__ = ["STUB", "HIDING_TAGS", "strip_solution", "make_student_notebook", "build_student"]

STUB = "raise NotImplementedError()"
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*BEGIN SOLUTION[ \t]*$")
_END = re.compile(r"^[ \t]*#+[ \t]*END SOLUTION[ \t]*$")
HIDING_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of ``source`` by the stub."""
    out: list[str] = []
    inside = False
    found = False
    for number, line in enumerate(source.split("\n"), 1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if inside:
                raise NotebookError(
                    f"{where}: a second '### BEGIN SOLUTION' at line {number} before '### END SOLUTION'."
                )
            inside, found = True, True
            out.append(begin.group("indent") + STUB)
        elif end:
            if not inside:
                raise NotebookError(f"{where}: '### END SOLUTION' at line {number} without a '### BEGIN SOLUTION'.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise NotebookError(f"{where}: '### BEGIN SOLUTION' is never closed; add '### END SOLUTION' after the answer.")
    if not found:
        raise NotebookError(
            f"{where} is marked as a solution but has no '### BEGIN SOLUTION' / '### END SOLUTION' "
            "markers: put the lines students must write between them."
        )
    return "\n".join(out)


def _student_cell(cell: NotebookNode, where: str) -> NotebookNode:
    """The student version of one cell (a modified copy)."""
    cell = copy.deepcopy(cell)
    meta = cell.setdefault("metadata", {})
    meta.pop("execution", None)  # timings recorded by the instructor's run
    if cell.cell_type != "code":
        if is_solution_cell(cell):
            raise NotebookError(f"{where} is marked as a solution but is a {cell.cell_type} cell; use a code cell.")
        return cell
    if is_solution_cell(cell):
        cell.source = strip_solution(cell.source, where)
        meta["tags"] = [t for t in meta.get("tags", []) if t not in HIDING_TAGS]
        jupyter = meta.get("jupyter", {})
        jupyter.pop("source_hidden", None)
        jupyter.pop("outputs_hidden", None)
        if not jupyter:
            meta.pop("jupyter", None)
    elif any(_BEGIN.match(line) or _END.match(line) for line in cell.source.split("\n")):
        raise NotebookError(
            f"{where} contains solution markers but is not tagged 'solution': add the tag "
            "(so that the answer is removed) or remove the markers."
        )
    if is_solution_cell(cell) or is_check_cell(cell):
        cell.outputs = []
    cell.execution_count = None
    for output in cell.get("outputs", []):
        if "execution_count" in output:
            output["execution_count"] = None
    return cell


def make_student_notebook(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The student version of a notebook; ``name`` only appears in error messages and metadata."""
    student = copy.deepcopy(nb)
    student.cells = [_student_cell(cell, f"{name}, cell {i + 1}") for i, cell in enumerate(nb.cells)]
    exercises = expected_exercises(nb)
    student.metadata["lmtutor"] = {"student_version": True, "source": name, "exercises": exercises}
    leaked = [i + 1 for i, c in enumerate(student.cells) if c.cell_type == "code" and "BEGIN SOLUTION" in c.source]
    if leaked:  # defence in depth: nothing between markers may survive
        raise NotebookError(
            f"{name}: cells {leaked} mention 'BEGIN SOLUTION' outside a marker line; "
            "write '### BEGIN SOLUTION' and '### END SOLUTION' on lines of their own."
        )
    return student


def _target(path: Path, output: Path, single: bool) -> Path:
    target = output if (single and output.suffix == ".ipynb") else output / path.name
    if target.resolve() == path.resolve() or target.resolve().parent == path.resolve().parent:
        raise NotebookError(
            f"{target}: refusing to write the student version next to its source {path} "
            "(it would overwrite or mix with the instructor's notebooks). "
            "Choose another output folder, e.g. -o student/."
        )
    return target


def build_student(sources: list[str | Path], output: str | Path) -> list[Path]:
    """Write the student version of each notebook (or folder of notebooks) into ``output``; return the files."""
    paths = collect_notebooks(sources)
    output = Path(output)
    single = len(paths) == 1 and output.suffix == ".ipynb"
    if output.suffix == ".ipynb" and not single:
        raise NotebookError(f"{output}: a file name, but there are {len(paths)} notebooks; give a folder.")
    plan = [(path, _target(path, output, single)) for path in paths]
    targets = [target.resolve() for _, target in plan]
    if len(set(targets)) < len(targets):
        raise NotebookError("two source notebooks have the same file name; build them into different folders.")
    built = [(make_student_notebook(read_notebook(path), path.name), target) for path, target in plan]
    return [write_notebook(nb, target) for nb, target in built]  # written only once every notebook built
