"""Numbers that describe attention maps: distance, entropy, rollout (chapters 6 and 8)."""

from __future__ import annotations

import torch

__all__ = ["mean_attention_distance", "attention_entropy", "head_summary", "attention_rollout"]


def _check(weights: torch.Tensor, name: str = "weights") -> None:
    if not isinstance(weights, torch.Tensor) or weights.dim() < 2 or weights.shape[-1] != weights.shape[-2]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"{name} must be square attention maps (..., T, T), got {shape}")


def mean_attention_distance(weights: torch.Tensor) -> torch.Tensor:
    """Average |query - key| distance, weighted by attention, over queries. Shapes: (..., T, T) -> (...)."""
    _check(weights)
    t = weights.shape[-1]
    pos = torch.arange(t, dtype=weights.dtype, device=weights.device)
    dist = (pos[:, None] - pos[None, :]).abs()  # (T, T)
    return (weights * dist).sum(-1).mean(-1)


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of each query's attention distribution. Shapes: (..., T, T) -> (...)."""
    _check(weights)
    p = weights.clamp_min(1e-12)
    return -(weights * p.log()).sum(-1).mean(-1)


def head_summary(attentions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-head statistics of (L, H, T, T) maps: mean distance, entropy, share on the previous token and on self."""
    _check(attentions, "attentions")
    if attentions.dim() != 4:
        raise ValueError(f"attentions must be (L, H, T, T) for one sequence, got {tuple(attentions.shape)}")
    t = attentions.shape[-1]
    prev = attentions.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1) / max(t - 1, 1)  # (L, H)
    return {
        "distance": mean_attention_distance(attentions),
        "entropy": attention_entropy(attentions),
        "previous_token": prev,
        "self": attentions.diagonal(dim1=-2, dim2=-1).mean(-1),
    }


def attention_rollout(attentions: torch.Tensor, residual: float = 0.5) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): how much each output position draws on each input token.

    Per layer the heads are averaged and the residual connection is added as identity,
    A = residual * I + (1 - residual) * mean_h(W), rows renormalised; layers are multiplied
    bottom-up. Shapes: (L, H, T, T) -> (T, T), every row sums to 1.
    """
    _check(attentions, "attentions")
    if attentions.dim() != 4:
        raise ValueError(f"attentions must be (L, H, T, T) for one sequence, got {tuple(attentions.shape)}")
    if not 0.0 <= residual < 1.0:
        raise ValueError(f"residual must be in [0, 1), got {residual}")
    t = attentions.shape[-1]
    eye = torch.eye(t, dtype=attentions.dtype, device=attentions.device)
    rollout = eye
    for layer in attentions:  # (H, T, T), from the first layer up
        a = residual * eye + (1 - residual) * layer.mean(0)
        a = a / a.sum(-1, keepdim=True)
        rollout = a @ rollout
    return rollout
