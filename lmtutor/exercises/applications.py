"""Exercises of chapter 13 (applications): what generate samples from, the answer span of extractive QA,
cosine ranking for semantic search."""

from __future__ import annotations

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["next_token_distribution", "answer_span", "rank_documents"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 13.1 the distribution generate() picks the next token from


def _distribution(logits, do_sample, temperature=1.0):
    if not do_sample:  # greedy: all the probability on the argmax; temperature plays no part
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)


def _temperature_always(logits, do_sample, temperature=1.0):
    return torch.softmax(logits / temperature, dim=-1)


def _divide_after_softmax(logits, do_sample, temperature=1.0):
    if not do_sample:
        return _distribution(logits, False)
    return torch.softmax(logits, dim=-1) / temperature


def _multiply(logits, do_sample, temperature=1.0):
    if not do_sample:
        return _distribution(logits, False)
    return torch.softmax(logits * temperature, dim=-1)


def _distribution_cases() -> list[Case]:
    logits = _randn(2, 6, seed=1) * 2
    return [
        Case("the seed-004 call: temperature=0.7 without do_sample", (logits, False, 0.7)),
        Case("sampling at temperature 0.7", (logits, True, 0.7)),
        Case("sampling at temperature 1", (logits, True, 1.0)),
        Case("sampling at temperature 2 (flatter)", (_randn(3, 5, seed=2), True, 2.0)),
        Case("a cold temperature, 0.05 (almost greedy)", (_randn(1, 8, seed=3), True, 0.05)),
        Case("greedy on one row of 50 logits", (_randn(1, 50, seed=4), False, 1.3)),
    ]


next_token_distribution = register(
    Exercise(
        name="applications.next_token_distribution",
        title="Exercise 13.1: the distribution generate() picks from",
        reference=_distribution,
        cases=_distribution_cases,
        mistakes=[
            Mistake(
                _temperature_always,
                "With sampling off, generation is greedy: the distribution is one-hot on the most likely token "
                "and the temperature plays no part (the seed-004 pitfall).",
            ),
            Mistake(
                _divide_after_softmax,
                "Divide the logits by the temperature before the softmax; dividing the probabilities afterwards "
                "only rescales them (they no longer sum to 1) and does not sharpen or flatten anything.",
            ),
            Mistake(
                _multiply,
                "Divide the logits by the temperature (logits / temperature): a temperature below 1 must sharpen "
                "the distribution, one above 1 must flatten it.",
            ),
        ],
        hint=(
            "Check both modes separately: greedy puts all probability on one token, sampling must be a proper"
            " distribution that depends on the temperature; compare the axis you normalise over."
        ),
    )
)


# 13.2 the best answer span from start and end logits


def _span(start_logits, end_logits, context_mask, max_answer_len=30):
    T = len(start_logits)
    scores = start_logits[:, None] + end_logits[None, :]  # (T, T): scores[s, e]
    length = torch.arange(T)[None, :] - torch.arange(T)[:, None]  # e - s
    ok = (length >= 0) & (length < max_answer_len) & context_mask[:, None] & context_mask[None, :]
    return divmod(scores.masked_fill(~ok, float("-inf")).argmax().item(), T)


def _independent(start_logits, end_logits, context_mask, max_answer_len=30):
    masked = [x.masked_fill(~context_mask, float("-inf")) for x in (start_logits, end_logits)]
    return masked[0].argmax().item(), masked[1].argmax().item()


def _no_mask(start_logits, end_logits, context_mask, max_answer_len=30):
    return _span(start_logits, end_logits, torch.ones_like(context_mask), max_answer_len)


def _exclusive_end(start_logits, end_logits, context_mask, max_answer_len=30):
    start, end = _span(start_logits, end_logits, context_mask, max_answer_len)
    return start, end + 1


def _no_length_limit(start_logits, end_logits, context_mask, max_answer_len=30):
    return _span(start_logits, end_logits, context_mask, len(start_logits))


def _limit_off_by_one(start_logits, end_logits, context_mask, max_answer_len=30):
    return _span(start_logits, end_logits, context_mask, max(1, max_answer_len - 1))


def _limit_plus_one(start_logits, end_logits, context_mask, max_answer_len=30):
    return _span(start_logits, end_logits, context_mask, max_answer_len + 1)


def _logits(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float)


def _mask(n_question: int, n_context: int, n_pad: int = 0) -> torch.Tensor:
    """[CLS] question [SEP] context [SEP] padding: True only on the context tokens."""
    return torch.tensor([False] * (n_question + 2) + [True] * n_context + [False] * (1 + n_pad))


def _span_cases() -> list[Case]:
    m = _mask(2, 6)  # 11 tokens; context at positions 4..9
    return [
        Case(
            "a clear three-token answer",
            (_logits([0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0]), _logits([0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0]), m),
        ),  # fmt: skip
        Case(
            "the best end lies before the best start",
            (_logits([0, 0, 0, 0, 2, 0, 0, 0, 6, 0, 0]), _logits([0, 0, 0, 0, 0, 8, 0, 0, 0, 3, 0]), m),
        ),  # fmt: skip
        Case(
            "the largest logits sit on question tokens",
            (_logits([0, 9, 0, 0, 0, 4, 0, 0, 0, 0, 0]), _logits([0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0]), m),
        ),  # fmt: skip
        Case(
            "a one-token answer (start == end)",
            (_logits([0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]), _logits([0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]), m),
        ),  # fmt: skip
        Case(
            "max_answer_len=2 rules out the long span",
            (_logits([0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0]), _logits([0, 0, 0, 0, 0, 1, 0, 0, 7, 0, 0]), m, 2),
        ),  # fmt: skip
        Case("random logits with padding", (_randn(14, seed=5), _randn(14, seed=6), _mask(3, 7, n_pad=1))),
        Case(
            "the best span has exactly max_answer_len = 3 tokens",
            (_logits([0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0]), _logits([0, 0, 0, 0, 0, 1, 7, 0, 0, 0, 0]), m, 3),
        ),  # fmt: skip
        Case(
            "the best span is one token longer than max_answer_len = 3",
            (_logits([0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0]), _logits([0, 0, 0, 0, 0, 0, 1, 7, 0, 0, 0]), m, 3),
        ),  # fmt: skip
    ]


answer_span = register(
    Exercise(
        name="applications.answer_span",
        title="Exercise 13.2: the answer span from start and end logits",
        reference=_span,
        cases=_span_cases,
        mistakes=[
            Mistake(
                _no_mask,
                "Only context tokens can be part of the answer: mask out the question, [CLS], [SEP] and padding "
                "(context_mask False) for both the start and the end before taking the maximum.",
            ),
            Mistake(
                _limit_off_by_one,
                "The length limit is off by one: a span of exactly max_answer_len tokens is allowed.",
            ),
            Mistake(
                _limit_plus_one,
                "The length limit is off by one: a span one token longer than max_answer_len is not allowed.",
            ),
            Mistake(
                _no_length_limit,
                "Respect max_answer_len: a span may have at most max_answer_len tokens (end - start < max_answer_len).",
            ),
            Mistake(
                _independent,
                "Choosing the start and the end separately can give an end before the start: score the pairs "
                "(start, end) together, with the start not after the end.",
            ),
            Mistake(
                _exclusive_end,
                "The end index is inclusive: it is the position of the answer's last token, as in start_positions/"
                "end_positions of 🤗 QA models, not one past it.",
            ),
        ],
        hint=(
            "Check which (start, end) pairs are allowed: the order of start and end, the length limit (is a "
            "span of exactly the limit allowed?) and positions outside the context; return two Python ints."
        ),
    )
)


# 13.3 cosine ranking for semantic search


def _rank(query, docs):
    sims = torch.nn.functional.normalize(docs, dim=-1) @ torch.nn.functional.normalize(query, dim=-1)  # (N,)
    return torch.argsort(sims, descending=True)


def _rank_dot(query, docs):
    return torch.argsort(docs @ query, descending=True)


def _rank_ascending(query, docs):
    sims = torch.nn.functional.normalize(docs, dim=-1) @ torch.nn.functional.normalize(query, dim=-1)
    return torch.argsort(sims)


def _rank_distance(query, docs):
    return torch.argsort((docs - query).norm(dim=-1), descending=True)


def _rank_cases() -> list[Case]:
    query = torch.tensor([1.0, 0.0, 0.0])
    docs = torch.tensor([[0.0, 1.0, 0.0], [0.9, 0.1, 0.0], [10.0, 10.0, 0.0], [-1.0, 0.2, 0.0]])
    return [
        Case("a long document with a smaller angle to beat", (query, docs)),
        Case("8 random documents of different lengths",
             (_randn(16, seed=7), _randn(8, 16, seed=8) * _randn(8, 1, seed=9).abs())),
        Case("a single document", (_randn(5, seed=10), _randn(1, 5, seed=11))),
        Case("a query that is not unit length",
             (torch.tensor([3.0, 4.0]), torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1, -1.0]]))),
    ]  # fmt: skip


rank_documents = register(
    Exercise(
        name="applications.rank_documents",
        title="Exercise 13.3: cosine ranking for semantic search",
        reference=_rank,
        cases=_rank_cases,
        mistakes=[
            Mistake(
                _rank_dot,
                "Normalise the vectors (divide each by its length) before the dot product: a raw dot product "
                "favours long vectors, cosine similarity only compares directions.",
            ),
            Mistake(
                _rank_ascending, "The most similar document comes first: sort the similarities in descending order."
            ),
            Mistake(
                _rank_distance,
                "Rank by cosine similarity (largest first), not by Euclidean distance: a large distance "
                "means dissimilar.",
            ),
        ],
        hint=(
            "Check the similarity measure (cosine, not the raw dot product), the order of the ranking (best "
            "first) and the dtype of the indices you return."
        ),
    )
)
