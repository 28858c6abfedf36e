"""Scaling laws on a small machine: parameter counts, power-law fits, the compute frontier (chapter 15).

Kaplan et al. (2020) found that the loss of a language model falls as a power of its size N, its data
D and its compute C ≈ 6·N·D; Hoffmann et al. (2022) fitted L(N, D) = E + A/N^α + B/D^β. Here
``fit_power_law`` fits L = a·x^(-α) (+ E) by least squares in log space, ``frontier`` takes the
lowest loss reached at each compute over several runs, and ``load_result`` reads the sweeps that
``bench/scaling.py`` and ``bench/modern.py`` committed with the package (so the chapter runs in seconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources

import numpy as np
from torch import nn

__all__ = ["non_embedding_parameters", "fit_power_law", "power_law", "frontier", "load_result"]


def non_embedding_parameters(model: nn.Module) -> int:
    """Parameters outside the token and position embeddings (Kaplan et al.'s N); tied weights once.

    A tied LM head is the embedding matrix, so it is left out too; an untied head counts.
    """
    embeddings = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    embeddings |= {id(p) for name, p in model.named_parameters() if name.startswith("pos_emb")}
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen and id(p) not in embeddings:
            total += p.numel()
        seen.add(id(p))
    return total


def _as_positive(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size < 3 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must hold at least 3 positive finite numbers, got {list(values)!r}")
    return arr


def fit_power_law(x: Sequence[float], loss: Sequence[float], offset: bool = False) -> dict[str, float]:
    """Fit ``loss ≈ a · x^(-alpha)`` (``+ E`` with ``offset=True``) by least squares on log(loss - E) vs log x.

    Returns ``{"a", "alpha", "E", "r2"}`` (E = 0 without offset). With an offset, E is searched on a fine
    grid below min(loss): the loss a model of infinite x would still have (the text's own entropy).
    """
    lx, y = np.log(_as_positive("x", x)), _as_positive("loss", loss)
    if lx.size != y.size:
        raise ValueError(f"x and loss must have the same length, got {lx.size} and {y.size}")
    if np.ptp(lx) == 0:
        raise ValueError("the x values are all equal: a power law needs at least two different sizes")
    grid = np.linspace(0.0, y.min(), 2000, endpoint=False) if offset else np.zeros(1)
    best = None
    for E in grid:
        ly = np.log(y - E)
        slope, intercept = np.polyfit(lx, ly, 1)
        err = float(np.sum((ly - (slope * lx + intercept)) ** 2))
        if best is None or err < best[0]:
            best = (err, float(E), float(slope), float(intercept))
    _, E, slope, intercept = best
    ly = np.log(y - E)
    r2 = 1.0 - best[0] / max(float(np.sum((ly - ly.mean()) ** 2)), 1e-300)
    return {"a": float(np.exp(intercept)), "alpha": -slope, "E": E, "r2": r2}


def power_law(x: Sequence[float] | float, fit: dict[str, float]) -> np.ndarray:
    """The fitted curve ``E + a · x^(-alpha)`` at ``x``."""
    return fit["E"] + fit["a"] * np.asarray(x, dtype=np.float64) ** (-fit["alpha"])


def frontier(curves: Sequence[tuple[Sequence[float], Sequence[float]]], n_points: int = 30) -> tuple:
    """The lowest loss any run reached by each compute: ``(compute, loss)`` arrays on a log grid.

    ``curves`` are ``(compute, loss)`` pairs of runs (compute increasing along each run). A run counts
    at compute c with the last loss it had measured by then.
    """
    if not curves:
        raise ValueError("frontier needs at least one (compute, loss) curve")
    lo = min(min(c) for c, _ in curves if len(c))
    hi = max(max(c) for c, _ in curves if len(c))
    grid = np.geomspace(max(lo, 1e-12), hi, n_points)
    best = np.full(n_points, np.inf)
    for compute, loss in curves:
        c, ls = np.asarray(compute, dtype=np.float64), np.asarray(loss, dtype=np.float64)
        idx = np.searchsorted(c, grid, side="right") - 1  # last measurement at or before each grid point
        ok = idx >= 0
        best[ok] = np.minimum(best[ok], np.minimum.accumulate(ls)[idx[ok]])
    keep = np.isfinite(best)
    return grid[keep], best[keep]


def load_result(name: str) -> dict:
    """A benchmark result committed with the package (``lmtutor/results/<name>.json``, by ``bench/<name>.py``)."""
    path = resources.files("lmtutor") / "results" / f"{name}.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".json") for p in (resources.files("lmtutor") / "results").iterdir())
        raise FileNotFoundError(f"no committed result {name!r}; known: {known}. Run `python bench/{name}.py`.")
    return json.loads(path.read_text(encoding="utf-8"))
