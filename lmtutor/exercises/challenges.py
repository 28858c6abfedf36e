"""Exercises of chapter 14 (challenges and limits): the WEAT effect size, GPU-days from 6·N·D, the ECE."""

from __future__ import annotations

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["weat_effect_size", "training_gpu_days", "expected_calibration_error"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 14.1 WEAT effect size


def _assoc(w, A, B):
    cos = lambda u, v: torch.nn.functional.normalize(u, dim=-1) @ torch.nn.functional.normalize(v, dim=-1).T  # noqa: E731
    return cos(w, A).mean(1) - cos(w, B).mean(1)  # (N,)


def _weat(X, Y, A, B):
    s = _assoc(torch.cat([X, Y]), A, B)
    return ((s[: len(X)].mean() - s[len(X) :].mean()) / s.std()).item()


def _weat_dot(X, Y, A, B):
    s = (torch.cat([X, Y]) @ A.T).mean(1) - (torch.cat([X, Y]) @ B.T).mean(1)  # dot products, not cosines
    return ((s[: len(X)].mean() - s[len(X) :].mean()) / s.std()).item()


def _weat_population_std(X, Y, A, B):
    s = _assoc(torch.cat([X, Y]), A, B)
    return ((s[: len(X)].mean() - s[len(X) :].mean()) / s.std(correction=0)).item()


def _weat_no_std(X, Y, A, B):
    s = _assoc(torch.cat([X, Y]), A, B)
    return (s[: len(X)].mean() - s[len(X) :].mean()).item()


def _weat_std_of_x(X, Y, A, B):
    s = _assoc(torch.cat([X, Y]), A, B)
    return ((s[: len(X)].mean() - s[len(X) :].mean()) / s[: len(X)].std()).item()


def _weat_cases() -> list[Case]:
    scaled = [_randn(4, 6, seed=s) * (1 + 9 * (s % 2)) for s in (1, 2, 3, 4)]  # lengths differ a lot
    return [
        Case("4 words per set, D = 6, vectors of very different lengths", tuple(scaled)),
        Case(
            "X of 3 and Y of 5 words, D = 10",
            (_randn(3, 10, seed=5), _randn(5, 10, seed=6), _randn(4, 10, seed=7), _randn(2, 10, seed=8)),
        ),
        Case(
            "two clearly separated groups in 2-D",
            (
                torch.tensor([[1.0, 0.1], [1.0, 0.3], [0.9, 0.2]]),
                torch.tensor([[0.1, 1.0], [0.2, 0.8], [0.3, 1.0]]),
                torch.tensor([[1.0, 0.0]]),
                torch.tensor([[0.0, 1.0]]),
            ),
        ),
    ]


weat_effect_size = register(
    Exercise(
        name="challenges.weat_effect_size",
        title="Exercise 14.1: the WEAT effect size",
        reference=_weat,
        cases=_weat_cases,
        mistakes=[
            Mistake(
                _weat_dot,
                "Dot products are used instead of cosine similarities, so long vectors dominate the association.",
            ),
            Mistake(
                _weat_population_std,
                "The population standard deviation is used; Caliskan et al.'s effect size uses the "
                "sample one (n - 1 in the denominator).",
            ),
            Mistake(
                _weat_no_std,
                "The difference of the two means is not standardised by the spread of s over the target words.",
            ),
            Mistake(
                _weat_std_of_x,
                "The standard deviation is taken over one target set only, not over X and Y together.",
            ),
        ],
        hint="Compute s(w) for every target word (mean cosine with A minus mean cosine with B), then the "
        "difference of the means over X and over Y, divided by the sample std of s over all target words.",
    )
)


# 14.2 GPU-days from the 6·N·D rule


def _gpu_days(n_params, n_tokens, peak_flops, utilisation):
    return 6 * n_params * n_tokens / (peak_flops * utilisation) / 86_400


training_gpu_days = register(
    Exercise(
        name="challenges.training_gpu_days",
        title="Exercise 14.2: GPU-days from 6·N·D",
        reference=_gpu_days,
        cases=[
            Case("GPT-3 on an A100 at 40 %", (175e9, 300e9, 312e12, 0.4)),
            Case("the chapter-9 GPT on a laptop at 10 %", (0.8e6, 4.1e6, 1e11, 0.1)),
            Case("a 1-billion model, 20 tokens per parameter, 50 %", (1e9, 20e9, 312e12, 0.5)),
            Case("perfect utilisation", (1e6, 1e6, 6e12, 1.0)),
        ],
        mistakes=[
            Mistake(
                lambda n, d, p, u: 2 * n * d / (p * u) / 86_400,
                "Only the forward pass is counted (2·N FLOPs per token); training also runs the backward "
                "pass, about twice as costly.",
            ),
            Mistake(
                lambda n, d, p, u: 6 * n * d / p / 86_400,
                "The utilisation is ignored, as if the accelerator ran at its peak rate all the time.",
            ),
            Mistake(
                lambda n, d, p, u: 6 * n * d * u / p / 86_400,
                "The utilisation is applied the wrong way round: a lower utilisation must make training "
                "take longer, not shorter.",
            ),
            Mistake(lambda n, d, p, u: 6 * n * d / (p * u) / 3_600, "The result is in hours, not days."),
        ],
        hint="Total work is 6 times parameters times tokens; the rate is the peak FLOP/s times the utilisation; "
        "work over rate gives seconds, and a day has 86,400 of them.",
    )
)


# 14.3 expected calibration error


def _ece(confidence, correct, n_bins=10):
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1  # (N,), bins (i/n, (i+1)/n]
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            gap = correct[in_bin].float().mean() - confidence[in_bin].mean()
            total += in_bin.float().mean().item() * gap.abs().item()
    return total


def _ece_signed(confidence, correct, n_bins=10):
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            total += in_bin.float().mean().item() * (correct[in_bin].float().mean() - confidence[in_bin].mean()).item()
    return total


def _ece_unweighted(confidence, correct, n_bins=10):
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1
    gaps = [
        (correct[bins == b].float().mean() - confidence[bins == b].mean()).abs().item()
        for b in range(n_bins)
        if (bins == b).any()
    ]
    return sum(gaps) / len(gaps)


def _ece_global(confidence, correct, n_bins=10):
    return (correct.float().mean() - confidence.mean()).abs().item()


def _ece_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    conf = torch.rand(200, generator=g)
    p = torch.where(conf < 0.5, (conf * 1.6).clamp(max=1), conf**2)  # under-confident below 0.5, over above
    correct = (torch.rand(200, generator=g) < p).long()
    return [
        Case("200 predictions, under- and over-confident, 10 bins", (conf, correct)),
        Case(
            "a hand-made example with 2 bins",
            (torch.tensor([0.2, 0.4, 0.9, 0.8, 0.7]), torch.tensor([1, 0, 1, 0, 1]), 2),
        ),
        Case(
            "confidences exactly 0, 0.5 and 1 (bin edges)",
            (torch.tensor([0.0, 0.5, 1.0, 1.0, 0.5]), torch.tensor([0, 1, 1, 0, 0]), 4),
        ),
        Case("mostly empty bins, 15 bins", (torch.tensor([0.95, 0.97, 0.99]), torch.tensor([1, 1, 0]), 15)),
    ]


expected_calibration_error = register(
    Exercise(
        name="challenges.expected_calibration_error",
        title="Exercise 14.3: the expected calibration error",
        reference=_ece,
        cases=_ece_cases,
        mistakes=[
            Mistake(
                _ece_signed,
                "Over- and under-confident bins cancel each other out: the gaps are signed, not absolute.",
            ),
            Mistake(
                _ece_unweighted,
                "The bins are averaged with equal weights: a bin with 3 predictions counts as much as one with 300.",
            ),
            Mistake(
                _ece_global,
                "Confidence and accuracy are compared once for the whole set instead of inside each bin.",
            ),
        ],
        hint="Put each prediction in the bin of its confidence, compare the mean confidence with the accuracy "
        "inside each non-empty bin, and average the absolute gaps weighted by the bins' shares.",
    )
)
