"""Attention weights of one input, with readable tokens: what every view of ``lmtutor.viz`` takes.

``attention_from_hf`` runs a 🤗 model (encoder, decoder or encoder–decoder) with
``output_attentions=True``; ``attention_from_lmtutor`` runs an ``lmtutor`` GPT;
``attention_data`` wraps any tensor of weights you computed yourself (chapters 5, 6, 8, 13).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .analysis import attention_rollout, head_summary
from .tokens import token_info

__all__ = ["AttentionData", "Seq2SeqAttention", "attention_data", "attention_from_hf", "attention_from_lmtutor"]

KINDS = ("self", "encoder", "decoder", "cross")


@dataclass
class AttentionData:
    """Attention weights of one sequence: ``attentions`` (L, H, T_q, T_k) and readable tokens.

    ``tokens`` label the queries (T_q); ``key_tokens`` label the keys when they differ
    (cross-attention: queries are target tokens, keys are source tokens). ``segment_b_start``
    is the first position of the second sentence of a pair.
    """

    attentions: torch.Tensor
    tokens: list[str]
    key_tokens: list[str] | None = None
    kind: str = "self"
    segment_b_start: int | None = None
    special: list[bool] = field(default_factory=list)
    key_special: list[bool] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        a = self.attentions
        if not isinstance(a, torch.Tensor) or a.dim() != 4:
            shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(f"attentions must be a (L, H, T_q, T_k) tensor, got {shape}; use attention_data()")
        self.attentions = a = a.detach().float().cpu()
        if not torch.isfinite(a).all():
            first = [int(i) for i in (~torch.isfinite(a)).nonzero()[0]]
            raise ValueError(
                f"attentions hold {int((~torch.isfinite(a)).sum())} NaN/inf weights (first at layer {first[0]}, head "
                f"{first[1]}, query {first[2]}, key {first[3]}); the model produced non-finite attention (a fully "
                "masked row, or NaN weights or inputs): check the model and the mask before viewing"
            )
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if len(self.tokens) != a.shape[2]:
            raise ValueError(f"{len(self.tokens)} tokens for {a.shape[2]} query positions; pass one token per position")
        if len(self.keys) != a.shape[3]:
            raise ValueError(f"{len(self.keys)} key tokens for {a.shape[3]} key positions; pass key_tokens")
        if self.segment_b_start is not None and not 0 < self.segment_b_start < a.shape[2]:
            raise ValueError(f"segment_b_start must be in [1, {a.shape[2]}), got {self.segment_b_start}")
        self.special = list(self.special) or [False] * len(self.tokens)
        self.key_special = list(self.key_special) or (self.special if self.key_tokens is None else [False] * a.shape[3])

    @property
    def keys(self) -> list[str]:
        """Labels of the key positions (the query tokens for self-attention)."""
        return self.tokens if self.key_tokens is None else self.key_tokens

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(L, H, T_q, T_k)."""
        return tuple(self.attentions.shape)  # type: ignore[return-value]

    def head(self, layer: int, head: int | None = None) -> torch.Tensor:
        """One head's (T_q, T_k) map; ``head=None`` averages the heads of the layer."""
        L, H = self.shape[:2]
        if not -L <= layer < L or (head is not None and not -H <= head < H):
            raise IndexError(f"layer {layer}, head {head} out of range for {L} layers x {H} heads")
        a = self.attentions[layer]  # (H, T_q, T_k)
        return a.mean(0) if head is None else a[head]

    def rollout(self, residual: float = 0.5) -> torch.Tensor:
        """Attention rollout across all layers (T, T); self-attention only."""
        if self.kind == "cross":
            raise ValueError("rollout follows self-attention through the layers; it is not defined for cross-attention")
        return attention_rollout(self.attentions, residual)

    def summary(self) -> dict[str, torch.Tensor]:
        """Per-head mean attention distance, entropy, previous-token and self shares, each (L, H)."""
        return head_summary(self.attentions)


@dataclass
class Seq2SeqAttention:
    """The three kinds of attention of an encoder–decoder model for one source/target pair."""

    encoder: AttentionData  # source x source
    decoder: AttentionData  # target x target (causal)
    cross: AttentionData  # target (queries) x source (keys)

    def parts(self) -> list[AttentionData]:
        """Encoder self-, decoder self- and cross-attention, in that order."""
        return [self.encoder, self.decoder, self.cross]


def _as_4d(weights) -> torch.Tensor:
    try:
        w = torch.as_tensor(weights).detach().float()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"weights must be a tensor or array of attention weights, got {type(weights).__name__}; "
            "pass AttentionData or e.g. model.attention_maps(idx)"
        ) from None
    if w.dim() == 5:
        if w.shape[1] != 1:
            raise ValueError(f"weights of shape {tuple(w.shape)} hold a batch of {w.shape[1]}; select one sequence")
        w = w[:, 0]  # (L, H, T_q, T_k)
    if w.dim() not in (2, 3, 4):
        raise ValueError(
            f"weights must be (T_q, T_k), (H, T_q, T_k), (L, H, T_q, T_k) or (L, 1, H, T_q, T_k); got {tuple(w.shape)}"
        )
    while w.dim() < 4:
        w = w[None]  # add the missing leading layer / head axes
    if (w < -1e-6).any() or (w.sum(-1) > 1 + 1e-3).any():
        raise ValueError(
            "attention weights must be probabilities (>= 0, rows summing to at most 1); pass the softmax output"
        )
    return w


def attention_data(
    weights,
    tokens: Sequence[str] | None = None,
    key_tokens: Sequence[str] | None = None,
    kind: str = "self",
    segment_b_start: int | None = None,
    special_tokens: Sequence[str] | None = None,
    source: str = "",
) -> AttentionData:
    """Wrap attention weights of any rank ((T_q,T_k) up to (L,H,T_q,T_k)) and raw tokens into ``AttentionData``."""
    w = _as_4d(weights)
    tokens = [str(i) for i in range(w.shape[2])] if tokens is None else list(tokens)
    labels, special = token_info(tokens, special_tokens)
    key_labels, key_special = (None, []) if key_tokens is None else token_info(list(key_tokens), special_tokens)
    return AttentionData(w, labels, key_labels, kind, segment_b_start, special, key_special, source)


@contextlib.contextmanager
def _eager_attention(model):
    """Temporarily switch a 🤗 model to eager attention, the only kind that returns weights."""
    before = getattr(model.config, "_attn_implementation", "eager")
    switch = before != "eager" and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


def _stack(attentions, what: str) -> torch.Tensor:
    if not attentions:
        raise RuntimeError(
            f"the model returned no {what} weights; load it with attn_implementation='eager' "
            "(e.g. AutoModel.from_pretrained(name, attn_implementation='eager'))"
        )
    return torch.stack([a[0] for a in attentions])  # L x (H, T_q, T_k) -> (L, H, T_q, T_k)


def _tokens(tokenizer, ids: torch.Tensor) -> tuple[list[str], list[bool]]:
    raw = tokenizer.convert_ids_to_tokens(ids.tolist())
    return token_info(raw, getattr(tokenizer, "all_special_tokens", ()))


def _max_length(model, tokenizer, max_length: int | None) -> int:
    """The shortest of the requested length, the model's position limit and the tokenizer's limit."""
    config = model.config
    limits = [max_length, getattr(config, "max_position_embeddings", None), getattr(config, "n_positions", None)]
    limits.append(getattr(tokenizer, "model_max_length", None))
    valid = [int(x) for x in limits if isinstance(x, int) and 0 < x < 10**6]
    return min(valid) if valid else 512


def _seq2seq(model, tokenizer, enc, target: str, device, name: str, limit: int) -> Seq2SeqAttention:
    # the decoder has a position limit too: the target is truncated like the source
    labels = tokenizer(text_target=target, return_tensors="pt", truncation=True, max_length=limit)["input_ids"]
    start = model.config.decoder_start_token_id
    start = model.config.pad_token_id if start is None else start
    decoder_ids = torch.cat([torch.tensor([[start]]), labels[:, :-1]], dim=1)  # shift right: teacher forcing
    with torch.no_grad(), _eager_attention(model):
        out = model(**enc.to(device), decoder_input_ids=decoder_ids.to(device), output_attentions=True)
    src, src_special = _tokens(tokenizer, enc["input_ids"][0])
    tgt, tgt_special = _tokens(tokenizer, decoder_ids[0])
    return Seq2SeqAttention(
        AttentionData(_stack(out.encoder_attentions, "encoder"), src, None, "encoder", None, src_special, [], name),
        AttentionData(_stack(out.decoder_attentions, "decoder"), tgt, None, "decoder", None, tgt_special, [], name),
        AttentionData(_stack(out.cross_attentions, "cross"), tgt, src, "cross", None, tgt_special, src_special, name),
    )


def attention_from_hf(
    model, tokenizer, text: str, text_pair: str | None = None, target: str | None = None, max_length: int | None = None
) -> AttentionData | Seq2SeqAttention:
    """Run a 🤗 model on ``text`` (and ``text_pair``) and return its attention with readable tokens.

    Encoder–decoder models (T5, BART, MarianMT) need ``target``, the decoder's text, and return
    ``Seq2SeqAttention``. Inputs longer than the model's limit are truncated to ``max_length``.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(f"model must be a 🤗 transformers model, got {type(model).__name__}")
    device = next(model.parameters()).device
    name = getattr(model.config, "name_or_path", "") or type(model).__name__
    limit = _max_length(model, tokenizer, max_length)
    enc = tokenizer(text, text_pair, return_tensors="pt", truncation=True, max_length=limit)
    if getattr(model.config, "is_encoder_decoder", False):
        if target is None or text_pair is not None:
            raise ValueError("encoder–decoder models need target='decoder text' (and no text_pair)")
        return _seq2seq(model, tokenizer, enc, target, device, name, limit)
    if target is not None:
        raise ValueError("target is only for encoder–decoder models; this model has a single stack")
    with torch.no_grad(), _eager_attention(model):
        out = model(**enc.to(device), output_attentions=True)
    tokens, special = _tokens(tokenizer, enc["input_ids"][0])
    seg_b = None
    if text_pair is not None:
        seq_ids = enc.sequence_ids(0) if enc.encodings else enc["token_type_ids"][0].tolist()
        seg_b = next((i for i, s in enumerate(seq_ids) if s == 1), None)
    return AttentionData(_stack(out.attentions, "attention"), tokens, None, "self", seg_b, special, [], name)


def _ids(idx, tokenizer) -> torch.Tensor:
    if isinstance(idx, str):
        if not hasattr(tokenizer, "encode"):
            raise TypeError("to pass text, also pass a tokenizer with .encode(); or pass token ids")
        idx = tokenizer.encode(idx)
    ids = torch.as_tensor(idx)
    if ids.dim() == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.dim() != 1 or ids.numel() == 0 or ids.is_floating_point():
        raise ValueError(f"idx must be the token ids of one sequence, (T,) or (1, T) integers; got {tuple(ids.shape)}")
    return ids.long()


def _labels(ids: torch.Tensor, tokenizer_or_decode) -> list[str]:
    if tokenizer_or_decode is None:
        return [str(i) for i in ids.tolist()]
    if hasattr(tokenizer_or_decode, "convert_ids_to_tokens"):
        return tokenizer_or_decode.convert_ids_to_tokens(ids.tolist())
    if hasattr(tokenizer_or_decode, "decode"):
        return [tokenizer_or_decode.decode([i]) for i in ids.tolist()]
    if callable(tokenizer_or_decode):
        return [str(tokenizer_or_decode(i)) for i in ids.tolist()]
    raise TypeError("tokenizer_or_decode must be a tokenizer (decode or convert_ids_to_tokens) or a function id -> str")


def attention_from_lmtutor(
    model, idx, tokenizer_or_decode: Callable[[int], str] | object | None = None
) -> AttentionData:
    """Attention of an ``lmtutor`` GPT on one sequence (token ids, or text with a tokenizer)."""
    if not hasattr(model, "attention_maps"):
        raise TypeError(f"model must be an lmtutor model with attention_maps(idx), got {type(model).__name__}")
    ids = _ids(idx, tokenizer_or_decode)
    device = next(model.parameters()).device
    maps = model.attention_maps(ids[None].to(device))  # (L, 1, H, T, T)
    special_tokens = getattr(tokenizer_or_decode, "all_special_tokens", ())
    labels, special = token_info(_labels(ids, tokenizer_or_decode), special_tokens)
    name = f"lmtutor {type(model).__name__}"
    return AttentionData(maps[:, 0], labels, None, "decoder", None, special, [], name)
