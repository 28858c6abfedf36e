"""Plain data: what a learner's function returned, in a form that crosses from the kernel to the grader.

The grader loads the kernel's outputs with ``torch.load(weights_only=True)``, which only accepts
tensors and plain Python data, so nothing the student writes can run code in the grader. ``plain``
turns a value into such data (sets, modules and other objects become tagged dicts); ``unplain``
turns the tagged dicts back into values ``compare`` understands. ``compare`` is the strict
comparison both modes use.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Opaque", "compare", "plain", "short", "unplain", "type_name"]

_SET, _MODULE, _OPAQUE = "__lmtutor_set__", "__lmtutor_module__", "__lmtutor_opaque__"


@dataclass(frozen=True)
class Opaque:
    """A value of a type that does not cross to the grader: its type name and a short repr."""

    name: str
    text: str

    def __repr__(self) -> str:
        return self.text


def type_name(value: Any) -> str:
    """The type name shown in messages (an Opaque value shows the learner's type)."""
    return value.name if isinstance(value, Opaque) else type(value).__name__


def plain(value: Any, depth: int = 0, reprs: bool = True) -> Any:
    """``value`` as tensors and plain Python data (a copy: later changes to ``value`` do not show).

    Other objects become their type name, with their repr when ``reprs`` (off when comparing
    inputs before and after a call: a repr may contain a memory address).
    """
    if depth > 20:
        return {_OPAQUE: type(value).__name__, "repr": "(nested too deeply)"}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone().as_subclass(torch.Tensor)
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value)(value) if value is not None else None
    if isinstance(value, (list, tuple)):
        items = [plain(v, depth + 1, reprs) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        keyable = (str, int, float, tuple, type(None))
        return {
            (plain(k, depth + 1, reprs) if isinstance(k, keyable) else repr(k)): plain(v, depth + 1, reprs)
            for k, v in value.items()
        }
    if isinstance(value, (set, frozenset)):
        return {_SET: sorted((plain(v, depth + 1, reprs) for v in value), key=repr)}
    if isinstance(value, torch.nn.Module):
        return {_MODULE: {k: plain(v) for k, v in value.state_dict().items()}}
    for kind in (int, float):  # numpy scalars and friends
        if isinstance(value, kind):
            return kind(value)
    return {_OPAQUE: type(value).__name__, "repr": repr(value)[:200] if reprs else ""}


def unplain(value: Any) -> Any:
    """The inverse of ``plain`` for what ``compare`` needs: sets back to sets, other objects to ``Opaque``."""
    if isinstance(value, list):
        return [unplain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unplain(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {_SET} and isinstance(value[_SET], list):
            try:
                return set(unplain(v) for v in value[_SET])
            except TypeError:  # unhashable items: keep the list
                return [unplain(v) for v in value[_SET]]
        if _OPAQUE in value:
            return Opaque(str(value[_OPAQUE])[:80], str(value.get("repr", ""))[:200])
        return {k: unplain(v) for k, v in value.items()}
    return value


def short(value: Any, limit: int = 24) -> str:
    """A short description of a value for a message (small tensors in full)."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= limit:
            return f"tensor of shape {tuple(value.shape)}:\n{value.detach().double().numpy().round(4)}"
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _compare_tensor(got: Any, expected: torch.Tensor, atol: float, rtol: float) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor, got {type_name(got)}"
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}, got {got.dtype}"
    g, e = got.detach().cpu(), expected.detach().cpu()
    if not expected.is_floating_point() and not expected.is_complex():
        return None if torch.equal(g, e) else f"values differ ({int((g != e).sum())} of {e.numel()} entries)"
    g, e = g.double(), e.double()
    if torch.isnan(g).any() and not torch.isnan(e).any():
        return "your result contains NaN where the expected one has numbers (an overflow?)"
    if torch.isinf(g).ne(torch.isinf(e)).any():
        return "your result contains infinities where the expected one has finite numbers (an overflow?)"
    if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
        return f"values differ (largest difference {(g - e).abs().nan_to_num(float('inf')).max().item():.3g})"
    return None


def _compare_scalar(got: Any, expected: Any, atol: float, rtol: float) -> str | None:
    if isinstance(expected, bool):
        ok = isinstance(got, bool)
        return (None if got == expected else "values differ") if ok else f"expected a bool, got {type_name(got)}"
    if isinstance(expected, numbers.Integral):
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            return f"expected an int, got {type_name(got)}"
        return None if int(got) == int(expected) else "values differ"
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        return f"expected a number (a Python float), got {type_name(got)}"
    g, e = float(got), float(expected)
    if g != g and e == e:
        return "your result is NaN where the expected one is a number"
    return None if abs(g - e) <= atol + rtol * abs(e) or g == e else "values differ"


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a one-line reason (type, dtype, shape, values).

    Strict where the task is: a tensor must have the expected dtype, an int or bool must not be a
    float, a str must be a str; floats and float tensors agree within ``atol + rtol * |expected|``.
    """
    if isinstance(expected, torch.Tensor):
        return _compare_tensor(got, expected, atol, rtol)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a sequence of {len(expected)} items, got {short(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            reason = compare(g, e, atol, rtol)
            if reason:
                return f"item {i}: {reason}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {type_name(got)}"
        if set(got) != set(expected):
            return f"expected the keys {sorted(map(repr, expected))[:8]}, got {sorted(map(repr, got))[:8]}"
        for key in expected:
            reason = compare(got[key], expected[key], atol, rtol)
            if reason:
                return f"key {key!r}: {reason}"
        return None
    if isinstance(expected, (numbers.Real, bool)):
        return _compare_scalar(got, expected, atol, rtol)
    if isinstance(expected, (str, set, frozenset)) and not isinstance(got, type(expected)):
        return f"expected a {type(expected).__name__}, got {type_name(got)}"
    if isinstance(got, Opaque):
        return f"expected a {type(expected).__name__}, got {got.name}"
    return None if got == expected else "values differ"
