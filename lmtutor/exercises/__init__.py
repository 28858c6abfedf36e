"""Auto-checked exercises. Each topic module (``attention``, ...) registers its exercises.

Use ``lmtutor.exercises.check("attention.scaled_dot_product", my_fn)`` in a notebook.
"""

from __future__ import annotations

import importlib
import pkgutil

from .core import REGISTRY, Case, CheckResult, Exercise, Mistake, check, compare, get, register

__all__ = ["Case", "CheckResult", "Exercise", "Mistake", "REGISTRY", "check", "compare", "get", "register", "load_all"]

_loaded = False


def load_all() -> dict[str, Exercise]:
    """Import every topic module in this package so that all exercises are registered."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "core":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return REGISTRY
