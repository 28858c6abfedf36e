"""The decoder-only Transformer (GPT): feed-forward, pre-LN block, model and generation (chapters 8, 9).

The layout follows GPT-2 (fused Q/K/V, tanh-GELU, learned positions, tied input/output
embeddings) so that ``lmtutor.hf`` can map its weights one-to-one onto 🤗 ``GPT2LMHeadModel``.
The blocks of today's LLMs are options (chapter 15): RMSNorm, the SwiGLU MLP, grouped-query
attention (``GPTConfig.norm``, ``mlp``, ``n_kv_head``) and RoPE (``pos_encoding="rope"``).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention
from .config import IGNORE_INDEX, MLPS, NORMS, PRESETS, GPTConfig, default_d_ff
from .decoding import next_token
from .positional import LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding
from .utils import did_you_mean

__all__ = ["GPTConfig", "PRESETS", "FeedForward", "SwiGLU", "Block", "GPT", "make_norm", "make_mlp", "kv_cache_bytes"]


class FeedForward(nn.Module):
    """Position-wise MLP: Linear(D, d_ff) -> GELU -> Linear(d_ff, D). Shapes: (B, T, D) -> (B, T, D)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.act = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))


class SwiGLU(nn.Module):
    """Gated MLP of LLaMA-style models (Shazeer 2020): W2(silu(W1 x) * W3 x). Shapes: (B, T, D) -> (B, T, D).

    ``gate`` is W1, ``up`` is W3 (both D -> d_ff) and ``proj`` is W2 (d_ff -> D). Three matrices instead of
    two, so ``GPTConfig`` makes d_ff 2/3 as wide as the GELU MLP's to keep the parameter count.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=bias)  # W1
        self.up = nn.Linear(d_model, d_ff, bias=bias)  # W3
        self.proj = nn.Linear(d_ff, d_model, bias=bias)  # W2
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.silu(self.gate(x)) * self.up(x)))  # (B, T, d_ff) -> (B, T, D)


def _check_choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ValueError(f"unknown {kind} {value!r}.{close} Choose one of {choices}.")


def make_norm(norm: str, d_model: int, eps: float = 1e-5, bias: bool = True) -> nn.Module:
    """``nn.LayerNorm`` for "layernorm", ``nn.RMSNorm`` (no bias, no centring) for "rmsnorm". Shapes: (..., D)."""
    _check_choice("norm", norm, NORMS)
    if norm == "rmsnorm":
        return nn.RMSNorm(d_model, eps=eps)
    return nn.LayerNorm(d_model, eps=eps, bias=bias)


def make_mlp(mlp: str, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True) -> nn.Module:
    """``FeedForward`` (GELU) for "gelu", ``SwiGLU`` for "swiglu". Shapes: (B, T, D) -> (B, T, D)."""
    _check_choice("mlp", mlp, MLPS)
    return (SwiGLU if mlp == "swiglu" else FeedForward)(d_model, d_ff, dropout, bias)


def kv_cache_bytes(config: GPTConfig, batch_size: int, seq_len: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes a KV cache needs: keys and values (2) of every layer for B sequences of T positions.

    2 * n_layer * B * n_kv_head * T * Dh * bytes per element; grouped-query attention divides it by
    n_head / n_kv_head. Compare with ``KVCache.nbytes()`` after generating.
    """
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    head_dim = config.d_model // config.n_head
    element = torch.empty((), dtype=dtype).element_size()
    return 2 * config.n_layer * batch_size * config.kv_heads * seq_len * head_dim * element


class Block(nn.Module):
    """Transformer block: attention and feed-forward, each with a residual connection and a norm.

    Pre-LN (default, GPT-2): x + f(LN(x)). Post-LN (the 2017 paper): LN(x + f(x)).
    ``norm``, ``mlp`` and ``n_kv_head`` choose today's variants (RMSNorm, SwiGLU, grouped-query attention).
    Shapes: (B, T, D) -> (B, T, D), plus attention weights (B, H, T, T) when asked.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        *,
        causal: bool = True,
        prenorm: bool = True,
        bias: bool = True,
        eps: float = 1e-5,
        norm: str = "layernorm",
        mlp: str = "gelu",
        n_kv_head: int | None = None,
    ):
        super().__init__()
        self.prenorm = prenorm
        self.ln_1 = make_norm(norm, d_model, eps, bias)  # named ln_* as in GPT-2, whichever norm it is
        self.attn = MultiHeadAttention(d_model, n_head, dropout, bias=bias, causal=causal, n_kv_head=n_kv_head)
        self.ln_2 = make_norm(norm, d_model, eps, bias)
        self.mlp = make_mlp(mlp, d_model, d_ff or default_d_ff(d_model, mlp), dropout, bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask=None, need_weights=False, rope=None, cache=None, layer=0):
        if self.prenorm:
            a, w = self.attn(self.ln_1(x), mask=mask, need_weights=need_weights, rope=rope, cache=cache, layer=layer)
            x = x + self.drop(a)
            return x + self.mlp(self.ln_2(x)), w
        a, w = self.attn(x, mask=mask, need_weights=need_weights, rope=rope, cache=cache, layer=layer)
        x = self.ln_1(x + self.drop(a))
        return self.ln_2(x + self.mlp(x)), w


class GPT(nn.Module):
    """Decoder-only language model: token (+ position) embedding, N blocks, final norm, LM head.

    Shapes: idx (B, T) int64 -> logits (B, T, V); loss is the mean next-token cross-entropy.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self._build(config, causal=True)

    def _build(self, c: GPTConfig, causal: bool) -> None:
        """Embeddings, N blocks (causal or bidirectional), final norm, (tied) head; GPT-2's initialisation."""
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = GPT._make_positions(c)
        self.rope = RotaryEmbedding(c.d_model // c.n_head, c.block_size) if c.pos_encoding == "rope" else None
        self.drop = nn.Dropout(c.dropout)
        options = dict(bias=c.bias, eps=c.layer_norm_eps, norm=c.norm, mlp=c.mlp, n_kv_head=c.n_kv_head)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_head, c.d_ff, c.dropout, causal=causal, **options) for _ in range(c.n_layer)
        )
        self.ln_f = make_norm(c.norm, c.d_model, c.layer_norm_eps, c.bias)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(GPT._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2N) (SwiGLU's W2 too)
            if name.endswith(("attn.out_proj.weight", "mlp.proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layer))
        if c.tie_weights:
            self.lm_head.weight = self.tok_emb.weight

    @staticmethod
    def _make_positions(c: GPTConfig) -> nn.Module | None:
        if c.pos_encoding == "learned":
            return LearnedPositionalEmbedding(c.block_size, c.d_model)
        if c.pos_encoding == "sinusoidal":
            return SinusoidalPositionalEncoding(c.block_size, c.d_model)
        return None

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_parameters(self) -> int:
        """Parameter count with the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def _check_idx(self, idx: torch.Tensor, name: str = "idx") -> None:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"{name} must be a tensor of token ids, got {type(idx).__name__}")
        if idx.dim() != 2:
            hint = "; add a batch dimension with idx[None]" if idx.dim() == 1 else ""
            raise ValueError(f"{name} must have shape (B, T), got {tuple(idx.shape)}{hint}")
        if idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{name} must hold integer token ids (torch.long), got {idx.dtype}")
        if idx.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(idx.shape)}); give at least one token")
        if torch.compiler.is_compiling():
            return  # reading values would split the compiled graph; train() checks its data once up front
        lo, hi = torch.stack(torch.aminmax(idx)).tolist()  # one pass and one device sync instead of two
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(
                f"{name} holds token ids in [{lo}, {hi}] but the vocabulary is [0, {self.config.vocab_size}); "
                "was the text encoded with the tokenizer this model was trained with?"
            )

    def _hidden(self, idx, need_weights=False, cache=None):
        B, T = idx.shape
        past = len(cache) if cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens exceeds block_size={self.config.block_size}; "
                "crop to the last block_size tokens (idx[:, -block_size:])"
            )
        x = self.tok_emb(idx)  # (B, T, D)
        if self.pos_emb is not None:
            x = x + self.pos_emb(T, offset=past)  # (T, D) broadcasts over B
        x = self.drop(x)
        weights = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, need_weights=need_weights, rope=self.rope, cache=cache, layer=i)
            weights.append(w)
        return self.ln_f(x), weights

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Return ``(logits, loss)``; loss is None without targets. Targets of ``IGNORE_INDEX`` (-100) do not count."""
        self._check_idx(idx)
        if targets is not None and targets.shape != idx.shape:
            raise ValueError(f"targets must have the same shape as idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
        if targets is not None and (targets.is_floating_point() or targets.is_complex()):
            raise TypeError(
                f"targets must hold integer token ids (torch.long), got {targets.dtype}; use targets.long()"
            )
        x, _ = self._hidden(idx)
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, self._loss(logits, targets)

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the targets that count, with clear errors for targets that cannot."""
        try:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten().long(), ignore_index=IGNORE_INDEX)
        except (IndexError, RuntimeError) as err:  # a target outside the vocabulary (on the CPU)
            lo, hi = int(targets.min()), int(targets.max())
            raise ValueError(
                f"targets must be token ids in [0, {self.config.vocab_size}) or {IGNORE_INDEX} (ignored), got values "
                f"in [{lo}, {hi}]; mark positions without a loss with {IGNORE_INDEX}, as PyTorch and 🤗 do"
            ) from err
        if not torch.compiler.is_compiling() and loss.isnan() and bool((targets == IGNORE_INDEX).all()):
            msg = f"every target is {IGNORE_INDEX} (ignored), so the loss is undefined; keep at least one real target"
            raise ValueError(msg)
        return loss

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head. Shapes: (B, T) -> (L, B, H, T, T)."""
        self._check_idx(idx)
        _, weights = self._hidden(idx, need_weights=True)
        return torch.stack(weights)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        do_sample: bool = True,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens. Shapes: (B, T) -> (B, T + max_new_tokens).

        With ``use_cache`` the keys/values of earlier positions are reused; once the context
        fills ``block_size`` it falls back to recomputing the cropped window, so the tokens
        are the same as without the cache. Pass an empty ``cache=KVCache()`` to look at it
        afterwards: it is filled in place (until the context fills ``block_size``).
        """
        self._check_idx(idx)
        self._check_generate_args(max_new_tokens, temperature, use_cache, cache)
        bs, given, cache = self.config.block_size, cache, None
        for _ in range(max_new_tokens):
            if use_cache and cache is not None and len(cache) < bs:
                x, _ = self._hidden(idx[:, -1:], cache=cache)  # one new position
            else:
                cache = None
                if use_cache and idx.shape[1] < bs:
                    cache = KVCache() if given is None else given
                    cache.clear()  # an empty KVCache is falsy (len 0): test for None, not truth
                x, _ = self._hidden(idx[:, -bs:], cache=cache)  # (re)compute the window
            logits = self.lm_head(x[:, -1])  # (B, V)
            idx = torch.cat([idx, next_token(logits, temperature, top_k, top_p, do_sample, generator)], 1)
        return idx

    @staticmethod
    def _check_generate_args(max_new_tokens, temperature, use_cache: bool, cache) -> None:
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral):
            raise TypeError(
                f"max_new_tokens must be an int (a number of tokens), got {max_new_tokens!r} "
                f"({type(max_new_tokens).__name__}); e.g. max_new_tokens=int({max_new_tokens!r})"
            )
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if isinstance(temperature, str) or (isinstance(temperature, float) and not math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number > 0 (1.0 is neutral), got {temperature!r}")
        if cache is not None and (not isinstance(cache, KVCache) or len(cache) or not use_cache):
            raise ValueError("cache must be an empty KVCache() (and use_cache=True); generate fills it in place")
