"""Exercises of chapter 12 (fine-tuning): trainable parameters, a Trainer's compute_metrics, a LoRA layer."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .core import Case, Exercise, Mistake, register

__all__ = ["count_trainable", "compute_metrics", "lora_forward"]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 12.1 trainable and total parameters of a model, shared (tied) weights counted once


def _count(model, trainable_only=True, unique=True, elements=True):
    seen, total = set(), 0
    for p in model.parameters() if unique else (p for _, p in model.named_parameters(remove_duplicate=False)):
        if (unique and id(p) in seen) or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel() if elements else 1
    return total


def _count_trainable(model):
    return _count(model), _count(model, trainable_only=False)


class _Tied(nn.Module):
    """A tiny language model whose output layer shares the embedding matrix (weight tying, chapter 11)."""

    def __init__(self):
        super().__init__()
        self.embed, self.out = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
        self.out.weight = self.embed.weight


def _frozen_encoder() -> nn.Module:
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 6), nn.Linear(6, 2))
    for layer in list(model)[:3]:
        layer.requires_grad_(False)  # a frozen "encoder", a trainable head
    return model


def _tied_frozen() -> nn.Module:
    model = nn.Sequential(_Tied(), nn.Linear(10, 3))
    model[1].requires_grad_(False)
    return model


def _count_cases() -> list[Case]:
    torch.manual_seed(0)
    return [
        Case("a 2-layer MLP, everything trainable", (nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)),)),
        Case("a frozen encoder with a trainable head", (_frozen_encoder(),)),
        Case("tied input and output embeddings (one matrix used twice)", (_Tied(),)),
        Case("tied embeddings, a frozen last layer", (_tied_frozen(),)),
        Case("everything frozen", (nn.Linear(4, 4).requires_grad_(False),)),
    ]


count_trainable = register(
    Exercise(
        name="finetuning.count_trainable",
        title="Exercise 12.1: count trainable and total parameters",
        reference=_count_trainable,
        cases=_count_cases,
        mistakes=[
            Mistake(
                lambda m: (_count(m, trainable_only=False), _count(m, trainable_only=False)),
                "The first number counts only the parameters the optimizer will change: skip those whose "
                "requires_grad is False.",
            ),
            Mistake(
                lambda m: (_count(m, unique=False), _count(m, trainable_only=False, unique=False)),
                "A weight shared by two layers (weight tying) is one tensor: count each parameter tensor once, "
                "e.g. by remembering the id() of those already counted.",
            ),
            Mistake(
                lambda m: (_count(m, elements=False), _count(m, trainable_only=False, elements=False)),
                "Count numbers (elements), not tensors: a (5, 3) weight holds 15 parameters, not 1.",
            ),
        ],
        hint="Every parameter tensor counts with its number of elements (a shared tensor once); only those that "
        "require gradients are trainable. Return (trainable, total) as two ints.",
    )
)


# 12.2 compute_metrics for the 🤗 Trainer: numpy logits (N, C) and labels (N,) -> {"accuracy": float}


def _metrics(eval_pred, axis=-1, as_dict=True, fraction=True):
    logits, labels = eval_pred
    right = (
        (np.argmax(logits, axis=axis) == labels).sum()
        if axis == -1
        else (np.argmax(logits, axis=0)[: len(labels)] == labels).sum()
    )
    value = float(right / len(labels)) if fraction else int(right)
    return {"accuracy": value} if as_dict else value


def _metric_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 2)).astype(np.float32)
    three = rng.normal(size=(5, 3)).astype(np.float32)
    return [
        Case("6 sentences, 2 classes", ((logits, np.array([0, 1, 1, 0, 1, 0])),)),
        Case("3 classes, all right", ((three, np.argmax(three, axis=-1)),)),
        Case("2 sentences, both wrong", ((np.array([[2.0, -1.0], [0.5, 0.1]], np.float32), np.array([1, 1])),)),
        Case("one sentence", ((np.array([[0.1, 0.3]], np.float32), np.array([1])),)),
    ]


compute_metrics = register(
    Exercise(
        name="finetuning.compute_metrics",
        title="Exercise 12.2: compute_metrics for the Trainer",
        reference=_metrics,
        cases=_metric_cases,
        mistakes=[
            Mistake(
                lambda p: _metrics(p, fraction=False),
                "Accuracy is a fraction between 0 and 1: divide the number of right answers by the number of examples.",
            ),
            Mistake(
                lambda p: _metrics(p, as_dict=False),
                "The Trainer expects a dict of named metrics (it logs them as eval_<name>), not a bare number.",
            ),
            Mistake(
                lambda p: _metrics(p, axis=0),
                "Each row holds one example's logits: take the argmax over the classes (the last axis), "
                "not over the examples.",
            ),
        ],
        hint="The prediction of each example is its highest-scoring class (over the classes, not over the "
        "examples); the accuracy is the fraction of predictions equal to the labels, returned in a dict as a "
        "Python float.",
    )
)


# 12.3 a LoRA linear layer: x Wᵀ + b + (α/r) x Aᵀ Bᵀ


def _lora(x, weight, bias, A, B, alpha, scale="alpha/r", base=True):
    r = A.shape[0]
    s = {"alpha/r": alpha / r, "none": 1.0, "alpha": alpha, "r/alpha": r / alpha}[scale]
    out = nn.functional.linear(x, weight, bias) if base else (0 if bias is None else bias)
    return out + s * (x @ A.T) @ B.T


def _lora_cases() -> list[Case]:
    w, b, r = _randn(6, 5, seed=1), _randn(6, seed=2), _randn
    return [
        Case("r = 2, α = 4, a batch of 3 vectors", (r(3, 5, seed=3), w, b, r(2, 5, seed=4), r(6, 2, seed=5), 4.0)),
        Case("r = 1, α = 8, no bias", (r(2, 5, seed=6), w, None, r(1, 5, seed=7), r(6, 1, seed=8), 8.0)),
        Case(
            "B = 0, as peft initialises it: the frozen layer unchanged",
            (r(4, 5, seed=9), w, b, r(3, 5, seed=10), torch.zeros(6, 3), 16.0),
        ),
        Case(
            "(batch, tokens, d_in) input, r = 4, α = 2",
            (r(2, 3, 5, seed=11), w, b, r(4, 5, seed=12), r(6, 4, seed=13), 2.0),
        ),
    ]


lora_forward = register(
    Exercise(
        name="finetuning.lora_forward",
        title="Exercise 12.3: a LoRA linear layer",
        reference=_lora,
        cases=_lora_cases,
        mistakes=[
            Mistake(
                lambda x, w, b, A, B, alpha: _lora(x, w, b, A, B, alpha, scale="none"),
                "The low-rank update is scaled: multiply it by α / r (alpha divided by the rank).",
            ),
            Mistake(
                lambda x, w, b, A, B, alpha: _lora(x, w, b, A, B, alpha, scale="alpha"),
                "The scale is α / r, not α: divide by the rank r (the number of rows of A), so that changing r "
                "does not change the size of the update.",
            ),
            Mistake(
                lambda x, w, b, A, B, alpha: _lora(x, w, b, A, B, alpha, scale="r/alpha"),
                "The scale is upside down: α / r, alpha over the rank.",
            ),
            Mistake(
                lambda x, w, b, A, B, alpha: _lora(x, w, b, A, B, alpha, base=False),
                "LoRA adds the update to the frozen layer's output: keep x Wᵀ + b and add the low-rank term to it.",
            ),
        ],
        hint="The output is the frozen layer's output (with its bias when there is one) plus the low-rank term "
        "through A then B, scaled by alpha over the rank r (the number of rows of A).",
    )
)
