"""Per-head numbers as figures: every head as a point, or one layer x head table per statistic (chapter 6)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .analysis import head_summary
from .extract import AttentionData
from .static import plot_matrix

__all__ = ["plot_head_summary", "head_tables"]


def plot_head_summary(data, ax: plt.Axes | None = None, annotate: bool = True) -> plt.Axes:
    """Every head as a point: mean attention distance vs entropy, coloured by layer, to find odd heads."""
    attn = data.attentions if isinstance(data, AttentionData) else torch.as_tensor(data).float()
    summary = head_summary(attn)
    dist, ent = summary["distance"].numpy(), summary["entropy"].numpy()  # (L, H)
    L, H, T = attn.shape[0], attn.shape[1], attn.shape[-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, L))
    for layer in range(L):
        ax.scatter(dist[layer], ent[layer], color=colors[layer], s=22, label=f"layer {layer}")
        for h in range(H if annotate and L * H <= 144 else 0):
            ax.annotate(
                f"{layer}.{h}", (dist[layer, h], ent[layer, h]), fontsize=6, xytext=(2, 2), textcoords="offset points"
            )
    causal = isinstance(data, AttentionData) and data.kind == "decoder"
    uniform = float(np.mean(np.log(np.arange(1, T + 1)))) if causal else math.log(T)
    ax.axhline(uniform, color="0.5", ls="--", lw=1, label="uniform attention")
    ax.set_xlabel("mean attention distance (tokens)")
    ax.set_ylabel("entropy of the weights (nats)")
    ax.set_title(f"{L} layers x {H} heads on {T} tokens (label: layer.head)")
    ax.legend(fontsize=7, loc="best")
    return ax


def head_tables(
    stats: dict[str, torch.Tensor], keys: Sequence[str], title: str, ncols: int = 4, names: dict | None = None
) -> plt.Figure:
    """One annotated layer x head heatmap per statistic ``stats[key]`` (each (L, H)), at most 10 inches wide.

    ``names`` maps a key to its panel title (default: the key with spaces; ``cls``/``sep`` -> ``[CLS]``/``[SEP]``).
    """
    missing = [k for k in keys if k not in stats]
    if missing:
        raise KeyError(f"head_tables: no statistic {missing[0]!r}; the stats hold {sorted(stats)}")
    names = {"cls": "[CLS]", "sep": "[SEP]", **(names or {})}
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 2.9 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):  # spare axes stay empty
        values = stats[key]  # (L, H)
        label = names.get(key, key.replace("_", " "))
        plot_matrix(values, label, "head", "layer", ax=ax, cmap="viridis", symmetric=False)
        for layer in range(values.shape[0]):
            for head in range(values.shape[1]):
                ax.text(head, layer, f"{values[layer, head]:.2g}", ha="center", va="center", fontsize=6, color="w")
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(values.shape[0]))
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
