"""Positional information: sinusoidal (Vaswani et al. 2017), learned, and rotary (RoPE) (chapter 7).

The sinusoidal encoding is the paper's formula, which one source article garbles:

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "sinusoidal_encoding",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "apply_rotary",
]


def sinusoidal_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The (n_positions, d_model) table of the paper: sin on even columns, cos on odd columns."""
    if n_positions < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need n_positions >= 1 and an even d_model >= 2, got {n_positions}, {d_model}")
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (D/2,) the even indices 2i
    angles = pos / base ** (two_i / d_model)  # (T, D/2)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.float()


def _check_length(t: int, offset: int, max_len: int, what: str) -> None:
    if t + offset > max_len:
        raise ValueError(
            f"sequence of {t} tokens at offset {offset} exceeds the {what} of {max_len} positions; "
            "crop the input to the last block_size tokens or build the model with a larger block_size"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal table. Shapes: forward(T, offset) -> (T, D)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, t: int, offset: int = 0) -> torch.Tensor:
        _check_length(t, offset, self.max_len, "sinusoidal table")
        return self.table[offset : offset + t]


class LearnedPositionalEmbedding(nn.Module):
    """One trained vector per position, as in GPT-2 (``wpe``). Shapes: forward(T, offset) -> (T, D)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, t: int, offset: int = 0) -> torch.Tensor:
        _check_length(t, offset, self.max_len, "learned position table")
        return self.weight[offset : offset + t]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_{2i}, x_{2i+1}) by its angle. Shapes: x (..., T, Dh), cos/sin (T, Dh/2)."""
    x_pairs = x.float().unflatten(-1, (-1, 2))  # (..., T, Dh/2, 2)
    x_even, x_odd = x_pairs[..., 0], x_pairs[..., 1]  # (..., T, Dh/2)
    rotated = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)
    return rotated.flatten(-2).type_as(x)  # (..., T, Dh)


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021): rotate queries and keys so that q·k depends only on their distance.

    Shapes: forward(x (B, H, T, Dh), offset) -> (B, H, T, Dh); pair i turns by pos * base^(-2i/Dh).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
        self.max_len = max_len
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (Dh/2,)
        angles = torch.arange(max_len, dtype=torch.float64)[:, None] * inv_freq  # (T_max, Dh/2)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        t = x.shape[-2]
        _check_length(t, offset, self.max_len, "RoPE table")
        return apply_rotary(x, self.cos[offset : offset + t], self.sin[offset : offset + t])
