"""Exercises of chapter 5 (self-attention): scaled dot-product attention, the causal mask, padding masks."""

from __future__ import annotations

import math

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["scaled_dot_product", "causal_softmax", "masked_softmax"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 5.1 softmax(q kᵀ / √d_k) v, returning (output, weights)


def _sdpa(q, k, v):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (..., T_q, T_k)
    return weights @ v, weights


def _sdpa_with(q, k, v, scale: float, dim: int = -1):
    weights = torch.softmax(q @ k.transpose(-2, -1) / scale, dim=dim)
    return weights @ v, weights


def _sdpa_naive(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = scores.exp() / scores.exp().sum(dim=-1, keepdim=True)  # overflows for large scores
    return weights @ v, weights


def _causal_naive(scores):
    T = scores.shape[-1]
    e = scores.exp() * torch.ones(T, T).tril()  # overflows for large scores
    return e / e.sum(dim=-1, keepdim=True)


def _sdpa_cases() -> list[Case]:
    return [
        Case("2 queries, 5 keys, d_k = 4, d_v = 3", (_randn(2, 4, seed=1), _randn(5, 4, seed=2), _randn(5, 3, seed=3))),
        Case("a single position (T = 1)", (_randn(1, 8, seed=4), _randn(1, 8, seed=5), _randn(1, 8, seed=6))),
        Case("batch and head axes (2, 3, 6, 8)", tuple(_randn(2, 3, 6, 8, seed=s) for s in (7, 8, 9))),
        Case("wide vectors (d_k = 256)", (_randn(4, 256, seed=10), _randn(4, 256, seed=11), _randn(4, 2, seed=12))),
        Case("very large scores", (1000 * _randn(3, 4, seed=13), _randn(5, 4, seed=14), _randn(5, 2, seed=15))),
    ]


scaled_dot_product = register(
    Exercise(
        name="attention.scaled_dot_product",
        title="Exercise 5.1: scaled dot-product attention",
        reference=_sdpa,
        cases=_sdpa_cases,
        mistakes=[
            Mistake(
                lambda q, k, v: _sdpa_with(q, k, v, 1.0),
                "The scores are not scaled: without the division by √d_k they grow with d_k and the softmax saturates.",
            ),
            Mistake(
                lambda q, k, v: _sdpa_with(q, k, v, q.shape[-1]),
                "Divide by the square root of d_k, not by d_k itself: the dot product's standard deviation is √d_k.",
            ),
            Mistake(
                lambda q, k, v: _sdpa_with(q, k, v, math.sqrt(v.shape[-1])),
                "The scale uses the width of the values; it must use the width of the queries and keys (d_k).",
            ),
            Mistake(
                lambda q, k, v: _sdpa_with(q, k, v, math.sqrt(q.shape[-1]), dim=-2),
                "The softmax runs over the wrong axis: each query's weights over the keys must sum to 1.",
            ),
            Mistake(
                _sdpa_naive,
                "Your softmax overflows on very large scores (exp gives inf, then inf / inf gives NaN): "
                "a numerically stable softmax is needed.",
            ),
        ],
        hint=(
            "Check the three steps in order: the scores and their scaling, the softmax and its axis, and the "
            "weighted sum of the values; very large scores must not overflow."
        ),
    )
)


# 5.2 causal softmax: each position attends to itself and the past only


def _causal(scores, diagonal: int = 0, upper: bool = False, fill: float = float("-inf")):
    T = scores.shape[-1]
    allowed = torch.ones(T, T, dtype=torch.bool)
    allowed = allowed.triu(diagonal) if upper else allowed.tril(diagonal)  # (T, T)
    return scores.masked_fill(~allowed, fill).softmax(dim=-1)


def _causal_after_softmax(scores):
    T = scores.shape[-1]
    return scores.softmax(dim=-1) * torch.ones(T, T).tril()


causal_softmax = register(
    Exercise(
        name="attention.causal_softmax",
        title="Exercise 5.2: causal attention weights",
        reference=_causal,
        cases=lambda: [
            Case("4 x 4 scores", (_randn(4, 4, seed=20),)),
            Case("a single position (T = 1)", (_randn(1, 1, seed=21),)),
            Case("batch and head axes (2, 3, 5, 5)", (_randn(2, 3, 5, 5, seed=22),)),
            Case("large scores (x 30)", (30 * _randn(6, 6, seed=23),)),
            Case("very large scores (x 1000)", (1000 * _randn(2, 5, 5, seed=24),)),
        ],
        mistakes=[
            Mistake(
                lambda s: _causal(s, upper=True),
                "The mask keeps the wrong triangle: query i may see keys 0..i, the past, not the future.",
            ),
            Mistake(
                lambda s: _causal(s, diagonal=-1),
                "The mask is shifted by one: a token may attend to itself (keep the diagonal); otherwise the "
                "first row has no key at all.",
            ),
            Mistake(
                lambda s: _causal(s, fill=0.0),
                "Fill the masked scores with float('-inf'), not 0: exp(0) = 1, so the future still gets weight.",
            ),
            Mistake(
                _causal_naive,
                "Your softmax overflows on very large scores (exp gives inf, then inf / inf gives NaN): "
                "a numerically stable softmax is needed.",
            ),
            Mistake(
                _causal_after_softmax,
                "Mask the scores before the softmax: zeroing weights after it leaves rows that no longer sum to 1.",
            ),
        ],
        hint=(
            "Check which positions each row may see (itself and the past, never the future), how masked "
            "scores are removed before the softmax, and the axis of the softmax."
        ),
    )
)


# 5.3 masked softmax: any boolean mask (True = may attend); a fully masked row gets zeros, not NaN


def _masked(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).nan_to_num(0.0)


def _masked_cases() -> list[Case]:
    lengths = torch.tensor([4, 2])
    pad = (torch.arange(4) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, S): True on real tokens
    causal_and_pad = torch.tensor([[False, False, False], [True, True, False], [True, True, True]])
    return [
        Case("padding: 2 sequences of lengths 4 and 2, 2 heads", (_randn(2, 2, 3, 4, seed=30), pad)),
        Case("a fully masked row (query 0 may see no key)", (_randn(3, 3, seed=31), causal_and_pad)),
        Case("a single key (T_k = 1)", (_randn(2, 1, seed=32), torch.ones(2, 1, dtype=torch.bool))),
        Case("2 queries, 5 keys, one mask row for all", (_randn(2, 5, seed=33), torch.tensor([1, 1, 1, 0, 0]).bool())),
    ]


masked_softmax = register(
    Exercise(
        name="attention.masked_softmax",
        title="Exercise 5.3: masked softmax with padding",
        reference=_masked,
        cases=_masked_cases,
        mistakes=[
            Mistake(
                lambda s, m: s.masked_fill(~m, float("-inf")).softmax(dim=-1),
                "A row whose keys are all masked becomes NaN (the softmax of only minus infinities); such padding"
                " queries must get zero weights instead.",
            ),
            Mistake(
                lambda s, m: s.masked_fill(m, float("-inf")).softmax(dim=-1).nan_to_num(0.0),
                "True in the mask means 'may attend': fill the scores where the mask is False (~mask).",
            ),
            Mistake(
                lambda s, m: s.masked_fill(~m, -1e9).softmax(dim=-1),
                "A large negative number instead of -inf spreads a fully masked row evenly over the padding keys; "
                "such a row must be all zeros.",
            ),
            Mistake(
                lambda s, m: s.softmax(dim=-1) * m,
                "Mask the scores before the softmax: zeroing weights after it leaves rows that no longer sum to 1.",
            ),
        ],
        hint=(
            "Check how masked positions are removed before the softmax, the axis it runs over, and what a row"
            " with every position masked must give (no NaN)."
        ),
    )
)
