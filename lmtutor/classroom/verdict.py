"""Grader side of grading: the grader's inputs for each exercise, and the verdict on what the kernel returned.

The grader process holds the exercises (``lmtutor.exercises`` plus an optional instructor file of
exercises and instructor-only cases that never reaches the student's kernel). For each exercise it
writes the inputs of every case for the kernel (``write_inputs``), then reads the outcomes the
kernel saved (``read_outcomes``, ``torch.load(weights_only=True)``: the file cannot run code here)
and judges them against the reference, here (``verdict``).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import torch

from lmtutor.exercises import INSTRUCTOR_CASES, REGISTRY, Case, CheckResult, Exercise, judge, load_all, run_case
from lmtutor.exercises._data import unplain

from .harvest import fingerprint
from .notebooks import NotebookError

__all__ = [
    "COPY_FLAG",
    "MAX_OUTPUT_BYTES",
    "load_instructor_file",
    "grading_cases",
    "write_inputs",
    "read_outcomes",
    "verdict",
]

MAX_OUTPUT_BYTES = 64 * 2**20  # a learner's outputs larger than this are not read
COPY_FLAG = "⚑ review: the function's compiled code is identical to the package's reference (a copy?)."
_STATUSES = ("ok", "error", "not_attempted")


def load_instructor_file(path: str | Path) -> None:
    """Run an instructor's Python file: it may ``register`` exercises and ``add_instructor_cases``.

    The file stays with the grader: the student's kernel never receives it, only the inputs of its
    cases when the learner's function is run on them.
    """
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such instructor cases file (a .py file that registers cases).")
    load_all()
    INSTRUCTOR_CASES.clear()  # loading the file again replaces its cases
    try:
        runpy.run_path(str(path), run_name="lmtutor_instructor_cases")
    except Exception as err:
        raise NotebookError(f"{path}: the instructor cases file failed: {type(err).__name__}: {err}") from None
    unknown = sorted(set(INSTRUCTOR_CASES) - set(REGISTRY))
    if unknown:
        raise NotebookError(f"{path}: instructor cases for exercises that are not registered: {unknown}")
    for name, cases in INSTRUCTOR_CASES.items():
        for case in cases:
            outcome = run_case(REGISTRY[name].reference, case)
            if outcome["status"] != "ok":
                why = outcome.get("error", "not implemented")
                raise NotebookError(f"{path}: the reference of {name!r} fails on the case {case.label!r}: {why}")


def grading_cases(name: str) -> tuple[Exercise, list[Case], int] | None:
    """The exercise, its public then instructor-only cases, and how many are instructor-only; None if unknown."""
    ex = load_all().get(name)
    if ex is None:
        return None
    hidden = list(INSTRUCTOR_CASES.get(name, []))
    return ex, ex.get_cases() + hidden, len(hidden)


def write_inputs(cases: list[Case], path: Path) -> None:
    """The inputs of every case, for the kernel (``torch.save``)."""
    torch.save([(tuple(c.args), dict(c.kwargs)) for c in cases], path)


def _valid(outcome: object) -> bool:
    return isinstance(outcome, dict) and outcome.get("status") in _STATUSES


def read_outcomes(path: Path, count: int) -> tuple[list[dict], str, str]:
    """The kernel's outcomes (one per case) and the function's fingerprint, or ([], why not, "")."""
    if not path.is_file():
        return [], "the grader's cell for this exercise did not run", ""
    if path.stat().st_size > MAX_OUTPUT_BYTES:
        return [], f"the outputs are larger than {MAX_OUTPUT_BYTES // 2**20} MiB", ""
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:
        return [], f"the outputs could not be read ({type(err).__name__})", ""
    if not isinstance(data, dict):
        return [], "the outputs are not in the grader's format", ""
    if data.get("problem"):
        return [], str(data["problem"])[:500], ""
    outcomes = data.get("outcomes")
    if not isinstance(outcomes, list) or len(outcomes) != count or not all(map(_valid, outcomes)):
        return [], "the outputs are not in the grader's format (one result for each case)", ""
    for outcome in outcomes:
        if outcome["status"] == "ok":
            outcome["value"] = unplain(outcome.get("value"))
    return outcomes, "", str(data.get("fingerprint", ""))


def verdict(name: str, path: Path) -> CheckResult:
    """The grader's verdict on exercise ``name`` from the outcomes file the kernel wrote."""
    ex, cases, hidden = grading_cases(name)
    outcomes, problem, print_ = read_outcomes(path, len(cases))
    if problem:
        return CheckResult(name, "error", 0, ex.points, f"✗ {ex.title}: not graded: {problem}.")
    res = judge(ex, cases, outcomes, hidden=hidden, grading=True)
    if print_ and print_ == fingerprint(ex.reference):
        res.message = f"{COPY_FLAG} {res.message}"
    return res
