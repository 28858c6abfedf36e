"""The grader's cells: where each exercise is checked, and the cell inserted after it that collects outputs.

``check_calls`` finds, for each exercise, the last ``check("name", fn)`` call in the notebook and
the expression passed as the function. ``add_harvest_cells`` inserts after that cell a cell of
the grader's own (``harvest.harvest``) and writes the inputs it will run the function on.
``show_verdicts`` puts the grader's verdict in that cell of the executed notebook, as feedback.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from .verdict import write_inputs

__all__ = ["GRADER_TAG", "check_calls", "add_harvest_cells", "show_verdicts"]

GRADER_TAG = "lmtutor-grader"
_SIMPLE = re.compile(r"""\bcheck\(\s*(['"])(?P<name>[^'"\n]+)\1\s*,\s*(?P<fn>[A-Za-z_][\w.]*)\s*\)""")


def _calls_in(source: str) -> list[tuple[str, str]]:
    """(exercise name, function expression) of every ``check`` call in a cell, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: the simple form only
        return [(m.group("name"), m.group("fn")) for m in _SIMPLE.finditer(source)]
    found = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        name = getattr(func, "id", None) or getattr(func, "attr", None)
        args = getattr(node, "args", [])
        if isinstance(node, ast.Call) and name == "check" and len(args) >= 2:
            if isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.append((node.lineno, node.col_offset, args[0].value, ast.unparse(args[1])))
    return [(n, fn) for _, _, n, fn in sorted(found)]


def check_calls(nb: NotebookNode) -> dict[str, tuple[int, str]]:
    """For each exercise checked in the notebook: (index of the cell with its last check, function expression)."""
    calls: dict[str, tuple[int, str]] = {}
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            for name, fn in _calls_in(cell.get("source", "")):
                calls[name] = (i, fn)
    return calls


def _harvest_cell(name: str, fn: str, inputs: Path, outputs: Path) -> NotebookNode:
    args = ", ".join(json.dumps(str(x)) for x in (inputs, outputs))
    source = (
        "# Added by the grader, not part of the submission: runs the function checked above on the grader's inputs.\n"
        f'__import__("lmtutor.classroom.harvest", fromlist=["harvest"]).harvest({json.dumps(name)}, '
        f"lambda: ({fn}), {args})"
    )
    return new_code_cell(source, metadata={"tags": [GRADER_TAG]})


def add_harvest_cells(
    nb: NotebookNode, names: list[str], work: Path, cases: Callable
) -> tuple[NotebookNode, dict[str, tuple[int, str]]]:
    """A copy of ``nb`` with a grader cell after each exercise's check; the plan {name: (cell index, outputs file)}.

    The inputs of each exercise's cases (``cases(name)[1]``) are written into ``work``.
    """
    calls = {n: c for n, c in check_calls(nb).items() if n in names}
    after: dict[int, list[str]] = {}
    for name, (index, _) in calls.items():
        after.setdefault(index, []).append(name)
    run = copy.deepcopy(nb)
    run.cells, plan = [], {}
    for i, cell in enumerate(nb.cells):
        run.cells.append(copy.deepcopy(cell))
        for k, name in enumerate(after.get(i, []), len(plan)):
            inputs, outputs = f"inputs-{k}.pt", f"outputs-{k}.pt"
            write_inputs(cases(name)[1], work / inputs)
            run.cells.append(_harvest_cell(name, calls[name][1], work / inputs, work / outputs))
            plan[name] = (len(run.cells) - 1, outputs)
    return run, plan


def show_verdicts(executed: NotebookNode, plan: dict[str, tuple[int, str]], grades: list) -> None:
    """Put each exercise's verdict (``grades``: objects with ``exercise`` and ``message``) in its grader cell."""
    messages = {g.exercise: g.message for g in grades}
    for name, (index, _) in plan.items():
        if index < len(executed.cells) and name in messages:
            text = f"Grader: {messages[name]}\n"
            executed.cells[index].outputs = [new_output("stream", name="stdout", text=text)]
