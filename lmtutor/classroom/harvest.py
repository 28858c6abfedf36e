"""Kernel side of grading: run the learner's function on the grader's inputs and hand back the outputs as data.

The grader inserts, after the cell that checks an exercise, a cell of its own that calls
``harvest``. It loads the cases' inputs the grader wrote, runs the learner's function on a copy of
each, and saves one outcome per case (``lmtutor.exercises.core.run_case``) as tensors and plain
data with ``torch.save``. The grader reads that file with ``weights_only=True`` and judges the
outputs in its own process: nothing here decides a mark, so replacing ``check``, emptying cases or
editing a log in the notebook changes nothing. A function defined in the ``lmtutor`` package (the
reference itself, passed instead of the learner's code) is refused, and a fingerprint of the
function's compiled code lets the grader flag a run-time copy of the reference's source.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import os
import types
from collections.abc import Callable

__all__ = ["fingerprint", "harvest", "origin_problem"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def origin_problem(fn: object) -> str:
    """Why ``fn`` cannot be graded as the learner's code ("" when it can)."""
    if not callable(fn):
        return f"the check was given a {type(fn).__name__}, not a function"
    target = inspect.unwrap(getattr(fn, "func", fn))  # functools.partial, decorators
    target = getattr(target, "__func__", target)  # bound methods
    code = getattr(target, "__code__", None)
    where = code.co_filename if code is not None else (getattr(inspect.getmodule(target), "__file__", "") or "")
    if where and os.path.abspath(where).startswith(_PACKAGE + os.sep):
        return "the function checked comes from the lmtutor package, not from your notebook"
    return ""


def _code_text(code: types.CodeType) -> str:
    """The instructions of a code object with their resolved arguments (names, constants), recursively.

    Jump targets and the interpreter's own variants of an instruction are left out: they differ
    between two compilations of the same source.
    """
    parts = []
    jumps = set(dis.hasjrel) | set(dis.hasjabs)
    for ins in dis.get_instructions(code):
        arg = _code_text(ins.argval) if isinstance(ins.argval, types.CodeType) else repr(ins.argval)
        parts.append(f"{ins.opname.replace('LOAD_METHOD', 'LOAD_ATTR')} {'' if ins.opcode in jumps else arg}")
    return "\n".join(parts)


def fingerprint(fn: object) -> str:
    """A hash of a function's compiled code (not its name or file): equal for a copy of the same source."""
    target = getattr(inspect.unwrap(getattr(fn, "func", fn)), "__func__", fn)
    code = getattr(target, "__code__", None)
    return hashlib.sha256(_code_text(code).encode()).hexdigest() if code is not None else ""


def _outcomes(fn: Callable, inputs: str) -> list[dict]:
    import torch

    from lmtutor.exercises import Case
    from lmtutor.exercises._data import plain
    from lmtutor.exercises.core import run_case

    outcomes = []
    for args, kwargs in torch.load(inputs, weights_only=False):  # written by the grader
        outcome = run_case(fn, Case("", tuple(args), dict(kwargs)))
        if outcome["status"] == "ok":
            outcome["value"] = plain(outcome["value"])
        outcomes.append(outcome)
    return outcomes


def harvest(name: str, get_fn: Callable[[], object], inputs: str, outputs: str) -> None:
    """Run the function ``get_fn()`` returns on every input in ``inputs``; save the outcomes to ``outputs``."""
    import torch

    try:
        fn = get_fn()
        problem = origin_problem(fn)
    except Exception as err:  # e.g. NameError: the function's cell raised or was deleted
        problem = f"the function could not be found ({type(err).__name__}: {err})"
    data: dict = {"name": name, "problem": problem[:500], "outcomes": [], "fingerprint": ""}
    if not problem:
        data["outcomes"] = _outcomes(fn, inputs)
        data["fingerprint"] = fingerprint(fn)
    try:
        torch.save(data, outputs)
    except Exception as err:  # an output that cannot be saved: say so instead
        torch.save({"name": name, "problem": f"the outputs could not be saved ({type(err).__name__})"}, outputs)
    print(f"○ {name}: outputs recorded for the grader.")
