"""Callbacks for ``train()``: a progress bar, a live loss plot and printed losses (chapter 9).

A callback is any object with some of the methods ``on_start``, ``on_step``, ``on_eval`` and
``on_end``; each receives the loop's ``state`` dict (``cfg``, ``history``, ``step``, ``loss``,
``lr``, and after an evaluation ``losses``, ``tokens_per_s``, ``elapsed``).
"""

from __future__ import annotations

import time

__all__ = ["ProgressBar", "LivePlot", "PrintLosses"]


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class ProgressBar:
    """Progress over steps with loss, validation loss and tokens/s.

    In a notebook it is one line of text updated in place, so the saved notebook and the website
    show its final state; in a terminal it is a ``tqdm`` bar.
    """

    def __init__(self, width: int = 24, min_interval: float = 0.5, **tqdm_kwargs):
        if width < 1 or min_interval < 0:
            raise ValueError(f"ProgressBar needs width >= 1 and min_interval >= 0, got {width}, {min_interval}")
        self.width, self.min_interval, self.kwargs = width, min_interval, tqdm_kwargs
        self.handle = self.bar = None
        self.last, self.extra, self.done = 0.0, "", 0

    def _line(self, state: dict) -> str:
        total, done = state["cfg"].max_steps, min(self.done, state["cfg"].max_steps)
        filled = round(self.width * done / total)
        loss = f" | loss {state['loss']:.3f}" if "loss" in state else ""
        return f"[{'#' * filled}{'.' * (self.width - filled)}] step {done}/{total}{loss}{self.extra}"

    def on_start(self, state: dict) -> None:
        self.last, self.extra, self.done = 0.0, "", state["step"]  # steps already done (a resumed run)
        if _in_notebook():
            from IPython.display import display

            self.handle = display({"text/plain": self._line(state)}, raw=True, display_id=True)
        else:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state["cfg"].max_steps, initial=state["step"], unit="step", **self.kwargs)

    def _show(self, state: dict, force: bool = False) -> None:
        now = time.perf_counter()
        if self.handle is not None and (force or now - self.last >= self.min_interval):
            self.handle.update({"text/plain": self._line(state)}, raw=True)
            self.last = now

    def on_step(self, state: dict) -> None:
        self.done = state["step"] + 1
        if self.bar is not None:
            self.bar.update(1)
            if state["step"] % 20 == 0:
                self.bar.set_postfix(loss=f"{state['loss']:.3f}", refresh=False)
        self._show(state)

    def on_eval(self, state: dict) -> None:
        self.extra = (
            f" | val {state['losses']['val']:.3f} | {state['tokens_per_s']:,.0f} tokens/s | {state['elapsed']:.0f} s"
        )
        if self.bar is not None:
            self.bar.set_postfix(
                loss=f"{state['loss']:.3f}", val=f"{state['losses']['val']:.3f}", tok_s=f"{state['tokens_per_s']:.0f}"
            )
        self._show(state, force=True)

    def on_end(self, state: dict) -> None:
        history = state["history"]
        if not self.extra and history.get("val_loss"):  # nothing ran: a finished checkpoint was loaded
            self.done = len(history["step"])
            self.extra = f" | val {history['val_loss'][-1]:.3f} | loaded from the checkpoint"
        if self.bar is not None:
            self.bar.close()
        self._show(state, force=True)


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
        if state["history"].get("eval_step"):
            self._draw(state)
