"""Static matplotlib figures: attention heatmaps, layer x head grids, encoder–decoder panels,
per-head summaries, loss curves, matrices (chapters 5-9).

Long inputs stay readable: at most ``max_labels`` tick labels per axis (every n-th token, said
on the axis), an optional ``max_tokens`` cut (said on the axis), figure sizes capped at 10 inches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .extract import AttentionData, Seq2SeqAttention
from .tokens import _visible

__all__ = [
    "attention_heatmap",
    "attention_grid",
    "plot_attention",
    "plot_seq2seq_attention",
    "plot_loss",
    "plot_matrix",
]

_KIND_AXES = {  # (x label, y label) per kind of attention
    "cross": ("source token (key)", "target token (query)"),
    "encoder": ("source token (key)", "source token (query)"),
    "decoder": ("key position", "query position"),
    "self": ("key position", "query position"),
}


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def _check_labels(labels: Sequence[str] | None, n: int, axis: str) -> None:
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} {axis} labels for {n} {axis} positions; pass one label per token")


def _shown(label: str) -> str:
    """Whitespace made visible (``' '`` -> ``␣``); ``$`` escaped so that matplotlib never reads mathtext."""
    return (_visible(label) if label.strip() != label or not label else label).replace("$", r"\$")


def _set_ticks(ax: plt.Axes, axis: str, labels: Sequence[str] | None, n: int, max_labels: int) -> str:
    """Label at most ``max_labels`` positions; return a note for the axis title if some were skipped."""
    step = max(1, math.ceil(n / max_labels))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    if labels is None:
        return ""
    positions = list(range(0, n, step))
    size = 8 if len(positions) <= 30 else 6.5
    setter(positions, [_shown(labels[i]) for i in positions], rotation=90 if axis == "x" else 0, fontsize=size)
    return f", every {step}th labelled" if step > 1 else ""


def _first_tokens(w: np.ndarray, x_labels, y_labels, max_tokens: int | None):
    """Keep the first ``max_tokens`` queries and keys (and their labels)."""
    if max_tokens is None:
        return w, x_labels, y_labels
    cut = lambda labels: None if labels is None else list(labels)[:max_tokens]  # noqa: E731
    return w[:max_tokens, :max_tokens], cut(x_labels), cut(y_labels)


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
    max_labels: int = 48,
    max_tokens: int | None = None,
) -> plt.Axes:
    """One attention matrix (T_q, T_k) with token labels on both axes; rows are queries.

    Long inputs: at most ``max_labels`` labels per axis; ``max_tokens`` keeps the first positions
    only. Both are said in the axis labels.
    """
    w = _np(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (T_q, T_k), got shape {w.shape}; pick a layer and head first")
    if not np.isfinite(w).all():
        q, k = np.argwhere(~np.isfinite(w))[0]
        raise ValueError(
            f"weights hold {int((~np.isfinite(w)).sum())} NaN/inf values (first at query {q}, key {k}); the model "
            "produced non-finite attention (a fully masked row, or NaN weights or inputs): check it before plotting"
        )
    if max_labels < 1 or (max_tokens is not None and max_tokens < 1):
        raise ValueError(f"max_labels and max_tokens must be >= 1, got {max_labels}, {max_tokens}")
    y_labels = x_labels if y_labels is None and w.shape[0] == w.shape[1] else y_labels
    _check_labels(x_labels, w.shape[1], "key")
    _check_labels(y_labels, w.shape[0], "query")
    cut_q, cut_k = w.shape
    w, x_labels, y_labels = _first_tokens(w, x_labels, y_labels, max_tokens)
    if ax is None:
        side = min(9.0, 2.0 + 0.3 * max(w.shape))
        _, ax = plt.subplots(figsize=(side + (1.0 if colorbar else 0.0), side))
    im = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=max(1e-9, float(w.max())), aspect="auto", interpolation="nearest")
    x_note = _set_ticks(ax, "x", x_labels, w.shape[1], max_labels)
    y_note = _set_ticks(ax, "y", y_labels, w.shape[0], max_labels)
    if w.shape[1] < cut_k:
        x_note += f"; first {w.shape[1]} of {cut_k}, rest cut off"
    if w.shape[0] < cut_q:
        y_note += f"; first {w.shape[0]} of {cut_q}, rest cut off"
    ax.set_xlabel(xlabel + (f" ({x_note.lstrip(', ;')})" if x_note else ""))
    ax.set_ylabel(ylabel + (f" ({y_note.lstrip(', ;')})" if y_note else ""))
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return ax


def attention_grid(
    weights,
    tokens: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    cell_size: float = 1.6,
    title: str | None = None,
) -> plt.Figure:
    """A layer x head grid of attention maps. ``weights``: (L, H, T, T) for one sequence, or ``AttentionData``."""
    if isinstance(weights, AttentionData):
        tokens = weights.tokens if tokens is None and weights.key_tokens is None else tokens
        weights = weights.attentions
    w = _np(weights)
    if w.ndim != 4:
        raise ValueError(f"weights must be (L, H, T_q, T_k) for one sequence, got shape {w.shape}")
    layers = list(range(w.shape[0])) if layers is None else list(layers)
    heads = list(range(w.shape[1])) if heads is None else list(heads)
    cell = min(cell_size, 10.0 / len(heads), 12.0 / len(layers))  # the figure stays within 10 x 12 inches
    fig, axes = plt.subplots(
        len(layers), len(heads), figsize=(cell * len(heads), cell * len(layers) + 0.6), squeeze=False
    )
    show_labels = tokens is not None and w.shape[-1] <= 16 and cell >= 1.2  # smaller cells: unreadable labels
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r, c]
            ax.imshow(w[layer, head], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks(range(w.shape[-1]) if show_labels and r == len(layers) - 1 else [])
            ax.set_yticks(range(w.shape[-2]) if show_labels and c == 0 else [])
            if show_labels and r == len(layers) - 1:
                ax.set_xticklabels([_shown(t) for t in tokens], rotation=90, fontsize=6)
            if show_labels and c == 0:
                ax.set_yticklabels([_shown(t) for t in tokens], fontsize=6)
            if r == 0:
                ax.set_title(f"head {head}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=8)
    note = "" if show_labels or tokens is None else f"; {w.shape[-1]} tokens, labels omitted"
    fig.suptitle((title or "attention weights") + f" (rows: queries, columns: keys{note})", fontsize=9)
    fig.tight_layout()
    return fig


def _grey_special(ax: plt.Axes, special: Sequence[bool], key_special: Sequence[bool]) -> None:
    """Colour the tick labels of special tokens ([CLS], [SEP], ...) so they stand apart."""
    for labels, flags, coord in ((ax.get_xticklabels(), key_special, 0), (ax.get_yticklabels(), special, 1)):
        for lab in labels:
            pos = int(round(lab.get_position()[coord]))
            if 0 <= pos < len(flags) and flags[pos]:
                lab.set_color("#8a6d00")


def plot_attention(
    data: AttentionData,
    layer: int = 0,
    head: int | None = None,
    ax: plt.Axes | None = None,
    max_tokens: int | None = None,
    max_labels: int = 48,
) -> plt.Axes:
    """Heatmap of one head (or the mean of a layer's heads, ``head=None``) of ``AttentionData``."""
    if not isinstance(data, AttentionData):
        raise TypeError(f"plot_attention takes AttentionData, got {type(data).__name__}; use attention_heatmap")
    xlabel, ylabel = _KIND_AXES[data.kind]
    which = "mean of heads" if head is None else f"head {head}"
    ax = attention_heatmap(
        data.head(layer, head),
        data.keys,
        data.tokens,
        ax=ax,
        title=f"{data.kind} attention, layer {layer}, {which}",
        xlabel=xlabel,
        ylabel=ylabel,
        max_labels=max_labels,
        max_tokens=max_tokens,
    )
    _grey_special(ax, data.special, data.key_special)
    return ax


def plot_seq2seq_attention(data: Seq2SeqAttention, layer: int = -1, head: int | None = None) -> plt.Figure:
    """Encoder self-, decoder self- and cross-attention of one layer side by side."""
    if not isinstance(data, Seq2SeqAttention):
        raise TypeError(
            f"expected Seq2SeqAttention (from attention_from_hf with target=...), got {type(data).__name__}"
        )
    fig, axes = plt.subplots(1, 3, figsize=(10, 4))
    for ax, part in zip(axes, data.parts(), strict=True):
        plot_attention(part, layer, head, ax=ax, max_labels=24)
        ax.figure.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(f"{part.kind}, layer {layer % part.shape[0]}", fontsize=9)
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
