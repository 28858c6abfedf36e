"""Figures of the book: attention views (static and interactive), loss curves, matrices."""

from .static import attention_grid, attention_heatmap, plot_loss, plot_matrix

__all__ = ["attention_grid", "attention_heatmap", "plot_loss", "plot_matrix"]
