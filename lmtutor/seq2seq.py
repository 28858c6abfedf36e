"""The encoder-decoder Transformer of "Attention Is All You Need", small, for translation tasks (chapter 8).

The encoder block is ``lmtutor.transformer.Block(causal=False)``. The decoder block adds
cross-attention (编码器-解码器注意力): its queries come from the decoder, its keys and values
from the encoder output (the *memory*). Every sub-layer has a residual connection and a
LayerNorm, before the sub-layer (pre-LN, default) or after the sum (post-LN, the paper).
Encoder and decoder share one token embedding, scaled by √d_model as in the paper (§3.4); the
output layer has its own weights (tying it as well makes the untrained model predict its input).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, causal_mask, padding_mask
from .device import get_device
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from .synthetic import IGNORE_INDEX, CharVocab, make_batch, sample_batch
from .train import TrainConfig, configure_optimizer, lr_at, set_lr, train_step
from .transformer import Block, FeedForward

__all__ = [
    "Seq2SeqConfig",
    "DecoderBlock",
    "EncoderDecoder",
    "decoder_self_mask",
    "train_seq2seq",
    "translate",
    "exact_match",
]


@dataclass
class Seq2SeqConfig:
    """Size and options of an encoder-decoder; one vocabulary for source and target."""

    vocab_size: int
    max_len: int = 64  # longest source and longest target (+1 for <s>/</s>) the positions cover
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    n_head: int = 4
    d_model: int = 64  # D
    d_ff: int | None = None  # None means 4 * d_model
    dropout: float = 0.0
    prenorm: bool = True  # False: the paper's post-LN
    pos_encoding: str = "sinusoidal"  # or "learned"
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "n_enc_layers", "n_dec_layers", "n_head", "d_model"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Seq2SeqConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"Seq2SeqConfig.d_model={self.d_model} must be divisible by n_head={self.n_head}")
        if self.pos_encoding not in ("sinusoidal", "learned"):
            raise ValueError(f"Seq2SeqConfig.pos_encoding must be 'sinusoidal' or 'learned', got {self.pos_encoding!r}")
        if (
            len({self.pad_id, self.bos_id, self.eos_id}) < 3
            or max(self.pad_id, self.bos_id, self.eos_id) >= self.vocab_size
        ):
            raise ValueError("pad_id, bos_id and eos_id must be distinct ids inside the vocabulary")
        self.d_ff = self.d_ff or 4 * self.d_model


def decoder_self_mask(tgt_mask: torch.Tensor) -> torch.Tensor:
    """Look-ahead mask AND key padding mask. (B, T) bool (True = real token) -> (B, 1, T, T) bool."""
    if tgt_mask.dim() != 2:
        raise ValueError(f"tgt_mask must have shape (B, T), got {tuple(tgt_mask.shape)}")
    T = tgt_mask.shape[1]
    return causal_mask(T, device=tgt_mask.device) & padding_mask(tgt_mask)  # (T, T) & (B, 1, 1, T)


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder memory, feed-forward; each with residual + LayerNorm.

    Shapes: x (B, T, D), memory (B, S, D) -> (B, T, D), plus weights (B, H, T, T) and (B, H, T, S) when asked.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int | None = None, dropout: float = 0.0, *, prenorm=True):
        super().__init__()
        self.prenorm = prenorm
        self.ln_1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout, causal=True)
        self.ln_2 = nn.LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout)
        self.ln_3 = nn.LayerNorm(d_model)
        self.mlp = FeedForward(d_model, d_ff or 4 * d_model, dropout)
        self.drop = nn.Dropout(dropout)

    def _sublayer(self, x: torch.Tensor, norm: nn.LayerNorm, fn) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pre-LN: x + f(LN(x)); post-LN: LN(x + f(x)). ``fn`` returns (output, weights or None)."""
        if self.prenorm:
            out, w = fn(norm(x))
            return x + self.drop(out), w
        out, w = fn(x)
        return norm(x + self.drop(out)), w

    def forward(self, x, memory, memory_mask=None, self_mask=None, need_weights=False):
        """``memory_mask`` (B, 1, 1, S) hides source padding; ``self_mask`` adds target padding to the causal mask."""
        x, self_w = self._sublayer(x, self.ln_1, lambda h: self.self_attn(h, mask=self_mask, need_weights=need_weights))
        x, cross_w = self._sublayer(
            x, self.ln_2, lambda h: self.cross_attn(h, memory=memory, mask=memory_mask, need_weights=need_weights)
        )
        x, _ = self._sublayer(x, self.ln_3, lambda h: (self.mlp(h), None))
        return x, (self_w, cross_w)


class EncoderDecoder(nn.Module):
    """Encoder-decoder Transformer with greedy decoding.

    Shapes: src (B, S), tgt_in (B, T) int64 -> logits (B, T, V); ``src_mask`` (B, S) bool, True = real.
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        nn.init.normal_(self.tok_emb.weight, std=c.d_model**-0.5)  # x sqrt(D) below: unit variance, like PE
        table = SinusoidalPositionalEncoding if c.pos_encoding == "sinusoidal" else LearnedPositionalEmbedding
        self.pos = table(c.max_len, c.d_model)
        if c.pos_encoding == "learned":  # start at the scale of the scaled token embeddings
            nn.init.normal_(self.pos.weight, std=1.0)
        self.encoder = nn.ModuleList(
            Block(c.d_model, c.n_head, c.d_ff, c.dropout, causal=False, prenorm=c.prenorm)
            for _ in range(c.n_enc_layers)
        )
        self.decoder = nn.ModuleList(
            DecoderBlock(c.d_model, c.n_head, c.d_ff, c.dropout, prenorm=c.prenorm) for _ in range(c.n_dec_layers)
        )
        # pre-LN leaves the residual stream un-normalised, so each stack ends with a LayerNorm
        self.enc_norm = nn.LayerNorm(c.d_model) if c.prenorm else nn.Identity()
        self.dec_norm = nn.LayerNorm(c.d_model) if c.prenorm else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        nn.init.normal_(self.lm_head.weight, std=0.02)  # near-uniform predictions at the start: loss ≈ ln V
        self.drop = nn.Dropout(c.dropout)

    def _check_ids(self, ids: torch.Tensor, name: str) -> None:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"{name} must be a (B, T) tensor of token ids (torch.long), got {got}")
        if ids.shape[1] == 0 or ids.shape[1] > self.config.max_len:
            raise ValueError(f"{name} has {ids.shape[1]} positions; the model handles 1 to {self.config.max_len}")
        if int(ids.min()) < 0 or int(ids.max()) >= self.config.vocab_size:
            raise ValueError(f"{name} holds ids outside [0, {self.config.vocab_size}); encode with the model's vocab")

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(ids) * math.sqrt(self.config.d_model) + self.pos(ids.shape[1])  # (B, T, D)
        return self.drop(x)

    def _src_mask(self, src: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
        if src_mask is None:
            src_mask = src != self.config.pad_id
        if src_mask.shape != src.shape:
            raise ValueError(f"src_mask must have the shape of src {tuple(src.shape)}, got {tuple(src_mask.shape)}")
        return padding_mask(src_mask)  # (B, 1, 1, S)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Source ids -> memory (B, S, D). Without ``src_mask``, ``<pad>`` ids are masked."""
        self._check_ids(src, "src")
        mask = self._src_mask(src, src_mask)
        x = self._embed(src)
        for block in self.encoder:
            x, _ = block(x, mask=mask)
        return self.enc_norm(x)

    def decode(self, tgt_in, memory, src_mask=None, tgt_mask=None, need_weights=False):
        """Decoder input ids and memory -> logits (B, T, V) and per-layer (self, cross) weights.

        ``src_mask`` (B, S) marks real source positions (None: all real); ``tgt_mask`` (B, T) adds
        target padding to the causal mask.
        """
        self._check_ids(tgt_in, "tgt_in")
        if src_mask is None:
            src_mask = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)
        memory_mask = padding_mask(src_mask)  # (B, 1, 1, S)
        self_mask = None if tgt_mask is None else decoder_self_mask(tgt_mask)
        x, weights = self._embed(tgt_in), []
        for block in self.decoder:
            x, w = block(x, memory, memory_mask, self_mask, need_weights)
            weights.append(w)
        return self.lm_head(self.dec_norm(x)), weights

    def forward(self, src, tgt_in, src_mask=None, targets=None):
        """Return ``(logits, loss)``; loss is the mean cross-entropy over targets != IGNORE_INDEX."""
        src_mask = src != self.config.pad_id if src_mask is None else src_mask
        logits, _ = self.decode(tgt_in, self.encode(src, src_mask), src_mask)
        if targets is None:
            return logits, None
        if targets.shape != tgt_in.shape:
            raise ValueError(f"targets must have the shape of tgt_in {tuple(tgt_in.shape)}, got {tuple(targets.shape)}")
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
        return logits, loss

    @torch.no_grad()
    def cross_attention_maps(self, src, tgt_in, src_mask=None) -> torch.Tensor:
        """Cross-attention weights of every decoder layer. Shapes: -> (L, B, H, T, S)."""
        src_mask = src != self.config.pad_id if src_mask is None else src_mask
        _, weights = self.decode(tgt_in, self.encode(src, src_mask), src_mask, need_weights=True)
        return torch.stack([cross for _, cross in weights])

    @torch.no_grad()
    def generate(self, src, src_mask=None, max_new_tokens: int | None = None) -> torch.Tensor:
        """Greedy decoding: (B, S) -> (B, N) ids after ``<s>``, ending with ``</s>`` then ``<pad>``."""
        c = self.config
        src_mask = src != c.pad_id if src_mask is None else src_mask
        n = c.max_len - 1 if max_new_tokens is None else max_new_tokens
        if not 1 <= n <= c.max_len - 1:
            raise ValueError(f"max_new_tokens must be in [1, {c.max_len - 1}] (max_len - 1), got {n}")
        memory = self.encode(src, src_mask)  # the encoder runs once
        tgt = torch.full((src.shape[0], 1), c.bos_id, dtype=torch.long, device=src.device)  # (B, 1)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(n):
            logits, _ = self.decode(tgt, memory, src_mask)
            nxt = logits[:, -1].argmax(-1).masked_fill(done, c.pad_id)  # (B,)
            tgt = torch.cat([tgt, nxt[:, None]], dim=1)
            done |= nxt == c.eos_id
            if done.all():
                break
        return tgt[:, 1:]


def train_seq2seq(
    model: EncoderDecoder,
    pairs: Sequence[tuple[str, str]],
    vocab: CharVocab,
    cfg: TrainConfig,
    device: torch.device | str | None = None,
) -> dict[str, list]:
    """Teacher-forced training on random batches of ``pairs``; AdamW, warmup + cosine. Returns the history."""
    device = get_device(device)
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    history: dict[str, list] = {"step": [], "lr": [], "loss": [], "elapsed": []}

    def teacher_forced(b, _):  # the decoder reads the target shifted right
        return model(b.src, b.tgt_in, b.src_mask, b.tgt_out)

    t0 = time.perf_counter()
    for step in range(cfg.max_steps):
        elapsed = time.perf_counter() - t0
        set_lr(optimizer, lr := lr_at(step, cfg, elapsed))
        b = sample_batch(pairs, vocab, cfg.batch_size, gen).to(device)
        loss = train_step(model, optimizer, b, grad_clip=cfg.grad_clip, use_autocast=False, forward=teacher_forced)
        for key, value in zip(history, (step, lr, loss.item(), elapsed), strict=True):
            history[key].append(value)
        if cfg.time_budget is not None and elapsed >= cfg.time_budget:
            break
    model.eval()
    return history


@torch.no_grad()
def translate(model: EncoderDecoder, vocab: CharVocab, sources: Sequence[str], batch_size: int = 256) -> list[str]:
    """Greedy translations of ``sources`` (strings), in order."""
    if isinstance(sources, str):
        raise TypeError("translate expects a list of strings; wrap a single string as [text]")
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for start in range(0, len(sources), batch_size):
        batch = make_batch([(s, "") for s in sources[start : start + batch_size]], vocab).to(device)
        out += [vocab.decode(row) for row in model.generate(batch.src, batch.src_mask)]
    return out


def exact_match(model: EncoderDecoder, vocab: CharVocab, pairs: Sequence[tuple[str, str]]) -> float:
    """Fraction of pairs whose greedy translation equals the target exactly."""
    if not pairs:
        raise ValueError("exact_match needs at least one (source, target) pair")
    predictions = translate(model, vocab, [s for s, _ in pairs])
    return sum(p == t for p, (_, t) in zip(predictions, pairs, strict=True)) / len(pairs)
