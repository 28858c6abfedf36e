"""Callbacks for ``train()``: a progress bar and a live loss plot (chapter 9)."""

from __future__ import annotations

__all__ = ["ProgressBar", "LivePlot", "PrintLosses"]


class ProgressBar:
    """A tqdm bar over steps showing loss, validation loss and tokens/s."""

    def __init__(self, **tqdm_kwargs):
        self.kwargs = tqdm_kwargs
        self.bar = None

    def on_start(self, state: dict) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state["cfg"].max_steps, initial=state["step"], unit="step", **self.kwargs)

    def on_step(self, state: dict) -> None:
        self.bar.update(1)
        if state["step"] % 20 == 0:
            self.bar.set_postfix(loss=f"{state['loss']:.3f}", refresh=False)

    def on_eval(self, state: dict) -> None:
        self.bar.set_postfix(
            loss=f"{state['loss']:.3f}", val=f"{state['losses']['val']:.3f}", tok_s=f"{state['tokens_per_s']:.0f}"
        )

    def on_end(self, state: dict) -> None:
        self.bar.close()


class PrintLosses:
    """Print one line per evaluation (for scripts and logs)."""

    def on_eval(self, state: dict) -> None:
        ls = state["losses"]
        print(
            f"step {state['step']:5d} | train {ls['train']:.4f} | val {ls['val']:.4f} | "
            f"{state['tokens_per_s']:,.0f} tok/s | {state['elapsed']:.0f} s",
            flush=True,
        )


class LivePlot:
    """Redraw the loss curves in place after every evaluation (JupyterLab, Colab, the website)."""

    def __init__(self, smooth: int = 50):
        self.smooth, self.handle, self.fig = smooth, None, None

    def _draw(self, state: dict) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .viz import plot_loss

        if self.fig is None:
            self.fig, self.ax = plt.subplots(figsize=(7, 4))
            plt.close(self.fig)  # shown through the display handle only
        self.ax.clear()
        plot_loss(state["history"], ax=self.ax, smooth=self.smooth, title="training progress")
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)

    def on_eval(self, state: dict) -> None:
        self._draw(state)

    def on_end(self, state: dict) -> None:
        self._draw(state)
