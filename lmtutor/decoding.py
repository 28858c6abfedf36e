"""Choosing the next token from logits: greedy, temperature, top-k, top-p, repetition penalty, beam search (chapter 11).

Every function follows the semantics of the matching 🤗 Transformers logits processor
(``TemperatureLogitsWarper``, ``TopKLogitsWarper``, ``TopPLogitsWarper``,
``RepetitionPenaltyLogitsProcessor``) and of ``generate(num_beams=...)`` without an end-of-text
token; ``tests/test_decoding.py`` checks each against transformers on the same weights.
"""

from __future__ import annotations

import torch

__all__ = [
    "filter_logits",
    "repetition_penalty",
    "process_logits",
    "next_token",
    "beam_step",
    "beam_search",
    "plot_next_token",
    "next_token_explorer",
]


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating-point tensor of shape (B, V)")
    if logits.dim() != 2:
        hint = "; add a batch dimension with logits[None]" if logits.dim() == 1 else ""
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}{hint}")


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Keep the ``top_k`` largest logits and/or the smallest set whose probability reaches ``top_p``.

    Top-p keeps a token when the tokens more probable than it hold less than ``top_p``, so the
    token that crosses ``top_p`` stays (as ``TopPLogitsWarper``); the most probable token always stays.
    Shapes: logits (B, V) -> (B, V) with removed entries set to -inf.
    """
    _check_logits(logits)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an int >= 1 (or None for no top-k), got {top_k!r}")
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (1.0 keeps everything), got {top_p}")
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        probs = sorted_logits.softmax(-1)
        drop_sorted = probs.cumsum(-1) - probs >= top_p  # mass before this token already >= p
        drop_sorted[..., 0] = False  # keep at least one token
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def repetition_penalty(logits: torch.Tensor, idx: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already in ``idx`` less likely (Keskar et al. 2019, as 🤗's processor).

    A seen token's logit is divided by ``penalty`` if positive, multiplied if negative, once
    however often it occurred. Shapes: logits (B, V), idx (B, T) -> (B, V).
    """
    _check_logits(logits)
    if not penalty > 0:
        raise ValueError(f"penalty must be > 0 (1.0 = no penalty, > 1 discourages repeats), got {penalty}")
    if idx.dim() != 2 or idx.shape[0] != logits.shape[0]:
        raise ValueError(f"idx must have shape (B, T) with B = {logits.shape[0]} like logits, got {tuple(idx.shape)}")
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, idx, True)  # (B, V)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def process_logits(
    logits: torch.Tensor,
    idx: torch.Tensor | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    penalty: float = 1.0,
) -> torch.Tensor:
    """Repetition penalty, temperature, top-k, top-p, in the order 🤗 ``generate`` applies them.

    Shapes: logits (B, V) [, idx (B, T)] -> (B, V); softmax of the result is the sampling distribution.
    """
    _check_logits(logits)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}; use do_sample=False for greedy")
    logits = logits.float()
    if penalty != 1.0:
        if idx is None:
            raise ValueError("a repetition penalty needs the tokens so far: pass idx (B, T)")
        logits = repetition_penalty(logits, idx, penalty)
    return filter_logits(logits / temperature, top_k, top_p)


def next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    do_sample: bool = True,
    generator: torch.Generator | None = None,
    idx: torch.Tensor | None = None,
    penalty: float = 1.0,
) -> torch.Tensor:
    """Pick one token per row. Greedy (argmax) unless ``do_sample``; temperature only acts when sampling.

    Shapes: logits (B, V) [, idx (B, T) for the repetition penalty] -> (B, 1) token ids.
    """
    if not do_sample:
        if penalty != 1.0:
            logits = process_logits(logits, idx, penalty=penalty)
        return logits.argmax(dim=-1, keepdim=True)
    logits = process_logits(logits, idx, temperature, top_k, top_p, penalty)
    return torch.multinomial(logits.softmax(-1), num_samples=1, generator=generator)


def beam_step(
    beam_scores: torch.Tensor, log_probs: torch.Tensor, num_beams: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of beam search: the ``num_beams`` best (beam, token) pairs by total log-probability.

    Shapes: beam_scores (K,), log_probs (K, V) -> scores (N,), beam index (N,), token id (N,).
    """
    if num_beams < 1:
        raise ValueError(f"num_beams must be >= 1 (1 is greedy decoding), got {num_beams}")
    K, V = log_probs.shape
    if beam_scores.shape != (K,):
        raise ValueError(f"beam_scores must have shape ({K},), one score per beam, got {tuple(beam_scores.shape)}")
    total = beam_scores[:, None] + log_probs  # (K, V): score of every continuation
    scores, flat = total.flatten().topk(min(num_beams, K * V))  # (N,)
    return scores, flat // V, flat % V


def _last_logits(model, idx: torch.Tensor) -> torch.Tensor:
    """Logits of the last position of an lmtutor or 🤗 model. Shapes: (B, T) -> (B, V)."""
    block_size = getattr(getattr(model, "config", None), "block_size", None)
    out = model(idx[:, -block_size:] if block_size else idx)
    logits = out[0] if isinstance(out, tuple) else out.logits  # (B, T, V)
    return logits[:, -1].float()


@torch.no_grad()
def beam_search(
    model, idx: torch.Tensor, max_new_tokens: int, num_beams: int, penalty: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search without an end-of-text token: like ``generate(num_beams=..., do_sample=False)``.

    Returns the beams, best first, and their total log-probabilities.
    Shapes: idx (1, T) -> sequences (num_beams, T + max_new_tokens), scores (num_beams,).
    """
    if idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError(f"beam_search decodes one prompt: idx must have shape (1, T), got {tuple(idx.shape)}")
    if num_beams < 1:
        raise ValueError(f"num_beams must be >= 1 (1 is greedy decoding), got {num_beams}")
    seqs, scores = idx, torch.zeros(1, device=idx.device)  # (K, T), (K,): one beam to start
    for _ in range(max_new_tokens):
        logits = _last_logits(model, seqs)  # (K, V)
        if penalty != 1.0:
            logits = repetition_penalty(logits, seqs, penalty)
        scores, beam, token = beam_step(scores, logits.log_softmax(-1), num_beams)
        seqs = torch.cat([seqs[beam], token[:, None]], dim=1)  # (N, T + 1)
    return seqs, scores


def plot_next_token(
    logits: torch.Tensor,
    labels: list[str],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    n_show: int = 15,
    ax=None,
    title: str | None = None,
):
    """Bar chart: the model's next-token probabilities and the distribution sampling draws from.

    Shapes: logits (V,); ``labels`` names the V tokens. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if logits.dim() != 1 or len(labels) != logits.shape[0]:
        raise ValueError(f"need logits of shape (V,) and V labels, got {tuple(logits.shape)} and {len(labels)}")
    raw = logits.float().softmax(-1)
    final = process_logits(logits[None], None, temperature, top_k, top_p)[0].softmax(-1)  # (V,)
    show = raw.topk(min(n_show, len(labels))).indices.tolist()
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    x = torch.arange(len(show)).float()
    ax.bar(x - 0.2, raw[show], width=0.4, color="0.7", label="model (T = 1)")
    ax.bar(x + 0.2, final[show], width=0.4, color="tab:blue", label="sampled from")
    ax.set_xticks(x.tolist(), [repr(labels[i])[1:-1] for i in show], fontsize=8)
    kept = int((final > 0).sum())
    top = max(raw[show].max().item(), final[show].max().item())
    ax.set(xlabel="next token", ylabel="probability", ylim=(0, min(1.0, 1.15 * top)))
    ax.set_title(title or f"T = {temperature}, top-k = {top_k}, top-p = {top_p}\n{kept} tokens kept", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def next_token_explorer(logits: torch.Tensor, labels: list[str], context: str = ""):
    """ipywidgets sliders (temperature, top-k, top-p) over ``plot_next_token``. Shapes: logits (V,)."""
    try:
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from IPython.display import display
    except ImportError:
        raise ImportError("the explorer needs ipywidgets: pip install ipywidgets (Colab has it)") from None
    temp = widgets.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.05, description="temperature")
    top_k = widgets.IntSlider(value=0, min=0, max=len(labels), description="top-k (0=off)")
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
    out = widgets.Output()

    def draw():
        fig, ax = plt.subplots(figsize=(8, 3))
        plot_next_token(logits, labels, temp.value, top_k.value or None, top_p.value, ax=ax)
        ax.set_title(f"after {context[-30:]!r}\n{ax.get_title()}", fontsize=9)
        fig.tight_layout()
        plt.close(fig)
        return fig

    def update(_=None) -> None:
        out.clear_output(wait=True)
        with out:
            display(draw())

    for w in (temp, top_k, top_p):
        w.observe(update, names="value")
    out.append_display_data(draw())  # not `with out:` while the cell runs: it holds up notebook runners
    return widgets.VBox([widgets.HBox([temp, top_k, top_p]), out])
