"""Auto-checked exercises. Each topic module (``attention``, ...) registers its exercises.

Use ``lmtutor.exercises.check("attention.scaled_dot_product", my_fn)`` in a notebook. In a kernel
run by the grader (``LMTUTOR_GRADING=1``) the topic modules are not loaded: checks only record.
"""

from __future__ import annotations

import importlib
import pkgutil

from . import core
from .core import (
    INSTRUCTOR_CASES,
    REGISTRY,
    Case,
    CheckResult,
    Exercise,
    Mistake,
    add_instructor_cases,
    compare,
    grading,
    judge,
    register,
    run_case,
)

__all__ = [
    "Case",
    "CheckResult",
    "Exercise",
    "INSTRUCTOR_CASES",
    "Mistake",
    "REGISTRY",
    "add_instructor_cases",
    "check",
    "compare",
    "get",
    "judge",
    "load_all",
    "register",
    "run_case",
]

_loaded = False


def load_all() -> dict[str, Exercise]:
    """Import every topic module in this package so that all exercises are registered."""
    global _loaded
    if not _loaded and not grading():
        for info in pkgutil.iter_modules(__path__):
            if info.name != "core" and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return REGISTRY


def get(name: str) -> Exercise:
    """The registered exercise ``name`` (every topic module loaded first), with a helpful error for typos."""
    load_all()
    return core.get(name)


def check(name: str, fn) -> CheckResult:
    """Check a learner's function against exercise ``name``; the result prints as friendly feedback."""
    load_all()
    return core.check(name, fn)
