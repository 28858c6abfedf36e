"""Exercises of chapter 6 (multi-head attention): splitting heads, the forward pass, parameters, head scores."""

from __future__ import annotations

import math

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["split_heads", "multi_head_forward", "parameter_count", "previous_token_score"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 6.1 (B, T, D) -> (B, H, T, Dh)


def _split(x, n_head):
    B, T, D = x.shape
    return x.view(B, T, n_head, D // n_head).transpose(1, 2)  # (B, H, T, Dh)


def _split_cases() -> list[Case]:
    return [
        Case("B = 2, T = 3, D = 6, H = 2", (_randn(2, 3, 6, seed=1), 2)),
        Case("one head (H = 1)", (_randn(1, 4, 5, seed=2), 1)),
        Case("head width 1 (H = D = 4)", (_randn(2, 3, 4, seed=3), 4)),
        Case("a single position (T = 1)", (_randn(3, 1, 8, seed=4), 2)),
        Case("batch of 4, T = 5, D = 12, H = 3", (_randn(4, 5, 12, seed=5), 3)),
    ]


split_heads = register(
    Exercise(
        name="multihead.split_heads",
        title="Exercise 6.1: split the model width into heads",
        reference=_split,
        cases=_split_cases,
        mistakes=[
            Mistake(
                lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h),
                "A reshape straight to (B, H, T, Dh) scrambles the heads: it cuts the memory of (B, T, D) into "
                "blocks that mix positions. First view as (B, T, H, Dh), then transpose(1, 2).",
            ),
            Mistake(
                lambda x, h: x.view(x.shape[0], x.shape[1], h, x.shape[2] // h).transpose(1, 3),
                "The axes are in the wrong order: the result must be (B, H, T, Dh), with the head axis before the"
                " time axis.",
            ),
            Mistake(
                lambda x, h: x.view(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2),
                "Head h owns the contiguous columns h*Dh ... (h+1)*Dh - 1: view the last axis as (H, Dh), not "
                "(Dh, H), which would deal columns out to the heads in turn.",
            ),
        ],
        hint=(
            "Check the order of the dimensions in the result and that each head gets a contiguous block of "
            "the model width; the batch and time dimensions must stay in place."
        ),
    )
)


# 6.2 multi-head attention from weight matrices (no biases, no mask)


def _mha(x, w_q, w_k, w_v, w_o, n_head, scale_by_d=False, out_proj=True, scramble=False):
    B, T, D = x.shape
    Dh = D // n_head

    def heads(t):
        if scramble:
            return t.reshape(B, n_head, T, Dh)
        return t.view(B, T, n_head, Dh).transpose(1, 2)  # (B, H, T, Dh)

    q, k, v = heads(x @ w_q), heads(x @ w_k), heads(x @ w_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D if scale_by_d else Dh)  # (B, H, T, T)
    out = scores.softmax(dim=-1) @ v  # (B, H, T, Dh)
    out = out.transpose(1, 2).reshape(B, T, D)  # (B, T, H*Dh)
    return out @ w_o if out_proj else out


def _mha_case(label: str, B: int, T: int, D: int, H: int, seed: int) -> Case:
    x = _randn(B, T, D, seed=seed)
    weights = [_randn(D, D, seed=seed + i) for i in range(1, 5)]
    return Case(label, (x, *weights, H))


multi_head_forward = register(
    Exercise(
        name="multihead.forward",
        title="Exercise 6.2: multi-head attention from its weight matrices",
        reference=_mha,
        cases=lambda: [
            _mha_case("B = 1, T = 4, D = 8, H = 2", 1, 4, 8, 2, seed=10),
            _mha_case("one head (H = 1)", 2, 3, 6, 1, seed=20),
            _mha_case("head width 1 (H = D = 4)", 1, 5, 4, 4, seed=30),
            _mha_case("a single position (T = 1)", 2, 1, 8, 4, seed=40),
            _mha_case("batch of 3, T = 6, D = 12, H = 3", 3, 6, 12, 3, seed=50),
        ],
        mistakes=[
            Mistake(
                lambda *a: _mha(*a, scale_by_d=True),
                "Scale each head's scores by √Dh, the head width (D // H), not by √D: the dot products inside a "
                "head are sums over Dh products.",
            ),
            Mistake(
                lambda *a: _mha(*a, out_proj=False),
                "Apply the output projection: after concatenating the heads (B, T, D), multiply by w_o so the "
                "heads' results are mixed.",
            ),
            Mistake(
                lambda *a: _mha(*a, scramble=True),
                "The heads are scrambled: reshaping straight to the head layout mixes positions; split the width "
                "into heads first, then move the head axis.",
            ),
        ],
        hint=(
            "Check the order of the steps: the projections, the split into heads, attention per head with its"
            " scaling, merging the heads back, and the output projection."
        ),
    )
)


# 6.3 parameters of one multi-head attention layer


def _params(d_model, n_head, bias=True):
    return 4 * d_model * d_model + (4 * d_model if bias else 0)  # W_q, W_k, W_v, W_o (D x D) and biases


parameter_count = register(
    Exercise(
        name="multihead.parameter_count",
        title="Exercise 6.3: parameters of a multi-head attention layer",
        reference=_params,
        cases=[
            Case("D = 8, H = 2, with biases", (8, 2)),
            Case("D = 8, H = 2, no biases", (8, 2), {"bias": False}),
            Case("one head (H = 1)", (64, 1)),
            Case("head width 1 (H = D = 16)", (16, 16)),
            Case("MiniLM: D = 384, H = 12", (384, 12)),
        ],
        mistakes=[
            Mistake(
                lambda d, h, bias=True: h * (3 * d * d + (3 * d if bias else 0)) + d * d + (d if bias else 0),
                "Each head projects D -> Dh = D / H, not D -> D: together the H heads' query projections form one "
                "D x D matrix, so the count does not depend on H.",
            ),
            Mistake(
                lambda d, h, bias=True: 3 * d * d + (3 * d if bias else 0),
                "Count the output projection W_o (D x D, plus D biases) too.",
            ),
            Mistake(
                lambda d, h, bias=True: 4 * d * d,
                "The biases are missing: with biases, each of the four projections also has D of them.",
            ),
        ],
        hint=(
            "Check what you count: how many weight matrices the layer has and their sizes, and whether biases"
            " are included."
        ),
    )
)


# 6.4 how much of each head's attention goes to the previous token


def _prev(attn):
    T = attn.shape[-1]
    return attn.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1) / (T - 1)  # (L, H): mean over queries 1..T-1


def _causal_maps(L: int, H: int, T: int, seed: int) -> torch.Tensor:
    scores = 3 * _randn(L, H, T, T, seed=seed)
    return scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


def _previous_token_head(T: int) -> torch.Tensor:
    attn = torch.zeros(1, 1, T, T)
    attn[0, 0, 0, 0] = 1.0  # the first query can only see itself
    attn[0, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0
    return attn


previous_token_score = register(
    Exercise(
        name="multihead.previous_token_score",
        title="Exercise 6.4: the previous-token score of every head",
        reference=_prev,
        cases=lambda: [
            Case("causal maps, L = 2, H = 3, T = 6", (_causal_maps(2, 3, 6, seed=60),)),
            Case("a perfect previous-token head (T = 5)", (_previous_token_head(5),)),
            Case("two positions (T = 2)", (_causal_maps(1, 2, 2, seed=61),)),
            Case("uniform bidirectional maps", (torch.full((3, 2, 4, 4), 0.25),)),
        ],
        mistakes=[
            Mistake(
                lambda a: a.diagonal(dim1=-2, dim2=-1).mean(-1),
                "That is the weight on the token itself (the main diagonal). The previous token of query i is "
                "key i - 1: diagonal(offset=-1).",
            ),
            Mistake(
                lambda a: a.diagonal(offset=1, dim1=-2, dim2=-1).sum(-1) / (a.shape[-1] - 1),
                "The wrong diagonal: you read the weight on the next token (key i + 1), not on the previous one "
                "(key i - 1).",
            ),
            Mistake(
                lambda a: a.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1) / a.shape[-1],
                "Average over the T - 1 queries that have a previous token: query 0 has none, so divide by T - 1.",
            ),
        ],
        hint=(
            "Check which attention entries look one position back (and how many there are per head), and the "
            "axis you average over."
        ),
    )
)
