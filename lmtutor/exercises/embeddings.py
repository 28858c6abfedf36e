"""Exercises of chapter 3 (word embeddings): one-hot lookup, nearest neighbours, skip-gram pairs and loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .core import Case, Exercise, Mistake, register

__all__ = ["one_hot_lookup", "top_k_neighbours", "skipgram_pairs", "sgns_loss"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 3.1 embedding lookup as a one-hot matrix product


def _lookup(ids, weight):
    return F.one_hot(ids, weight.shape[0]).to(weight.dtype) @ weight  # (N, V) @ (V, D) -> (N, D)


def _lookup_every_row(ids, weight):
    x = torch.zeros(len(ids), weight.shape[0])
    x[:, ids] = 1.0  # every row gets a 1 at every id
    return x @ weight


one_hot_lookup = register(
    Exercise(
        name="embeddings.one_hot_lookup",
        title="Exercise 3.1: embedding lookup as a one-hot product",
        reference=_lookup,
        cases=lambda: [
            Case("a square W (V = D = 4), ids [2, 0, 3]", (torch.tensor([2, 0, 3]), _randn(4, 4, seed=1))),
            Case("one word (N = 1)", (torch.tensor([5]), _randn(7, 3, seed=2))),
            Case("repeated ids", (torch.tensor([1, 1, 1, 0]), _randn(3, 5, seed=3))),
            Case("the first and the last row (V = 50)", (torch.tensor([0, 49]), _randn(50, 8, seed=4))),
            Case("a vocabulary of one word (V = 1)", (torch.tensor([0, 0]), _randn(1, 6, seed=5))),
        ],
        mistakes=[
            Mistake(
                lambda ids, w: F.one_hot(ids, w.shape[0]).float() @ w.T,
                "The embedding matrix is used in the wrong orientation (it has one row per word, shape (V, D)); "
                "with a square matrix this runs without an error but returns columns instead of rows.",
            ),
            Mistake(
                _lookup_every_row,
                "The one-hot matrix is wrong: each row must hold a single 1, at the column of its own id; here "
                "every id lands in every row, so each output row is a sum of embeddings.",
            ),
        ],
        hint=(
            "Check the shape and dtype of the one-hot matrix (one row per id, one column per vocabulary "
            "entry) and which side of the product it goes on."
        ),
    )
)


# 3.2 the k nearest neighbours of row i by cosine similarity


def _top_k(vectors, i, k):
    unit = vectors / vectors.norm(dim=-1, keepdim=True)  # (N, D) rows of length 1
    sims = unit @ unit[i]  # (N,)
    sims[i] = float("-inf")  # a word is not its own neighbour
    return sims.topk(k).indices


def _top_k_dot(vectors, i, k):
    sims = vectors @ vectors[i]
    sims[i] = float("-inf")
    return sims.topk(k).indices


def _top_k_with_self(vectors, i, k):
    unit = F.normalize(vectors, dim=-1)
    return (unit @ unit[i]).topk(k).indices


def _top_k_by_value(vectors, i, k):
    unit = F.normalize(vectors, dim=-1)
    sims = unit @ unit[i]
    sims[sims > 1 - 1e-5] = float("-inf")  # drops every row that points the same way, not only row i
    return sims.topk(k).indices


def _top_k_ascending(vectors, i, k):
    unit = F.normalize(vectors, dim=-1)
    sims = unit @ unit[i]
    order = sims.argsort()  # smallest first
    return order[order != i][:k]


def _neighbour_cases() -> list[Case]:
    lengths = torch.tensor([[1.0], [8.0], [0.5], [3.0], [1.0], [2.0]])
    spread = torch.nn.functional.normalize(_randn(6, 4, seed=10), dim=-1) * lengths  # rows of different length
    return [
        Case("6 vectors of different lengths, k = 2", (spread, 0, 2)),
        Case("k = 1", (_randn(10, 5, seed=11), 3, 1)),
        Case("every other vector (k = N - 1)", (_randn(5, 3, seed=12), 4, 4)),
        Case("the last row, 100 vectors, k = 5", (_randn(100, 16, seed=13) * 10, 99, 5)),
        Case("a duplicate of row i (it is a neighbour, row i is not)", (_duplicates(), 1, 2)),
    ]


def _duplicates() -> torch.Tensor:
    rows = _randn(5, 4, seed=14)
    rows[3] = rows[1]  # row 3 is a copy of row 1
    return rows


top_k_neighbours = register(
    Exercise(
        name="embeddings.top_k_neighbours",
        title="Exercise 3.2: nearest neighbours by cosine similarity",
        reference=_top_k,
        cases=_neighbour_cases,
        mistakes=[
            Mistake(
                _top_k_with_self,
                "The first neighbour is the word itself (cosine 1 with itself). Exclude row i, e.g. set its "
                "similarity to float('-inf') before topk.",
            ),
            Mistake(
                _top_k_dot,
                "The raw dot product is used instead of the cosine: it favours long vectors (often frequent "
                "words); only the direction may count.",
            ),
            Mistake(
                _top_k_by_value,
                "Exclude the query by its index, not by its similarity: another row may be a duplicate of it "
                "(similarity 1) and is a true neighbour.",
            ),
            Mistake(
                _top_k_ascending,
                "The order is reversed: return the most similar first.",
            ),
        ],
        hint=(
            "Check the similarity measure (cosine: normalise first), that the query itself is excluded (also "
            "when another row is a duplicate of it), and the order of the result."
        ),
    )
)


# 3.3 (center, context) pairs of skip-gram within a window


def _pairs(ids, window, low_bound: bool = True, right: int = 1, keep_self: bool = False):
    centers, contexts = [], []
    n = len(ids)
    for i in range(n):
        for j in range(i - window, i + window + right):
            if (j != i or keep_self) and (j >= 0 or not low_bound) and j < n:
                centers.append(int(ids[i]))
                contexts.append(int(ids[j]))
    return torch.tensor(centers, dtype=torch.long), torch.tensor(contexts, dtype=torch.long)


skipgram_pairs = register(
    Exercise(
        name="embeddings.skipgram_pairs",
        title="Exercise 3.3: skip-gram (center, context) pairs",
        reference=_pairs,
        cases=lambda: [
            Case("5 words, window 2", (torch.tensor([10, 11, 12, 13, 14]), 2)),
            Case("window 1", (torch.tensor([3, 1, 4, 1, 5, 9]), 1)),
            Case("a window wider than the text", (torch.tensor([7, 8, 9]), 5)),
            Case("one word: no pairs", (torch.tensor([42]), 3)),
            Case("two words", (torch.tensor([0, 1]), 1)),
        ],
        mistakes=[
            Mistake(
                lambda ids, w: _pairs(ids, w, right=0),
                "The window is off by one on the right: range(i - window, i + window + 1) covers window words "
                "on each side; range(i - window, i + window) misses the last one.",
            ),
            Mistake(
                lambda ids, w: _pairs(ids, w, keep_self=True),
                "Skip j == i: a word is not its own context.",
            ),
            Mistake(
                lambda ids, w: _pairs(ids, w, low_bound=False),
                "Context positions before the start of the text are used: a negative index wraps around to the "
                "end of the text in Python. Keep only positions inside the text.",
            ),
        ],
        hint=(
            "Check the window (distance 1 up to and including the window size, on both sides), the sequence "
            "ends, the order of the pairs and the dtype of the result."
        ),
    )
)


# 3.4 the skip-gram negative-sampling loss


def _sgns(center, context, negatives, neg_sign: float = -1.0, reduce: str = "mean", sign: float = -1.0):
    pos = (center * context).sum(-1)  # (B,)
    neg = (negatives @ center[:, :, None]).squeeze(-1)  # (B, K)
    per_pair = F.logsigmoid(pos) + F.logsigmoid(neg_sign * neg).sum(-1)  # (B,)
    return sign * (per_pair.mean() if reduce == "mean" else per_pair.sum())


sgns_loss = register(
    Exercise(
        name="embeddings.sgns_loss",
        title="Exercise 3.4: the negative-sampling loss",
        reference=_sgns,
        cases=lambda: [
            Case(
                "B = 4 pairs, K = 3 negatives, D = 5",
                tuple(_randn(*s, seed=20 + i) for i, s in enumerate([(4, 5), (4, 5), (4, 3, 5)])),
            ),
            Case(
                "one pair, one negative",
                tuple(_randn(*s, seed=30 + i) for i, s in enumerate([(1, 2), (1, 2), (1, 1, 2)])),
            ),
            Case("no negatives (K = 0)", (_randn(3, 4, seed=40), _randn(3, 4, seed=41), torch.zeros(3, 0, 4))),
            Case(
                "large vectors (x 10)",
                tuple(10 * _randn(*s, seed=50 + i) for i, s in enumerate([(6, 8), (6, 8), (6, 5, 8)])),
            ),
        ],
        mistakes=[
            Mistake(
                lambda c, o, n: _sgns(c, o, n, neg_sign=1.0),
                "Sign error in the negative term: it is log σ(-u_k·v_c). The noise words must get a low score, "
                "so their dot product enters with a minus sign.",
            ),
            Mistake(
                lambda c, o, n: _sgns(c, o, n, sign=1.0),
                "Return the negative log-likelihood: -(log σ(u_o·v_c) + Σ_k log σ(-u_k·v_c)), a loss to minimise, "
                "which is always >= 0.",
            ),
            Mistake(
                lambda c, o, n: _sgns(c, o, n, reduce="sum"),
                "The loss is summed over the batch instead of averaged: it should not grow with the batch size.",
            ),
        ],
        hint=(
            "Check the signs: the true context pair should get a high score and the negatives a low one; "
            "check which dimension you sum over and that the loss is averaged over the batch."
        ),
    )
)
