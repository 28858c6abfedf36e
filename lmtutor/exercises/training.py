"""Exercises of chapter 9 (loss and training): cross-entropy, perplexity and bits, the schedule, the targets."""

from __future__ import annotations

import math

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["cross_entropy", "perplexity_bits", "lr_schedule", "shift_targets"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _randint(high: int, *shape: int, seed: int) -> torch.Tensor:
    return torch.randint(high, shape, generator=torch.Generator().manual_seed(seed))


# 9.1 cross-entropy from logits: the mean negative log-probability of the correct class


def _cross_entropy(logits, targets):
    log_probs = logits.log_softmax(dim=-1)  # (N, V), computed stably (log-sum-exp)
    return -log_probs[torch.arange(len(targets)), targets].mean()


def _ce_naive_log(logits, targets):
    probs = logits.softmax(dim=-1)  # exp underflows to 0 for very unlikely classes: log(0) = -inf
    return -probs[torch.arange(len(targets)), targets].log().mean()


def _ce_sum(logits, targets):
    return -logits.log_softmax(dim=-1)[torch.arange(len(targets)), targets].sum()


def _ce_plus(logits, targets):
    return logits.log_softmax(dim=-1)[torch.arange(len(targets)), targets].mean()


def _ce_all_pairs(logits, targets):
    return -logits.log_softmax(dim=-1)[:, targets].mean()  # (N, N): every row with every target


def _ce_argmax(logits, targets):
    log_probs = logits.log_softmax(dim=-1)
    return -log_probs.max(dim=-1).values.mean()  # the most likely class, not the correct one


def _ce_cases() -> list[Case]:
    large = torch.tensor([[0.0, 120.0, -3.0], [90.0, -40.0, 1.0], [2.0, 1.0, 0.5]])  # float32 exp(-120) = 0
    return [
        Case("4 positions, 5 classes", (_randn(4, 5, seed=1), torch.tensor([0, 3, 3, 1]))),
        Case("one position, two classes", (torch.tensor([[1.5, -0.5]]), torch.tensor([1]))),
        Case("65 characters, 32 positions", (3 * _randn(32, 65, seed=2), _randint(65, 32, seed=3))),
        Case("very confident wrong logits (|z| up to 120)", (large, torch.tensor([0, 1, 2]))),
    ]


cross_entropy = register(
    Exercise(
        name="training.cross_entropy",
        title="Exercise 9.1: cross-entropy from logits",
        reference=_cross_entropy,
        cases=_ce_cases,
        mistakes=[
            Mistake(
                _ce_plus,
                "The loss is the *negative* log-probability: log p <= 0, so put a minus sign in front; "
                "a loss must be >= 0.",
            ),
            Mistake(
                _ce_sum,
                "Take the mean over the positions, not the sum (the 1/N of L = -(1/N) Σ log p): the loss must "
                "not grow with the batch size.",
            ),
            Mistake(
                _ce_all_pairs,
                "The wrong entries are picked: every row is paired with every target, an (N, N) matrix, instead "
                "of one entry per row.",
            ),
            Mistake(
                _ce_argmax,
                "Use the probability of the correct class (the target), not of the most likely class.",
            ),
            Mistake(
                _ce_naive_log,
                "The log of a softmax breaks for very unlikely classes: their probability underflows to 0 and its"
                " log is minus infinity; the log-probabilities need a numerically stable formula.",
            ),
        ],
        hint=(
            "Check that you take the log-probability of the target class (after a numerically stable log-"
            "softmax) and average over the examples; very large logits must not overflow."
        ),
    )
)


# 9.2 perplexity and bits per character from a loss in nats


def _ppl_bits(loss):
    return math.exp(loss), loss / math.log(2)


perplexity_bits = register(
    Exercise(
        name="training.perplexity_bits",
        title="Exercise 9.2: perplexity and bits per character",
        reference=_ppl_bits,
        cases=[
            Case("a trained character model (loss 1.5 nats)", (1.5,)),
            Case("a uniform guess over 65 characters (loss ln 65)", (math.log(65),)),
            Case("a perfect model (loss 0)", (0.0,)),
            Case("a weak model (loss 3.2 nats)", (3.2,)),
        ],
        mistakes=[
            Mistake(
                lambda loss: (2**loss, loss / math.log(2)),
                "Wrong base: the loss is in nats, so the perplexity is e to the loss; 2 to the loss is the "
                "perplexity of a loss in bits.",
            ),
            Mistake(
                lambda loss: (math.exp(loss), math.log2(loss)),
                "Bits are the same quantity in another unit: bits = loss / ln 2 (log2 p = ln p / ln 2), not "
                "log2 of the loss.",
            ),
            Mistake(
                lambda loss: (math.exp(loss), loss * math.log(2)),
                "Divide by ln 2 to go from nats to bits (1 bit = ln 2 ≈ 0.693 nats), don't multiply.",
            ),
        ],
        hint=(
            "Check the base of the exponential for the perplexity and the conversion from nats to bits; "
            "return the two numbers in the order the task asks."
        ),
    )
)


# 9.3 linear warmup + cosine decay, the schedule of lmtutor.train.lr_at


def _schedule(max_steps, warmup_steps, max_lr, min_lr, shift=1, floor=True, from_warmup=True):
    rates = []
    for step in range(max_steps + 1):
        if step < warmup_steps:
            rates.append(max_lr * (step + shift) / warmup_steps)
            continue
        start = warmup_steps if from_warmup else 0
        progress = min(1.0, (step - start) / max(1, max_steps - start))
        low = min_lr if floor else 0.0
        rates.append(low + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - low))
    return rates


lr_schedule = register(
    Exercise(
        name="training.lr_schedule",
        title="Exercise 9.3: warmup and cosine learning-rate schedule",
        reference=_schedule,
        cases=[
            Case("20 steps, 5 warmup, 1.0 -> 0.1", (20, 5, 1.0, 0.1)),
            Case("no warmup (warmup_steps = 0)", (10, 0, 1.0, 0.0)),
            Case("the chapter's preset: 2000 steps, 100 warmup, 5e-3 -> 5e-4", (2000, 100, 5e-3, 5e-4)),
            Case("warmup of one step", (8, 1, 2.0, 0.5)),
            Case("a warmup as long as the run (warmup_steps = max_steps)", (6, 6, 1.0, 0.1)),
        ],
        mistakes=[
            Mistake(
                lambda n, w, hi, lo: _schedule(n, w, hi, lo, shift=0),
                "The warmup is off by one: step 0 must already train with max_lr / warmup_steps, and the last "
                "warmup step with max_lr. Use max_lr * (step + 1) / warmup_steps.",
            ),
            Mistake(
                lambda n, w, hi, lo: _schedule(n, w, hi, lo, floor=False),
                "The cosine must end at min_lr, not at 0: min_lr + 0.5 * (1 + cos(pi * p)) * (max_lr - min_lr).",
            ),
            Mistake(
                lambda n, w, hi, lo: _schedule(n, w, hi, lo, from_warmup=False),
                "Measure the cosine's progress from the end of the warmup, p = (step - warmup_steps) / "
                "(max_steps - warmup_steps), so that it starts at max_lr and reaches min_lr exactly at max_steps.",
            ),
        ],
        hint=(
            "Check the boundaries of the schedule: the first and last warmup steps, the step where decay "
            "starts, the end of the run, and a warmup as long as the run."
        ),
        atol=1e-9,
        rtol=1e-6,
    )
)


# 9.4 inputs and next-token targets from windows of T + 1 tokens


def _shift(window):
    return window[:, :-1], window[:, 1:]  # (B, T) each: position t predicts token t + 1


shift_targets = register(
    Exercise(
        name="training.shift_targets",
        title="Exercise 9.4: inputs and next-token targets",
        reference=_shift,
        cases=[
            Case("2 windows of 6 tokens", (torch.tensor([[5, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]]),)),
            Case("one window of 2 tokens (T = 1)", (torch.tensor([[7, 3]]),)),
            Case("4 random windows of 65 tokens", (_randint(65, 4, 65, seed=4),)),
        ],
        mistakes=[
            Mistake(
                lambda w: (w[:, :-1], w[:, :-1]),
                "The targets are not shifted: a model that must predict the token it already sees learns to copy."
                " The target at each position is the next token.",
            ),
            Mistake(
                lambda w: (w[:, 1:], w[:, :-1]),
                "Shifted the wrong way: the input is the past and the target the future.",
            ),
            Mistake(
                lambda w: (w, w[:, 1:]),
                "The inputs keep the last token, which has no next token to predict: inputs and targets must both"
                " have T positions.",
            ),
        ],
        hint=(
            "Check which tokens are inputs and which are targets: the target at each position is the next "
            "token; both keep the batch dimension."
        ),
    )
)
