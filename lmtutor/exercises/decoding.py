"""Exercises of chapter 11 (the GPT and decoding): top-p filtering, one beam-search step, the repetition penalty."""

from __future__ import annotations

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["top_p_filter", "beam_step", "repetition_penalty"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _randint(high: int, *shape: int, seed: int) -> torch.Tensor:
    return torch.randint(high, shape, generator=torch.Generator().manual_seed(seed))


# 11.1 top-p (nucleus) filtering: keep the smallest set of most probable tokens whose mass reaches p


def _top_p(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
    probs = sorted_logits.softmax(dim=-1)
    drop_sorted = probs.cumsum(-1) - probs >= p  # the tokens before it already hold p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def _top_p_no_crossing(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    drop_sorted = sorted_logits.softmax(-1).cumsum(-1) >= p  # drops the token that crosses p
    drop_sorted[..., 0] = False
    return logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), float("-inf"))


def _top_p_unsorted(logits, p):
    probs = logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= p  # accumulates in vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def _top_p_probs(logits, p):
    return _top_p(logits, p).softmax(-1)  # probabilities instead of filtered logits


def _top_p_cases() -> list[Case]:
    peaked = torch.tensor([[0.1, 4.0, 0.3, -1.0, 2.5, 0.0]])
    return [
        Case("one row of 6 logits, p = 0.9", (peaked, 0.9)),
        Case("4 rows of 65 characters, p = 0.8", (2 * _randn(4, 65, seed=1), 0.8)),
        Case("p = 1.0 keeps every token", (_randn(2, 10, seed=2), 1.0)),
        Case("a tiny p keeps only the most probable token", (_randn(3, 8, seed=3), 0.01)),
        Case("the top token alone holds more than p", (torch.tensor([[0.0, 9.0, 1.0, 0.5]]), 0.5)),
    ]


top_p_filter = register(
    Exercise(
        name="decoding.top_p_filter",
        title="Exercise 11.1: top-p (nucleus) filtering",
        reference=_top_p,
        cases=_top_p_cases,
        mistakes=[
            Mistake(
                _top_p_no_crossing,
                "An off-by-one at the boundary: the token whose probability makes the mass reach p belongs to the "
                "nucleus. Drop a token only when the tokens *before* it already hold p.",
            ),
            Mistake(
                _top_p_unsorted,
                "The cumulative mass must run from the most probable token down: sort first, then bring the "
                "decision back to vocabulary order.",
            ),
            Mistake(
                _top_p_probs,
                "Return filtered *logits* (removed tokens at -inf, the others unchanged), not probabilities.",
            ),
        ],
        hint=(
            "Check the order you sort in, where the cumulative probability crosses p (the token that crosses "
            "it is kept), and that the result is put back in the original order."
        ),
    )
)


# 11.2 one beam-search step


def _beam_step(beam_scores, log_probs, num_beams):
    V = log_probs.shape[-1]
    total = beam_scores[:, None] + log_probs  # (K, V)
    scores, flat = total.flatten().topk(num_beams)
    return scores, flat // V, flat % V


def _beam_no_history(beam_scores, log_probs, num_beams):
    scores, flat = log_probs.flatten().topk(num_beams)  # forgets the score of the beam so far
    V = log_probs.shape[-1]
    return beam_scores[flat // V] + scores, flat // V, flat % V


def _beam_per_beam(beam_scores, log_probs, num_beams):
    total = beam_scores[:, None] + log_probs  # (K, V)
    scores, tokens = total.max(dim=-1)  # the best token of every beam: no competition between beams
    scores, beams = scores.topk(num_beams)
    return scores, beams, tokens[beams]


def _beam_wrong_unflatten(beam_scores, log_probs, num_beams):
    K = log_probs.shape[0]
    scores, flat = (beam_scores[:, None] + log_probs).flatten().topk(num_beams)
    return scores, flat % K, flat // K  # splits the flat index by the number of beams instead of V


def _beam_cases() -> list[Case]:
    lp = _randn(3, 7, seed=4).log_softmax(-1)
    return [
        Case("3 beams, 7 tokens, keep 3", (torch.tensor([-1.0, -1.3, -2.5]), lp, 3)),
        Case("one beam (the first step), keep 4", (torch.zeros(1), _randn(1, 10, seed=5).log_softmax(-1), 4)),
        Case("two continuations of the same beam win", (torch.tensor([-0.1, -6.0]), lp[:2], 2)),
        Case(
            "4 beams over 65 characters, keep 4", (-_randn(4, seed=6).abs(), _randn(4, 65, seed=7).log_softmax(-1), 4)
        ),
    ]


beam_step = register(
    Exercise(
        name="decoding.beam_step",
        title="Exercise 11.2: one step of beam search",
        reference=_beam_step,
        cases=_beam_cases,
        mistakes=[
            Mistake(
                _beam_no_history,
                "Rank the continuations by their *total* log-probability: add each beam's score so far before "
                "choosing, not after.",
            ),
            Mistake(
                _beam_per_beam,
                "All K x V continuations compete together: one beam may supply several of the new beams, and a "
                "weak beam none.",
            ),
            Mistake(
                _beam_wrong_unflatten,
                "Index arithmetic: a flat index into a (K, V) table splits into row = index // V and "
                "column = index % V.",
            ),
        ],
        hint=(
            "Check that you add each beam's score before choosing, that you choose over all beams and tokens "
            "together, and how you recover the beam and the token from a flat index."
        ),
    )
)


# 11.3 the repetition penalty of Keskar et al. (2019), as 🤗's RepetitionPenaltyLogitsProcessor


def _penalty(logits, idx, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, idx, True)  # (B, V)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def _penalty_always_divide(logits, idx, penalty):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, idx, True)
    return torch.where(seen, logits / penalty, logits)  # a negative logit moves up towards 0


def _penalty_per_occurrence(logits, idx, penalty):
    counts = torch.zeros_like(logits).scatter_add_(1, idx, torch.ones_like(idx, dtype=logits.dtype))
    factor = penalty**counts  # penalised again for every repeat
    return torch.where(logits < 0, logits * factor, logits / factor)


def _penalty_whole_batch(logits, idx, penalty):
    seen = torch.zeros(logits.shape[-1], dtype=torch.bool)
    seen[idx.flatten()] = True  # tokens of every row, not just this row's
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def _penalty_cases() -> list[Case]:
    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0, 1.0, 0.0]])
    return [
        Case("one row, tokens 0 and 1 seen", (logits, torch.tensor([[0, 1]]), 1.5)),
        Case("a token seen three times", (logits, torch.tensor([[3, 3, 3, 4]]), 2.0)),
        Case("two rows with different histories", (_randn(2, 8, seed=8), torch.tensor([[1, 2, 2], [5, 6, 7]]), 1.3)),
        Case("penalty < 1 rewards repeats", (logits, torch.tensor([[1, 4]]), 0.5)),
        Case("65 characters, 40 seen", (_randn(3, 65, seed=9), _randint(65, 3, 40, seed=10), 1.2)),
    ]


repetition_penalty = register(
    Exercise(
        name="decoding.repetition_penalty",
        title="Exercise 11.3: the repetition penalty",
        reference=_penalty,
        cases=_penalty_cases,
        mistakes=[
            Mistake(
                _penalty_always_divide,
                "Mind the sign: dividing a *negative* logit by the penalty moves it up towards 0 and makes the token "
                "more likely. Negative logits must be multiplied.",
            ),
            Mistake(
                _penalty_per_occurrence,
                "The penalty is applied once per distinct token already present, however often it occurred "
                "(a set of tokens, not counts).",
            ),
            Mistake(
                _penalty_whole_batch,
                "Each row has its own history: a token is penalised in a row only if it occurred in that row, not"
                " anywhere in the batch.",
            ),
        ],
        hint=(
            "Check which tokens count as seen (each row separately, each token once), and the direction of "
            "the penalty for positive and for negative logits."
        ),
    )
)
