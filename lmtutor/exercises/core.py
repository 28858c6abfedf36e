"""The exercise checker: run a learner's function on reference cases and explain what went wrong.

An exercise is a reference function, a list of cases (edge cases included) and a list of
typical mistakes, each a wrong implementation with the hint that fixes it. When a learner's
output differs from the reference, the checker looks for the mistake whose output matches
the learner's and prints its hint. It never prints the reference code.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Case", "Mistake", "Exercise", "CheckResult", "register", "get", "check", "compare", "REGISTRY"]

GRADE_LOG_ENV = "LMTUTOR_GRADE_LOG"  # set by the grader: every check appends one JSON line here


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
    hint: str = "Re-read the formula in the section above and compare it line by line with your code."
    atol: float = 1e-5
    rtol: float = 1e-4
    points: int = 1
    show_expected: bool = True  # False where the expected value would give the answer away

    def get_cases(self) -> list[Case]:
        return list(self.cases() if callable(self.cases) else self.cases)


@dataclass
class CheckResult:
    """Outcome of one check; its text is the feedback shown under the cell."""

    name: str
    status: str  # "passed" | "failed" | "error" | "not_attempted"
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


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (names are unique)."""
    if exercise.name in REGISTRY and REGISTRY[exercise.name] is not exercise:
        raise ValueError(f"an exercise named {exercise.name!r} is already registered")
    REGISTRY[exercise.name] = exercise
    return exercise


def get(name: str) -> Exercise:
    """Look up a registered exercise by name, with a helpful error for typos."""
    from . import load_all

    load_all()
    if name not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no exercise named {name!r}.{hint}")
    return REGISTRY[name]


def _short(value: Any, limit: int = 24) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= limit:
            return f"tensor of shape {tuple(value.shape)}:\n{value.detach().double().numpy().round(4)}"
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a one-line reason (type, shape, values)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        if expected.is_floating_point() != got.is_floating_point():
            return f"expected dtype {expected.dtype}, got {got.dtype}"
        g, e = got.detach().double().cpu(), expected.detach().double().cpu()
        if torch.isnan(g).any() and not torch.isnan(e).any():
            return "your result contains NaN where the expected one has numbers"
        if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            return f"values differ (largest difference {(g - e).abs().nan_to_num(float('inf')).max().item():.3g})"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a sequence of {len(expected)} items, got {_short(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            reason = compare(g, e, atol, rtol)
            if reason:
                return f"item {i}: {reason}"
        return None
    if isinstance(expected, float) or isinstance(got, float):
        try:
            ok = abs(float(got) - float(expected)) <= atol + rtol * abs(float(expected))
        except (TypeError, ValueError):
            return f"expected a number, got {type(got).__name__}"
        return None if ok else "values differ"
    return None if got == expected else "values differ"


def _run(fn: Callable, case: Case) -> Any:
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)  # learners may edit inputs
    return fn(*args, **kwargs)


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
        try:
            wrong = _run(mistake.fn, case)
        except Exception:
            continue
        if compare(got, wrong, ex.atol, ex.rtol) is None:
            return mistake.hint
    return ex.hint


def _evaluate(ex: Exercise, fn: Callable) -> CheckResult:
    def result(status: str, text: str, score: int = 0) -> CheckResult:
        return CheckResult(ex.name, status, score, ex.points, text)

    cases = ex.get_cases()
    for i, case in enumerate(cases, 1):
        try:
            got = _run(fn, case)
        except NotImplementedError:
            return result(
                "not_attempted",
                f"○ {ex.title}: not attempted yet. Replace the "
                "`raise NotImplementedError` line with your code and run the check again.",
            )
        except Exception as err:
            return result(
                "error",
                f"✗ {ex.title}: case {i}/{len(cases)} ({case.label}) raised "
                f"{type(err).__name__}: {err}{_where(err)}\n  Hint: {ex.hint}",
            )
        expected = _run(ex.reference, case)
        reason = compare(got, expected, ex.atol, ex.rtol)
        if reason:
            lines = [f"✗ {ex.title}: case {i}/{len(cases)} ({case.label}) is wrong: {reason}."]
            if ex.show_expected:
                lines += [f"  expected: {_short(expected)}", f"  got:      {_short(got)}"]
            lines.append(f"  Hint: {_diagnose(ex, case, got)}")
            return result("failed", "\n".join(lines))
    return result("passed", f"✓ {ex.title}: all {len(cases)} cases pass.", ex.points)


def _log(res: CheckResult) -> None:
    path = os.environ.get(GRADE_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(res.to_dict(), ensure_ascii=False) + "\n")


def check(name: str, fn: Callable) -> CheckResult:
    """Check a learner's function against exercise ``name``; the result prints as friendly feedback."""
    if not isinstance(name, str):
        swapped = isinstance(fn, str) and callable(name)
        raise TypeError(
            f"check(name, fn) takes the exercise name (a str) first, got {type(name).__name__}"
            + (f"; the arguments are swapped: use check({fn!r}, {getattr(name, '__name__', 'fn')})" if swapped else "")
        )
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
    _log(res)
    sys.stdout.flush()
    return res
