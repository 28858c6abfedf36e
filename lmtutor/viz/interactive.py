"""Interactive attention views that need no kernel and no network (chapters 5, 6, 8, 13).

``head_view`` and ``model_view`` return an ``AttentionView``: one block of HTML holding the
weights (8-bit, base64 in JSON), the JavaScript and the CSS of ``assets/``, nothing loaded from
elsewhere. It renders in JupyterLab, Colab, VS Code, on the book's static website and in a page
saved to disk. Frontends without HTML (PDF, plain text) get a PNG of the same weights instead.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import io
import itertools
import json
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from .extract import AttentionData, Seq2SeqAttention, attention_data

__all__ = ["AttentionView", "head_view", "model_view"]

LINE_LIMIT = 64  # above this many tokens the head view switches from two token columns to text + image
MAX_CELLS = 250_000  # weights embedded densely; beyond this each query keeps SPARSE_TOP_K weights + block sums
SPARSE_TOP_K = 8
_LABELS = {
    "self": "self-attention",
    "encoder": "encoder self-attention",
    "decoder": "self-attention (causal)",
    "cross": "cross-attention (target → source)",
}
_ids = itertools.count()


@cache
def _asset(name: str) -> str:
    return (resources.files("lmtutor.viz") / "assets" / name).read_text(encoding="utf-8")


def _b64(t: torch.Tensor) -> str:
    return base64.urlsafe_b64encode(t.contiguous().numpy().tobytes()).decode("ascii")  # no "/" in the page


def _parts(data, tokens: Sequence[str] | None) -> list[AttentionData]:
    if isinstance(data, AttentionData):
        parts = [data]
    elif isinstance(data, Seq2SeqAttention):
        parts = data.parts()
    elif isinstance(data, (list, tuple)) and data and all(isinstance(d, AttentionData) for d in data):
        parts = list(data)
    else:
        parts = [attention_data(data, tokens)]
    if tokens is not None and isinstance(data, (AttentionData, Seq2SeqAttention)):
        raise ValueError("tokens are taken from the AttentionData; pass tokens only with a plain tensor")
    return parts


def _subset(n: int, chosen: Sequence[int] | None, what: str) -> list[int]:
    if chosen is None:
        return list(range(n))
    picked = [int(i) for i in chosen]
    if not picked or any(not -n <= i < n for i in picked):
        raise ValueError(f"{what} must be a non-empty list of indices in [0, {n}), got {list(chosen)}")
    return [i % n for i in picked]


def _compress(a: torch.Tensor, k: int) -> dict:
    """Each query's k largest weights exactly, the rest as sums over blocks of keys. a: (L, H, T_q, T_k)."""
    Tk = a.shape[-1]
    block = max(4, math.ceil(Tk / 16))  # at most 16 blocks per query
    values, index = a.topk(k, dim=-1)  # (L, H, T_q, k)
    rest = a.scatter(-1, index, 0.0)  # weights outside the top k
    rest = F.pad(rest, (0, -Tk % block)).unflatten(-1, (-1, block)).sum(-1)  # (L, H, T_q, ceil(T_k / block))
    mass = float(values.sum(-1).mean() / a.sum(-1).mean().clamp_min(1e-9))
    return {
        "w": _b64((values * 255).round().to(torch.uint8)),
        "idx": _b64(index.to(torch.int16)),  # read as uint16 in the browser
        "rest": _b64((rest.clamp(0, 1) * 255).round().to(torch.uint8)),
        "block": block,
        "mass": round(mass, 3),
    }


def _encode(part: AttentionData, label: str, layers: list, heads: list, k: int | None) -> dict:
    """Quantise one map set to 8 bits: dense, or (``k``) top-k exact plus block sums of the rest."""
    a = part.attentions[layers][:, heads].clamp(0, 1)  # (L', H', T_q, T_k)
    L, H, Tq, Tk = a.shape
    k = Tk if k is None else min(Tk, k)
    entry = {"label": label, "kind": part.kind, "L": L, "H": H, "Tq": Tq, "Tk": Tk, "k": k, "idx": None, "mass": 1.0}
    if k == Tk:
        entry["w"] = _b64((a * 255).round().to(torch.uint8))
    else:
        entry.update(_compress(a, k))
    entry.update(q=part.tokens, kt=part.key_tokens, qs=[i for i, s in enumerate(part.special) if s])
    entry.update(ks=[i for i, s in enumerate(part.key_special) if s], segB=part.segment_b_start)
    entry.update(layers=layers, heads=heads, dist=None, ent=None)
    if Tq == Tk and part.kind != "cross":
        summary = AttentionData(a, part.tokens).summary()
        entry["dist"] = summary["distance"].round(decimals=2).tolist()
        entry["ent"] = summary["entropy"].round(decimals=3).tolist()
    return entry


def _rollout_part(part: AttentionData) -> AttentionData:
    roll = part.rollout()[None, None]  # (1, 1, T, T)
    return AttentionData(roll, part.tokens, None, part.kind, part.segment_b_start, part.special, [], part.source)


def _notes(entries: list[dict], line_limit: int) -> list[str]:
    notes = ["Weights are stored with 8 bits (steps of 1/255); rows are queries, columns keys."]
    for e in entries:
        if e["k"] < e["Tk"]:
            notes.append(
                f"{e['label']}: {e['Tk']} keys; each query keeps its {e['k']} largest weights exactly "
                f"({e['mass']:.0%} of the attention mass); the rest is shown as its average over blocks "
                f"of {e['block']} keys."
            )
        if max(e["Tq"], e["Tk"]) > line_limit:
            notes.append(
                f"{max(e['Tq'], e['Tk'])} tokens are too many for two columns of labels: the tokens flow as text "
                "(shaded by weight) next to an image of the whole map."
            )
    return list(dict.fromkeys(notes))


class AttentionView:
    """A self-contained interactive attention view; shows itself in notebooks and saves as a web page."""

    def __init__(self, config: dict, parts: list[AttentionData], mode: str, layer: int, head: int | None):
        self.config, self.parts, self.mode = config, parts, mode
        self._layer, self._head, self._png = layer, head, None

    def png(self) -> bytes:
        """The static picture shown where JavaScript cannot run (PDF, untrusted notebooks)."""
        if self._png is None:
            from .static import attention_grid, plot_attention

            part = self.parts[0]
            if self.mode == "model":
                fig = attention_grid(part.attentions, cell_size=min(1.2, 9.0 / part.shape[1]))
            else:
                fig = plot_attention(part, self._layer, self._head).figure
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=50, bbox_inches="tight")
            plt.close(fig)
            self._png = buf.getvalue()
        return self._png

    def html(self) -> str:
        """The HTML fragment: root element with a PNG fallback, JSON data, CSS and JavaScript."""
        payload = json.dumps(self.config, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace(
            "<", "\\u003c"
        )
        digest = hashlib.sha1(payload.encode()).hexdigest()[:8]
        uid = f"lmt-attn-{digest}-{next(_ids)}"
        img = base64.b64encode(self.png()).decode("ascii")
        return (
            f'<div class="lmt-attn" id="{uid}" data-ready="0"><div class="lmt-fallback">'
            f'<img alt="attention weights (static picture)" src="data:image/png;base64,{img}"/>'
            "<div>Static picture: the interactive view needs JavaScript (run the cell in a trusted notebook, "
            "or read the book's website).</div></div></div>\n"
            f'<script type="application/json" id="{uid}-data">{payload}</script>\n'
            f"<style>{_asset('attention_view.css')}</style>\n"
            f"<script>{_asset('attention_view.js')}\n"
            f"window.LmtAttn.mount({json.dumps(uid)}, document.currentScript);</script>\n"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/html": self.html(),
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "text/plain": repr(self),
        }

    def save(self, path: str | Path) -> Path:
        """Write a standalone web page that works from disk with no network."""
        path = Path(path)
        title = html_lib.escape(self.config.get("title") or "attention")
        page = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n<body>\n'
        path.write_text(page + self.html() + "</body></html>\n", encoding="utf-8")
        return path

    def __repr__(self) -> str:
        L, H, Tq, Tk = self.parts[0].shape
        return (
            f"AttentionView({self.mode} view: {L} layers x {H} heads, {Tq} x {Tk} tokens, {len(self.parts)} map set(s))"
        )


def _build(data, tokens, mode, layer, head, layers, heads, top_k, rollout, title, line_limit, max_cells):
    if (top_k is not None and top_k < 1) or line_limit < 1 or max_cells < 1:
        raise ValueError(f"top_k, line_limit and max_cells must be >= 1, got {top_k}, {line_limit}, {max_cells}")
    parts = _parts(data, tokens)
    first = parts[0]
    layers_kept = _subset(first.shape[0], layers, "layers")
    heads_kept = _subset(first.shape[1], heads, "heads")
    if layer not in range(-len(layers_kept), len(layers_kept)):
        raise ValueError(f"layer={layer} is not one of the {len(layers_kept)} layers shown")
    if head is not None and head not in range(-len(heads_kept), len(heads_kept)):
        raise ValueError(f"head={head} is not one of the {len(heads_kept)} heads shown (None = all heads)")
    sets = [
        (p, _LABELS[p.kind], _subset(p.shape[0], layers, "layers"), _subset(p.shape[1], heads, "heads")) for p in parts
    ]
    if rollout and parts[0].kind != "cross" and parts[0].shape[0] > 1:
        sets.append((_rollout_part(parts[0]), "rollout over all layers", [0], [0]))
    dense = sum(len(ls) * len(hs) * p.shape[2] * p.shape[3] for p, _, ls, hs in sets)
    k = top_k if top_k is not None else (None if dense <= max_cells else SPARSE_TOP_K)
    entries = [_encode(p, label, ls, hs, k) for p, label, ls, hs in sets]
    if len(sets) > len(parts):
        entries[-1].update(layers=["all"], heads=["mean"])
    n_head = entries[0]["H"]
    config = {
        "mode": mode,
        "title": title or "",
        "sets": entries,
        "set": 0,
        "layer": layer % len(layers_kept),
        "heads": list(range(n_head)) if head is None else [head % n_head],
        "lineLimit": line_limit,
        "notes": _notes(entries, line_limit),
    }
    return AttentionView(config, parts, mode, layers_kept[layer], None if head is None else heads_kept[head])


def head_view(
    data,
    tokens: Sequence[str] | None = None,
    layer: int = 0,
    head: int | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    top_k: int | None = None,
    rollout: bool = True,
    title: str | None = None,
    line_limit: int = LINE_LIMIT,
    max_cells: int = MAX_CELLS,
) -> AttentionView:
    """Where each token attends, for a chosen layer and head(s): hover or click a token.

    ``data``: ``AttentionData``, ``Seq2SeqAttention`` or a weights tensor with ``tokens``.
    ``head=None`` starts with all heads (mean). ``layers``/``heads`` restrict what is embedded;
    ``layer``/``head`` then index that selection. Long inputs (more than ``max_cells`` weights)
    keep each query's ``top_k`` (default 8) largest weights exactly and the rest as block
    averages; the view says so.
    """
    return _build(data, tokens, "head", layer, head, layers, heads, top_k, rollout, title, line_limit, max_cells)


def model_view(
    data,
    tokens: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    top_k: int | None = None,
    title: str | None = None,
    line_limit: int = LINE_LIMIT,
    max_cells: int = MAX_CELLS,
) -> AttentionView:
    """All layers x heads as small maps; click one to open it as a head view below the grid."""
    return _build(data, tokens, "model", 0, 0, layers, heads, top_k, False, title, line_limit, max_cells)
