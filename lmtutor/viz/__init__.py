"""Figures of the book: attention views (static and interactive), loss curves, matrices."""

from .analysis import attention_entropy, attention_rollout, head_summary, mean_attention_distance
from .static import attention_grid, attention_heatmap, plot_loss, plot_matrix

__all__ = [
    "attention_entropy",
    "attention_grid",
    "attention_heatmap",
    "attention_rollout",
    "head_summary",
    "mean_attention_distance",
    "plot_loss",
    "plot_matrix",
]
