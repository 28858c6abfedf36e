"""Figures of embeddings: a 2-D map, a query's neighbours, an interactive explorer (chapter 3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch

from ..embeddings import fit_pca, nearest_neighbours, pca_project

__all__ = ["plot_projection", "neighbour_view", "embedding_explorer"]


def plot_projection(
    points: torch.Tensor,
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str = "2-D PCA projection of the embeddings",
    fontsize: int = 7,
) -> plt.Axes:
    """Scatter (N, 2) points with a text label each, coloured by group."""
    if points.dim() != 2 or points.shape[1] != 2 or len(labels) != len(points):
        raise ValueError(f"need (N, 2) points and N labels, got {tuple(points.shape)} and {len(labels)} labels")
    ax = ax or plt.subplots(figsize=(8, 6))[1]
    groups = list(groups) if groups is not None else [""] * len(points)
    for g in dict.fromkeys(groups):  # groups in order of first appearance
        sel = torch.tensor([x == g for x in groups])
        ax.scatter(points[sel, 0], points[sel, 1], s=25, label=g or None)
    for (x, y), text in zip(points.tolist(), labels, strict=True):
        ax.annotate(str(text).replace("$", r"\$"), (x, y), fontsize=fontsize, xytext=(3, 3), textcoords="offset points")
    if any(groups):
        ax.legend(fontsize=8, loc="best")
    ax.set(xlabel="principal component 1", ylabel="principal component 2", title=title)
    return ax


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def neighbour_view(
    query: str,
    texts: Sequence[str],
    embeddings: torch.Tensor,
    embed_fn: Callable[[list[str]], torch.Tensor],
    groups: Sequence[str] | None = None,
    k: int = 5,
) -> tuple[plt.Figure, list[tuple[str, float]]]:
    """Rank ``texts`` by cosine similarity to ``query``; figure: the query in the PCA map, top-k bars."""
    if not query.strip():
        raise ValueError("query is empty; type a word or a sentence")
    q = embed_fn([query])[0]  # (D,)
    idx, sims = nearest_neighbours(q, embeddings, k)
    mean, comps = fit_pca(embeddings)
    points, qp = pca_project(embeddings, mean, comps), pca_project(q[None], mean, comps)[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    plot_projection(points, [str(i) for i in range(len(texts))], groups, ax=left, title="query in the PCA map")
    for j in idx.tolist():
        left.plot([qp[0], points[j, 0]], [qp[1], points[j, 1]], color="0.6", lw=0.8, zorder=0)
    left.scatter([qp[0]], [qp[1]], marker="*", s=250, color="crimson", label="query", zorder=3)
    left.legend(fontsize=8, loc="best")
    names = [f"{j}: {_shorten(texts[j])}" for j in idx.tolist()]
    right.barh(range(k)[::-1], sims.tolist(), color="tab:blue")
    right.set_yticks(range(k)[::-1], [str(n).replace("$", r"\$") for n in names], fontsize=7)
    xlim = (min(0.0, float(sims.min())), 1.0)
    right.set(xlabel="cosine similarity", xlim=xlim, title=f"top {k}: {_shorten(query)!r}")
    fig.tight_layout()
    return fig, [(texts[j], round(s, 3)) for j, s in zip(idx.tolist(), sims.tolist(), strict=True)]


def embedding_explorer(
    texts: Sequence[str],
    embeddings: torch.Tensor,
    embed_fn: Callable[[list[str]], torch.Tensor],
    groups: Sequence[str] | None = None,
    query: str = "",
):
    """An ipywidgets explorer: type a query, get its ranked neighbours and its place in the PCA map."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        raise ImportError("the explorer needs ipywidgets: pip install ipywidgets (Colab has it)") from None
    box = widgets.Text(value=query, description="query:", layout=widgets.Layout(width="70%"), continuous_update=False)
    k = widgets.IntSlider(value=5, min=1, max=min(10, len(texts)), description="neighbours:")
    out = widgets.Output()

    def update(_=None) -> None:
        out.clear_output(wait=True)
        with out:
            if not box.value.strip():
                print("Type a sentence and press Enter.")
                return
            fig, _ = neighbour_view(box.value, texts, embeddings, embed_fn, groups, k.value)
            display(fig)
            plt.close(fig)

    box.observe(update, names="value")
    k.observe(update, names="value")
    if box.value.strip():  # the first view goes into the widget's outputs directly: capturing output
        fig, _ = neighbour_view(box.value, texts, embeddings, embed_fn, groups, k.value)  # while the
        out.append_display_data(fig)  # cell itself runs can hold up a notebook runner's execute reply
        plt.close(fig)
    else:
        update()
    return widgets.VBox([widgets.HBox([box, k]), out])
