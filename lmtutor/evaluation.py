"""Measuring a model's limits: bias, memorisation, calibration and compute (chapter 14).

``weat_test`` is the word-embedding association test of Caliskan et al. (2017) with an exact
(or sampled) permutation p-value; ``memorisation`` prompts a language model with prefixes of a
text and compares its greedy continuation with the true one; ``reliability_bins`` and
``expected_calibration_error`` compare confidence with accuracy; ``training_flops`` is the
6·N·D estimate of Kaplan et al. (2020).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "weat_association",
    "weat_effect_size",
    "weat_test",
    "matching_prefix_length",
    "greedy_continuations",
    "memorisation",
    "reliability_bins",
    "expected_calibration_error",
    "training_flops",
    "gpu_days",
]


def _check_vectors(**sets: torch.Tensor) -> None:
    dims = set()
    for name, x in sets.items():
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or len(x) == 0:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a 2-D tensor (n_words, D) with at least one row, got {got}")
        dims.add(x.shape[1])
    if len(dims) > 1:
        raise ValueError(f"all word sets must have the same vector width D, got widths {sorted(dims)}")


def weat_association(w: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """s(w, A, B): mean cosine of each w with the words of A minus that with B.

    Shapes: w (N, D), A (nA, D), B (nB, D) -> (N,).
    """
    _check_vectors(w=w, A=A, B=B)
    w, A, B = (F.normalize(t.double(), dim=-1) for t in (w, A, B))
    return (w @ A.T).mean(1) - (w @ B.T).mean(1)  # (N,)


def weat_effect_size(X: torch.Tensor, Y: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> float:
    """Caliskan et al.'s effect size d: (mean s over X - mean s over Y) / std of s over X ∪ Y.

    Shapes: X (nX, D), Y (nY, D), A (nA, D), B (nB, D). The std is the sample std (n - 1).
    """
    _check_vectors(X=X, Y=Y, A=A, B=B)
    if len(X) + len(Y) < 3:
        raise ValueError("the effect size needs at least 3 target words in X and Y together")
    s = weat_association(torch.cat([X, Y]), A, B)  # (nX + nY,)
    return ((s[: len(X)].mean() - s[len(X) :].mean()) / s.std()).item()


def weat_test(
    X: torch.Tensor,
    Y: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    n_permutations: int = 100_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Effect size and one-sided permutation p-value of the WEAT.

    The statistic S = Σ_x s(x) - Σ_y s(y) is recomputed for every way of splitting X ∪ Y into
    two sets of the sizes of X and Y (exactly when there are at most ``n_permutations`` splits,
    else on ``n_permutations`` random splits); p is the share of splits with S at least as large.
    """
    effect = weat_effect_size(X, Y, A, B)
    s = weat_association(torch.cat([X, Y]), A, B)  # (n,)
    n, nx = len(s), len(X)
    observed = s[:nx].sum() - s[nx:].sum()
    total = s.sum()
    if math.comb(n, nx) <= n_permutations:
        splits = torch.tensor(list(itertools.combinations(range(n), nx)))  # (C(n, nx), nx)
    else:
        gen = torch.Generator().manual_seed(seed)
        splits = torch.rand(n_permutations, n, generator=gen).argsort(dim=1)[:, :nx]  # (n_permutations, nx)
    stat = 2 * s[splits].sum(1) - total  # Σ_x s - Σ_y s = 2 Σ_x s - Σ s
    return effect, (stat >= observed - 1e-12).double().mean().item()


def matching_prefix_length(generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """How many leading tokens of each row agree. Shapes: (B, L), (B, L) -> (B,)."""
    if generated.shape != reference.shape or generated.dim() != 2:
        raise ValueError(
            f"generated and reference must be 2-D tensors of the same shape (B, L), "
            f"got {tuple(generated.shape)} and {tuple(reference.shape)}"
        )
    same = (generated == reference).long()  # (B, L)
    return same.cumprod(dim=1).sum(dim=1)  # stops counting at the first difference


@torch.no_grad()
def greedy_continuations(model, prompts: torch.Tensor, n_new: int) -> torch.Tensor:
    """Greedy continuation of each prompt by an ``lt.GPT``. Shapes: (B, P) -> (B, n_new)."""
    was_training = model.training
    model.eval()
    out = model.generate(prompts, n_new, do_sample=False)  # (B, P + n_new)
    model.train(was_training)
    return out[:, prompts.shape[1] :]


def memorisation(model, data: torch.Tensor, starts: Sequence[int], prefix_len: int, n_new: int) -> dict:
    """Prompt with ``data[s : s + prefix_len]`` and compare the greedy continuation with the true text.

    Returns the share of exact continuations, the mean matching-prefix length and the per-prompt
    lengths. Shapes: data (N,) token ids; ``starts`` B positions.
    """
    if data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids, got shape {tuple(data.shape)}")
    if prefix_len < 1 or n_new < 1:
        raise ValueError(f"prefix_len and n_new must be >= 1, got {prefix_len} and {n_new}")
    starts = torch.as_tensor(list(starts), dtype=torch.long)
    if len(starts) == 0 or starts.min() < 0 or starts.max() + prefix_len + n_new > len(data):
        raise ValueError(
            f"every start must satisfy 0 <= start <= len(data) - prefix_len - n_new = "
            f"{len(data) - prefix_len - n_new}, and at least one start is needed"
        )
    windows = data[starts[:, None] + torch.arange(prefix_len + n_new)]  # (B, P + n_new)
    device = next(model.parameters()).device
    generated = greedy_continuations(model, windows[:, :prefix_len].to(device), n_new).cpu()  # (B, n_new)
    lengths = matching_prefix_length(generated, windows[:, prefix_len:])  # (B,)
    return {
        "exact": (lengths == n_new).double().mean().item(),
        "mean_match": lengths.double().mean().item(),
        "lengths": lengths,
    }


def _check_calibration_input(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int) -> None:
    if confidence.dim() != 1 or confidence.shape != correct.shape or len(confidence) == 0:
        raise ValueError(
            f"confidence and correct must be 1-D tensors of the same non-zero length, "
            f"got {tuple(confidence.shape)} and {tuple(correct.shape)}"
        )
    if confidence.min() < 0 or confidence.max() > 1:
        raise ValueError("confidence must be probabilities in [0, 1]; apply softmax to logits first")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")


def reliability_bins(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 10) -> dict[str, torch.Tensor]:
    """Mean confidence, accuracy and count in ``n_bins`` equal-width bins (i/n, (i+1)/n].

    Shapes: (N,), (N,) -> each value (n_bins,); empty bins have confidence and accuracy 0.
    """
    _check_calibration_input(confidence, correct, n_bins)
    conf, corr = confidence.double(), correct.double()
    bins = (conf * n_bins).ceil().long().clamp(1, n_bins) - 1  # (N,): 0 falls in the first bin
    count = torch.bincount(bins, minlength=n_bins).double()  # (n_bins,)
    safe = count.clamp(min=1)
    return {
        "confidence": torch.bincount(bins, conf, minlength=n_bins) / safe,
        "accuracy": torch.bincount(bins, corr, minlength=n_bins) / safe,
        "count": count,
    }


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b / N) |accuracy_b - confidence_b| over equal-width bins. Shapes: (N,), (N,)."""
    b = reliability_bins(confidence, correct, n_bins)
    return ((b["count"] / b["count"].sum()) * (b["accuracy"] - b["confidence"]).abs()).sum().item()


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute C ≈ 6·N·D FLOPs: 2·N per token forward, 4·N backward (Kaplan et al., 2020)."""
    if n_params <= 0 or n_tokens <= 0:
        raise ValueError(f"n_params and n_tokens must be > 0, got {n_params} and {n_tokens}")
    return 6.0 * n_params * n_tokens


def gpu_days(flops: float, peak_flops_per_s: float, utilisation: float) -> float:
    """Days one accelerator needs for ``flops`` at ``utilisation`` (0 < u <= 1) of its peak FLOP/s."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation is a fraction of the peak in (0, 1], e.g. 0.4; got {utilisation}")
    if flops <= 0 or peak_flops_per_s <= 0:
        raise ValueError(f"flops and peak_flops_per_s must be > 0, got {flops} and {peak_flops_per_s}")
    return flops / (peak_flops_per_s * utilisation) / 86_400
