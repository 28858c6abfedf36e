"""The exercise checker: run a learner's function on reference cases and explain what went wrong.

An exercise is a reference function, a list of cases (edge cases included) and a list of
typical mistakes, each a wrong implementation with a hint that names the kind of mistake. When a
learner's output differs from the reference, the checker looks for the mistake whose output
matches the learner's and prints its hint. It never prints the reference code.

Two modes. Practice (``lt.check`` in a notebook): the learner's function runs on the public cases
and the verdict is printed at once. Grading (``LMTUTOR_GRADING=1``, set by ``lmtutor grade`` for
the student's kernel): ``check`` only records the call; the grader runs the function on its own
inputs (public and instructor-only cases) and judges the outputs in its own process with
``judge`` (see ``lmtutor/classroom/verdict.py``).
"""

from __future__ import annotations

import copy
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..utils import did_you_mean
from ._data import compare, plain, short

__all__ = [
    "Case",
    "Mistake",
    "Exercise",
    "CheckResult",
    "register",
    "get",
    "check",
    "compare",
    "judge",
    "run_case",
    "add_instructor_cases",
    "INSTRUCTOR_CASES",
    "REGISTRY",
]

GRADING_ENV = "LMTUTOR_GRADING"  # "1" in the student's kernel while ``lmtutor grade`` runs it
ERROR_HINT = "the error above names the line of your code that failed: check the shapes and types it works on."
GENERIC_HINT = (
    "Your result differs from the expected one on this case: compare each step of your code with the "
    "exercise text (the formula, the axis or dimension, the shapes and the edge case named in the label)."
)


@dataclass
class Case:
    """One input on which the learner's function must agree with the reference."""

    label: str  # shown to the learner, e.g. "a fully masked row"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A typical wrong implementation and the hint that points at the fix."""

    fn: Callable
    hint: str


@dataclass
class Exercise:
    """A registered exercise: ``check(name, fn)`` compares ``fn`` with ``reference`` on ``cases``."""

    name: str
    title: str
    reference: Callable
    cases: Sequence[Case] | Callable[[], Sequence[Case]]
    mistakes: Sequence[Mistake] = ()
    hint: str = GENERIC_HINT  # shown when no typical mistake matches: the kind of mistake, never the code
    atol: float = 1e-5
    rtol: float = 1e-4
    points: int = 1
    show_expected: bool = True  # False where the expected value would give the answer away (practice only)
    inputs_readonly: bool = True  # the task says "return": changing an input in place is a mistake

    def get_cases(self) -> list[Case]:
        return list(self.cases() if callable(self.cases) else self.cases)


@dataclass
class CheckResult:
    """Outcome of one check; its text is the feedback shown under the cell."""

    name: str
    status: str  # "passed" | "failed" | "error" | "not_attempted" | "recorded" (grading mode, in the kernel)
    score: int
    points: int
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "status", "score", "points", "message")}

    def __repr__(self) -> str:
        return self.message

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.message)


REGISTRY: dict[str, Exercise] = {}
INSTRUCTOR_CASES: dict[str, list[Case]] = {}  # filled only in the grader, from the instructor's cases file


def register(exercise: Exercise, replace: bool = False) -> Exercise:
    """Add an exercise to the registry (names are unique unless ``replace``)."""
    if exercise.name in REGISTRY and REGISTRY[exercise.name] is not exercise and not replace:
        raise ValueError(f"an exercise named {exercise.name!r} is already registered")
    REGISTRY[exercise.name] = exercise
    return exercise


def add_instructor_cases(name: str, cases: Sequence[Case]) -> None:
    """Instructor-only cases for exercise ``name``: used by the grader only, never shown by their label."""
    if not all(isinstance(c, Case) for c in cases):
        raise TypeError(f"add_instructor_cases({name!r}, cases): cases must be a list of Case objects")
    INSTRUCTOR_CASES.setdefault(name, []).extend(cases)


def grading(environ: dict | None = None) -> bool:
    """True in a kernel run by the grader (checks record, the grader judges)."""
    return (os.environ if environ is None else environ).get(GRADING_ENV) == "1"


def get(name: str) -> Exercise:
    """Look up a registered exercise by name, with a helpful error for typos (``lmtutor.exercises.get`` loads them)."""
    if grading():
        raise KeyError(f"exercise {name!r}: the exercises are not available in a notebook run by the grader.")
    if name not in REGISTRY:
        raise KeyError(f"no exercise named {name!r}.{did_you_mean(name, REGISTRY, n=3)}")
    return REGISTRY[name]


def run_case(fn: Callable, case: Case) -> dict:
    """Run ``fn`` on a copy of the case's inputs: ``{"status": "ok", "value", "after"}`` or why not.

    ``after`` is the inputs after the call, as plain data: the judge compares it with the inputs to
    find a function that changed its arguments in place.
    """
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    try:
        value = fn(*args, **kwargs)
    except NotImplementedError:
        return {"status": "not_attempted"}
    except Exception as err:
        return {"status": "error", "error": f"{type(err).__name__}: {err}"[:500], "where": _where(err)}
    return {"status": "ok", "value": value, "after": plain((args, kwargs), reprs=False)}


_SKIP = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(torch.__file__))


def _where(err: BaseException) -> str:
    """The learner's line that raised, without the traceback wall."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if not os.path.abspath(f.filename).startswith(_SKIP)]
    if not mine or not mine[-1].line:
        return ""
    return f" (in {mine[-1].name}, line {mine[-1].lineno}: {mine[-1].line})"


def _diagnose(ex: Exercise, case: Case, got: Any) -> str:
    for mistake in ex.mistakes:
        wrong = run_case(mistake.fn, case)
        if wrong["status"] == "ok" and compare(got, wrong["value"], ex.atol, ex.rtol) is None:
            return mistake.hint
    return ex.hint


def _diagnose_error(ex: Exercise, case: Case, outcome: dict) -> str:
    """The hint of a typical mistake that raises the same error on this case, else a general one."""
    for mistake in ex.mistakes:
        wrong = run_case(mistake.fn, case)
        if wrong["status"] == "error" and wrong["error"].split(":")[0] == str(outcome.get("error")).split(":")[0]:
            return mistake.hint
    return ERROR_HINT


def _wrong(ex: Exercise, case: Case, outcome: dict, show: bool) -> tuple[str, list[str]]:
    """Why an ok outcome is wrong ("" if it is right), and the lines showing expected and got."""
    expected = run_case(ex.reference, case)
    if expected["status"] != "ok":
        raise RuntimeError(f"the reference of {ex.name!r} fails on case {case.label!r}: {expected}")
    reason = compare(outcome["value"], expected["value"], ex.atol, ex.rtol)
    if (
        not reason
        and ex.inputs_readonly
        and compare(outcome.get("after"), plain((case.args, case.kwargs), reprs=False), 0, 0)
    ):
        reason = "your function changed its input in place; the task asks to return a new value and leave the inputs"
    shown = [f"  expected: {short(expected['value'])}", f"  got:      {short(outcome['value'])}"]
    return reason or "", shown if show else []


def judge(ex: Exercise, cases: Sequence[Case], outcomes: Sequence[dict], hidden: int = 0, grading: bool = False):
    """The verdict on a learner's outcomes (from ``run_case``), one per case, in order.

    The last ``hidden`` cases are instructor-only: their label is never shown. In grading mode no
    expected value is shown; in practice mode only where ``ex.show_expected``.
    """

    def result(status: str, text: str, score: int = 0) -> CheckResult:
        return CheckResult(ex.name, status, score, ex.points, text)

    n = len(cases)
    for i, (case, outcome) in enumerate(zip(cases, outcomes, strict=True), 1):
        label = "a case only the grader has" if i > n - hidden else case.label
        if outcome["status"] == "not_attempted":
            return result(
                "not_attempted",
                f"○ {ex.title}: not attempted yet. Replace the "
                "`raise NotImplementedError` line with your code and run the check again.",
            )
        if outcome["status"] != "ok":
            text = f"✗ {ex.title}: case {i}/{n} ({label}) raised {outcome.get('error')}{outcome.get('where', '')}"
            return result("error", f"{text}\n  Hint: {_diagnose_error(ex, case, outcome)}")
        reason, shown = _wrong(ex, case, outcome, ex.show_expected and not grading and i <= n - hidden)
        if reason:
            lines = [f"✗ {ex.title}: case {i}/{n} ({label}) is wrong: {reason}.", *shown]
            lines.append(f"  Hint: {_diagnose(ex, case, outcome['value'])}")
            return result("failed", "\n".join(lines))
    return result("passed", f"✓ {ex.title}: all {n} cases pass.", ex.points)


def _evaluate(ex: Exercise, fn: Callable) -> CheckResult:
    """Practice mode: run ``fn`` on the public cases here and judge at once."""
    cases = ex.get_cases()
    return judge(ex, cases, [run_case(fn, case) for case in cases])


def check(name: str, fn: Callable) -> CheckResult:
    """Check a learner's function against exercise ``name``; the result prints as friendly feedback."""
    if not isinstance(name, str):
        swapped = isinstance(fn, str) and callable(name)
        raise TypeError(
            f"check(name, fn) takes the exercise name (a str) first, got {type(name).__name__}"
            + (f"; the arguments are swapped: use check({fn!r}, {getattr(name, '__name__', 'fn')})" if swapped else "")
        )
    if grading():  # the grader judges after the run, on its own inputs; nothing is decided here
        text = f"○ {name}: recorded. The grader runs your function on its own inputs after the notebook ran."
        return CheckResult(name, "recorded", 0, 0, text)
    ex = get(name)
    if not callable(fn):
        res = CheckResult(
            name,
            "error",
            0,
            ex.points,
            f"✗ {ex.title}: expected a function, got {type(fn).__name__}. Pass the function itself "
            "(without calling it), e.g. check(name, my_function).",
        )
    else:
        res = _evaluate(ex, fn)
    sys.stdout.flush()
    return res
