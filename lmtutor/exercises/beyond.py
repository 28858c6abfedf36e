"""Exercises of chapter 15 (beyond GPT-2): RMSNorm, sharing key/value heads (GQA), fitting a power law."""

from __future__ import annotations

import warnings

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["rms_norm", "repeat_kv", "power_law_fit"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 15.1 RMSNorm: divide by the root mean square of the features, then scale by a learned weight


def _rms_norm(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight  # (..., D)


def _rms_centred(x, weight, eps):
    x = x - x.mean(dim=-1, keepdim=True)  # LayerNorm's centring
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def _rms_eps_outside(x, weight, eps):
    return x / (torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True)) + eps) * weight


def _rms_std(x, weight, eps):
    with warnings.catch_warnings():  # one feature has no sample variance (NaN), as the learner's would
        warnings.simplefilter("ignore", UserWarning)
        return x / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * weight


def _rms_no_weight(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


def _rms_cases() -> list[Case]:
    return [
        Case("a batch of 2 x 3 vectors, D = 8", (_randn(2, 3, 8, seed=1), 1 + 0.5 * _randn(8, seed=2), 1e-5)),
        Case("features far from zero (mean 5)", (5 + _randn(4, 6, seed=3), 1 + 0.3 * _randn(6, seed=9), 1e-6)),
        Case("tiny features where eps matters (eps = 0.01)", (0.01 * _randn(3, 5, seed=4), 2 * torch.ones(5), 1e-2)),
        Case("one feature (D = 1)", (torch.tensor([[3.0], [-0.5]]), torch.tensor([1.5]), 1e-5)),
        Case("an all-zero vector", (torch.zeros(1, 4), torch.tensor([1.0, 2.0, 3.0, 4.0]), 1e-5)),
    ]


rms_norm = register(
    Exercise(
        name="beyond.rms_norm",
        title="Exercise 15.1: RMSNorm",
        reference=_rms_norm,
        cases=_rms_cases,
        mistakes=[
            Mistake(
                _rms_centred,
                "The mean is subtracted first: that is LayerNorm. RMSNorm only rescales, it does not centre "
                "the features.",
            ),
            Mistake(
                _rms_std,
                "The standard deviation is used (spread around the mean); RMSNorm divides by the root mean "
                "square of the features themselves.",
            ),
            Mistake(
                _rms_eps_outside,
                "Epsilon is added after the square root; it belongs inside, next to the mean of the squares.",
            ),
            Mistake(_rms_no_weight, "The learned weight (one gain per feature) is not applied at the end."),
        ],
        hint="Over the last axis: the mean of the squared features, plus epsilon, square root; divide the input "
        "by it and multiply by the weight. No mean is subtracted.",
    )
)


# 15.2 grouped-query attention: each key/value head serves n_rep query heads in a row


def _repeat_kv(k, n_rep):
    return k.repeat_interleave(n_rep, dim=1)  # (B, H_kv, T, Dh) -> (B, H_kv * n_rep, T, Dh)


def _repeat_kv_tiled(k, n_rep):
    return k.repeat(1, n_rep, 1, 1)  # heads 0,1,0,1 instead of 0,0,1,1


def _repeat_kv_positions(k, n_rep):
    return k.repeat_interleave(n_rep, dim=2)  # repeats the positions, not the heads


def _repeat_kv_batch(k, n_rep):
    return k.repeat_interleave(n_rep, dim=0)


def _heads(b: int, h: int, t: int, d: int) -> torch.Tensor:
    """Keys whose value names their head: head i holds i + 0.01 * (position), so a wrong order shows."""
    head = torch.arange(h, dtype=torch.float32)[None, :, None, None]
    pos = torch.arange(t, dtype=torch.float32)[None, None, :, None]
    return (head + 0.01 * pos).expand(b, h, t, d).clone()


repeat_kv = register(
    Exercise(
        name="beyond.repeat_kv",
        title="Exercise 15.2: sharing key/value heads (GQA)",
        reference=_repeat_kv,
        cases=[
            Case("2 key/value heads for 4 query heads (values name the head)", (_heads(1, 2, 3, 2), 2)),
            Case("batch 2, 3 key/value heads, n_rep = 4", (_randn(2, 3, 5, 4, seed=5), 4)),
            Case("n_rep = 1 (plain multi-head attention)", (_randn(1, 4, 2, 3, seed=6), 1)),
            Case("one key/value head (multi-query attention)", (_randn(2, 1, 3, 4, seed=7), 3)),
        ],
        mistakes=[
            Mistake(
                _repeat_kv_tiled,
                "The heads come out in the wrong order: the whole group of heads is tiled n_rep times, but "
                "each head must be repeated n_rep times in a row, so that query heads 0 and 1 share head 0.",
            ),
            Mistake(
                _repeat_kv_positions,
                "The repetition runs along the wrong axis (the positions); repeat along the heads axis, the "
                "second one.",
            ),
            Mistake(
                _repeat_kv_batch,
                "The repetition runs along the wrong axis (the batch); repeat along the heads axis, the second one.",
            ),
        ],
        hint="Only the number of heads changes: B, T and Dh stay. Each key/value head appears n_rep times in a "
        "row, so query head h reads key/value head h // n_rep.",
    )
)


# 15.3 a scaling law: least squares on log-log axes


def _power_law_fit(n, loss):
    x, y = n.log(), loss.log()  # log-log: log L = log a - alpha * log n, a straight line
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    intercept = y.mean() - slope * x.mean()
    return intercept.exp().item(), -slope.item()


def _line(x, y):
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return slope, y.mean() - slope * x.mean()


def _fit_linear_n(n, loss):
    slope, intercept = _line(n, loss.log())
    return intercept.exp().item(), -slope.item()


def _fit_signed(n, loss):
    slope, intercept = _line(n.log(), loss.log())
    return intercept.exp().item(), slope.item()


def _fit_mixed_logs(n, loss):
    slope, intercept = _line(n.log10(), loss.log())
    return intercept.exp().item(), -slope.item()


def _fit_no_exp(n, loss):
    slope, intercept = _line(n.log(), loss.log())
    return intercept.item(), -slope.item()


def _power_law_cases() -> list[Case]:
    n = torch.logspace(3, 7, 9, dtype=torch.float64)
    noise = 0.05 * torch.randn(9, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    few = torch.tensor([1e4, 1e6], dtype=torch.float64)
    return [
        Case("an exact power law (a = 5, alpha = 0.3)", (n, 5 * n**-0.3)),
        Case("measured losses with noise", (n, 20 * n**-0.25 * noise.exp())),
        Case("only two points", (few, torch.tensor([3.0, 1.2], dtype=torch.float64))),
        Case("losses that flatten towards 1.7", (n, 1.7 + 40 * n**-0.4)),
    ]


power_law_fit = register(
    Exercise(
        name="beyond.power_law_fit",
        title="Exercise 15.3: fitting a power law",
        reference=_power_law_fit,
        cases=_power_law_cases,
        mistakes=[
            Mistake(
                _fit_linear_n,
                "The line is fitted against n itself; a power law is a straight line only when both axes are "
                "logarithmic.",
            ),
            Mistake(
                _fit_signed,
                "The sign of the slope: the loss falls as n grows, so the slope is negative and alpha, its "
                "negation, must be positive.",
            ),
            Mistake(
                _fit_mixed_logs,
                "The two axes use logarithms of different bases; take the natural logarithm of both, or the "
                "slope is off by a constant factor.",
            ),
            Mistake(
                _fit_no_exp,
                "The intercept is log a, not a: undo the logarithm of the intercept before returning it.",
            ),
        ],
        hint="Take the natural log of n and of the loss, fit a straight line by least squares; alpha is minus "
        "the slope and a is e to the intercept. Return two Python floats.",
    )
)
