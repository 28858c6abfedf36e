"""Scaled dot-product attention, masks and multi-head attention (chapters 5 and 6).

Mask convention (the same as ``torch.nn.functional.scaled_dot_product_attention``): a boolean
tensor where ``True`` means "this query may attend to this key". A query whose every key is
masked gets all-zero weights and a zero output instead of NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "KVCache",
    "MultiHeadAttention",
    "repeat_kv",
]

_SDPA_GQA = tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5)  # enable_gqa is new in torch 2.5


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}; use .float()")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., T, d), got {tuple(t.shape)}")
    if not q.dim() == k.dim() == v.dim():
        raise ValueError(f"q, k, v must have the same rank, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share their last dimension d_k, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions, got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> None:
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}; "
            "convert with mask.bool() or build it with causal_mask()/padding_mask()"
        )
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores "
            f"{tuple(scores_shape)} (..., T_q, T_k)"
        ) from None


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """(T_q, T_k) bool mask, True on and below the diagonal: query i sees keys up to its own position.

    With ``t_k > t_q`` (a KV cache holding earlier keys) the queries are the *last* t_q positions.
    """
    t_k = t_q if t_k is None else t_k
    if t_q < 1 or t_k < t_q:
        raise ValueError(f"causal_mask needs 1 <= t_q <= t_k, got t_q={t_q}, t_k={t_k}")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, S) with 1/True for real tokens and 0/False for padding -> (B, 1, 1, S) bool key mask."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must have shape (B, S), got {tuple(attention_mask.shape)}")
    return attention_mask.bool()[:, None, None, :]  # (B, 1, 1, S): broadcast over heads and queries


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q Kᵀ / √d_k) V, returning the output and the attention weights.

    Shapes: q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v) -> out (..., T_q, d_v),
    weights (..., T_q, T_k). ``mask`` is bool, True = may attend, broadcastable to the weights.
    """
    _check_qkv(q, k, v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if is_causal:
        causal = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
        mask = causal if mask is None else mask & causal
    if mask is not None:
        _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.nan_to_num(0.0)  # a fully masked row is all -inf -> NaN; make it zero
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Share each key/value head with ``n_rep`` query heads (grouped-query attention, chapter 15).

    Each head is repeated ``n_rep`` times in a row (heads 0,0,1,1 for n_rep=2), so query head h uses
    key/value head h // n_rep, as ``F.scaled_dot_product_attention(..., enable_gqa=True)`` does.
    Shapes: (B, H_kv, T, Dh) -> (B, H_kv * n_rep, T, Dh).
    """
    if x.dim() != 4:
        raise ValueError(f"repeat_kv needs keys or values of shape (B, H_kv, T, Dh), got {tuple(x.shape)}")
    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 1:
        raise ValueError(f"n_rep must be a positive int (query heads per key/value head), got {n_rep!r}")
    if n_rep == 1:
        return x
    B, H_kv, T, Dh = x.shape
    return x[:, :, None].expand(B, H_kv, n_rep, T, Dh).reshape(B, H_kv * n_rep, T, Dh)  # (B, H_kv*n_rep, T, Dh)


class KVCache:
    """Keys and values of earlier positions, one entry per layer, for fast generation (chapter 11).

    ``keys[layer]`` and ``values[layer]`` are (B, H_kv, T, Dh) views of buffers that grow by doubling,
    so appending one position copies one position instead of the whole history (as ``torch.cat``
    would). H_kv is the number of key/value heads: n_head, or fewer with grouped-query attention.
    """

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self._buffers: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []

    def __len__(self) -> int:
        """Number of cached positions (of the first layer, i.e. before a forward pass updates it)."""
        return self.seq_len(0)

    def nbytes(self) -> int:
        """Bytes of the cached keys and values (the positions in use, not the spare room of the buffers)."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def clear(self) -> None:
        """Forget every cached position (of every layer)."""
        self.keys, self.values, self._buffers = [], [], []

    def seq_len(self, layer: int) -> int:
        """Number of positions cached for ``layer``."""
        return self.keys[layer].shape[-2] if layer < len(self.keys) else 0

    @staticmethod
    def _grow(old: torch.Tensor | None, like: torch.Tensor, used: int, needed: int) -> torch.Tensor:
        """A buffer with room for at least ``needed`` positions holding the first ``used`` of ``old``."""
        B, H, _, Dh = like.shape
        buf = like.new_empty(B, H, max(2 * needed, 16), Dh)  # (B, H, capacity, Dh)
        if old is not None:
            buf[:, :, :used] = old[:, :, :used]
        return buf

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's k, v (B, H, T, Dh) for ``layer``; return all keys and values so far."""
        if layer == len(self.keys):  # the first step of this layer: an empty history
            self.keys.append(k[:, :, :0])
            self.values.append(v[:, :, :0])
            self._buffers.append((None, None))
        if torch.is_grad_enabled() and (k.requires_grad or v.requires_grad):  # no in-place writes under autograd
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=-2)  # (B, H, T_past+T, Dh)
            self.values[layer] = torch.cat([self.values[layer], v], dim=-2)
            return self.keys[layer], self.values[layer]
        used, end = self.seq_len(layer), self.seq_len(layer) + k.shape[-2]
        k_buf, v_buf = self._buffers[layer]
        if k_buf is None or end > k_buf.shape[-2]:
            k_buf, v_buf = self._grow(k_buf, k, used, end), self._grow(v_buf, v, used, end)
            self._buffers[layer] = (k_buf, v_buf)
        k_buf[:, :, used:end] = k
        v_buf[:, :, used:end] = v
        self.keys[layer], self.values[layer] = k_buf[:, :, :end], v_buf[:, :, :end]  # (B, H, T_past+T, Dh)
        return self.keys[layer], self.values[layer]


class MultiHeadAttention(nn.Module):
    """Multi-head attention with one fused Q/K/V projection (the layout of GPT-2 and nn.MultiheadAttention).

    Shapes: x (B, T, D) [, memory (B, S, D)] -> out (B, T, D), weights (B, H, T, S) or None.
    Self-attention when ``memory`` is None; cross-attention (queries from x, keys/values from
    memory) otherwise. ``n_kv_head`` < n_head is grouped-query attention (Ainslie et al. 2023; 1 is
    multi-query, Shazeer 2019): the fused projection makes n_head query heads but only n_kv_head
    key/value heads (D + 2 * n_kv_head * Dh outputs), each shared by n_head // n_kv_head query heads.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        dropout: float = 0.0,
        *,
        bias: bool = True,
        causal: bool = False,
        n_kv_head: int | None = None,
    ):
        super().__init__()
        if d_model <= 0 or n_head <= 0 or d_model % n_head != 0:
            raise ValueError(
                f"d_model={d_model} must be a positive multiple of n_head={n_head} "
                "(each head gets d_model // n_head dimensions)"
            )
        n_kv_head = n_head if n_kv_head is None else n_kv_head
        if isinstance(n_kv_head, bool) or not isinstance(n_kv_head, int) or n_kv_head < 1 or n_head % n_kv_head:
            allowed = [d for d in range(1, n_head + 1) if n_head % d == 0]
            raise ValueError(f"n_kv_head={n_kv_head!r} must divide n_head={n_head}: use one of {allowed} (or None)")
        self.d_model, self.n_head, self.head_dim = d_model, n_head, d_model // n_head
        self.n_kv_head, self.kv_dim = n_kv_head, n_kv_head * self.head_dim
        self.causal, self.dropout = causal, dropout
        self.qkv = nn.Linear(d_model, d_model + 2 * self.kv_dim, bias=bias)  # rows: [W_q; W_k; W_v]
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, t: torch.Tensor, n_head: int | None = None) -> torch.Tensor:
        B, T, _ = t.shape
        n_head = n_head or self.n_head
        return t.view(B, T, n_head, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

    def _project(self, x: torch.Tensor, memory: torch.Tensor | None):
        """q (B, T, D), k and v (B, T|S, n_kv_head * Dh) from the one fused projection."""
        D, kv = self.d_model, self.kv_dim
        if memory is None:
            return self.qkv(x).split((D, kv, kv), dim=-1)
        w, b = self.qkv.weight, self.qkv.bias
        q = F.linear(x, w[:D], None if b is None else b[:D])  # (B, T, D)
        k, v = F.linear(memory, w[D:], None if b is None else b[D:]).split(kv, dim=-1)  # (B, S, kv)
        return q, k, v

    def _check_input(self, name: str, t: torch.Tensor) -> None:
        if t.dim() != 3 or t.shape[-1] != self.d_model:
            raise ValueError(
                f"{name} must have shape (B, T, {self.d_model}), got {tuple(t.shape)}"
                + ("; add a batch dimension with x[None]" if t.dim() == 2 else "")
            )
        if not t.is_floating_point():
            raise TypeError(f"{name} must be floating point, got {t.dtype}; embed token ids first")

    @staticmethod
    def _merge_masks(mask: torch.Tensor | None, causal: bool, t_q: int, t_k: int, device) -> tuple:
        """``(mask, is_causal)`` for the fused kernel, whose ``is_causal`` only fits T_q == T_k without a mask.

        A single query is the newest position (every key is in its past): no causal mask at all. With
        cached keys (T_k > T_q) or a padding mask, the causal mask is made explicit and ANDed in.
        """
        if not causal or (mask is None and t_q == 1):
            return mask, False
        if mask is None and t_q == t_k:
            return None, True
        cm = causal_mask(t_q, t_k, device=device)  # (T_q, T_k), aligned at the newest key
        return (cm if mask is None else mask & cm), False

    def _fused(self, q, k, v, mask, causal: bool, dropout_p: float) -> torch.Tensor:
        """PyTorch's fused attention (flash / memory-efficient kernels where available). Shapes as SDPA.

        With fewer key/value heads than query heads the kernel shares them itself (``enable_gqa``).
        """
        mask, is_causal = self._merge_masks(mask, causal, q.shape[-2], k.shape[-2], q.device)
        n_rep = self.n_head // self.n_kv_head
        gqa = {"enable_gqa": True} if n_rep > 1 and _SDPA_GQA else {}
        if n_rep > 1 and not _SDPA_GQA:
            k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal, **gqa)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        rope: nn.Module | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend; ``need_weights=True`` uses the explicit formula and returns per-head weights."""
        self._check_input("x", x)
        if memory is not None:
            self._check_input("memory", memory)
        q, k, v = self._project(x, memory)
        q = self._split_heads(q)  # (B, H, T, Dh)
        k, v = self._split_heads(k, self.n_kv_head), self._split_heads(v, self.n_kv_head)  # (B, H_kv, T|S, Dh)
        past = cache.seq_len(layer) if cache is not None else 0
        if rope is not None:
            q, k = rope(q, offset=past), rope(k, offset=past)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H_kv, past+T, Dh): the cache keeps only the shared heads
        if mask is not None:
            _check_mask(mask, torch.Size((*q.shape[:-1], k.shape[-2])))
        causal = self.causal and memory is None
        p = self.dropout if self.training else 0.0
        if need_weights:
            n_rep = self.n_head // self.n_kv_head
            k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)  # (B, H, past+T, Dh)
            out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal=causal, dropout_p=p)
        else:
            out, weights = self._fused(q, k, v, mask, causal, p), None
        B, _, T, _ = out.shape
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # (B, T, H*Dh)
        return self.out_proj(out), weights
