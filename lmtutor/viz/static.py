"""Static matplotlib figures: attention heatmaps, layer x head grids, loss curves, matrices (chapters 5-9)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["attention_heatmap", "attention_grid", "plot_loss", "plot_matrix"]


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def _check_labels(labels: Sequence[str] | None, n: int, axis: str) -> None:
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} {axis} labels for {n} {axis} positions; pass one label per token")


def attention_heatmap(
    weights,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    xlabel: str = "key position",
    ylabel: str = "query position",
) -> plt.Axes:
    """One attention matrix (T_q, T_k) with token labels on both axes; rows are queries."""
    w = _np(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (T_q, T_k), got shape {w.shape}; pick a layer and head first")
    y_labels = x_labels if y_labels is None and w.shape[0] == w.shape[1] else y_labels
    _check_labels(x_labels, w.shape[1], "key")
    _check_labels(y_labels, w.shape[0], "query")
    if ax is None:
        side = min(9.0, 2.0 + 0.3 * max(w.shape))
        _, ax = plt.subplots(figsize=(side + (1.0 if colorbar else 0.0), side))
    im = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=max(1e-9, float(w.max())), aspect="auto")
    for labels, setter, ticks, rot in (
        (x_labels, ax.set_xticks, w.shape[1], 90),
        (y_labels, ax.set_yticks, w.shape[0], 0),
    ):
        if labels is not None:
            setter(range(ticks), [repr(t)[1:-1] if t.strip() != t or not t else t for t in labels], rotation=rot)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def attention_grid(
    weights,
    tokens: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    cell_size: float = 1.6,
    title: str | None = None,
) -> plt.Figure:
    """A layer x head grid of attention maps. ``weights`` (L, H, T, T) for one sequence."""
    w = _np(weights)
    if w.ndim != 4:
        raise ValueError(f"weights must be (L, H, T_q, T_k) for one sequence, got shape {w.shape}")
    layers = list(range(w.shape[0])) if layers is None else list(layers)
    heads = list(range(w.shape[1])) if heads is None else list(heads)
    fig, axes = plt.subplots(
        len(layers),
        len(heads),
        figsize=(cell_size * len(heads), cell_size * len(layers)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    show_labels = tokens is not None and w.shape[-1] <= 16
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r, c]
            ax.imshow(w[layer, head], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(w.shape[-1]) if show_labels else [])
            ax.set_yticks(range(w.shape[-2]) if show_labels else [])
            if show_labels:
                ax.set_xticklabels(tokens, rotation=90, fontsize=6)
                ax.set_yticklabels(tokens, fontsize=6)
            if r == 0:
                ax.set_title(f"head {head}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=9)
    fig.suptitle(title or "attention weights (rows: queries, columns: keys)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_loss(history: dict, ax: plt.Axes | None = None, smooth: int = 50, title: str | None = None) -> plt.Axes:
    """Training loss per step (smoothed) and evaluated train/validation loss from a ``train()`` history."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    steps, loss = np.asarray(history.get("step", [])), np.asarray(history.get("loss", []))
    if len(loss):
        k = max(1, min(smooth, len(loss) // 5 or 1))
        smoothed = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smoothed, color="0.6", lw=1, label=f"batch loss (mean of {k})")
    if history.get("val_loss"):
        ax.plot(history["eval_step"], history["train_loss"], "o-", label="train loss (estimate)")
        ax.plot(history["eval_step"], history["val_loss"], "s-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_matrix(
    matrix,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    ax: plt.Axes | None = None,
    cmap: str = "RdBu_r",
    symmetric: bool = True,
) -> plt.Axes:
    """Any 2-D array as an image with a colour bar (symmetric colour range around 0 by default)."""
    m = _np(matrix)
    if m.ndim != 2:
        raise ValueError(f"plot_matrix needs a 2-D array, got shape {m.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    lim = float(np.abs(m).max()) or 1.0
    kw = {"vmin": -lim, "vmax": lim} if symmetric else {}
    im = ax.imshow(m, cmap=cmap, aspect="auto", **kw)
    ax.figure.colorbar(im, ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
