"""Seeding, the fast-mode switch and small helpers shared by every chapter."""

from __future__ import annotations

import difflib
import os
import random
from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import torch

from .device import get_device

__all__ = ["set_seed", "is_fast", "pick", "count_parameters", "env_flag", "did_you_mean"]

T = TypeVar("T")


def set_seed(seed: int = 1337) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (all devices) so that a cell's output repeats."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1, true, yes or on (any case)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def did_you_mean(name: str, choices: Iterable[str], n: int = 1) -> str:
    """`` Did you mean 'x'?`` naming the choices closest to a mistyped ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=n)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""


def is_fast() -> bool:
    """True when ``LMTUTOR_FAST=1``: tiny configs and few steps (used by CI)."""
    return env_flag("LMTUTOR_FAST")


def pick(default: T, fast: T | None = None, gpu: T | None = None, device: torch.device | str | None = None) -> T:
    """Choose a setting by execution mode: ``fast`` under LMTUTOR_FAST, ``gpu`` on CUDA, else ``default``.

    "On CUDA" means the device the chapter runs on: ``device`` if given, else ``get_device()`` (which
    honours ``LMTUTOR_DEVICE``), so a CUDA machine forced to the CPU gets the CPU settings.
    """
    if fast is not None and is_fast():
        return fast
    if gpu is not None and get_device(device).type == "cuda":
        return gpu
    return default


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters, counting tied weights once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total
