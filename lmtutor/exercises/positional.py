"""Exercises of chapter 7 (positional encoding): the sinusoidal table, a RoPE rotation, position lookup."""

from __future__ import annotations

import torch

from .core import Case, Exercise, Mistake, register

# --- 7.1 the sinusoidal table -------------------------------------------------------------------


def _table(n_positions: int, d_model: int, column_exponent, even_fn, odd_fn) -> torch.Tensor:
    """Build a (T, D) table from an exponent rule and the functions of even and odd columns."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    for col in range(d_model):
        angle = pos[:, 0] / 10000 ** column_exponent(col, d_model)
        pe[:, col] = (even_fn if col % 2 == 0 else odd_fn)(angle)
    return pe.float()


def sinusoidal_table(n_positions: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)). Shape (T, D)."""
    return _table(n_positions, d_model, lambda col, d: (col - col % 2) / d, torch.sin, torch.cos)


def _half_split(n_positions: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    angles = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (T, D/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()  # (T, D): all sines, then all cosines


register(
    Exercise(
        name="positional.sinusoidal_table",
        title="Exercise 7.1: the sinusoidal position table",
        reference=sinusoidal_table,
        cases=[
            Case("2 positions, d_model = 2", (2, 2)),
            Case("6 positions, d_model = 8", (6, 8)),
            Case("one position (pos = 0 gives sin 0 = 0, cos 0 = 1)", (1, 4)),
            Case("50 positions, d_model = 16", (50, 16)),
        ],
        mistakes=[
            Mistake(
                lambda t, d: _table(t, d, lambda col, dm: (col - col % 2) / dm, torch.cos, torch.sin),
                "sin and cos are swapped: even columns 2i hold the sine, odd columns 2i+1 the cosine.",
            ),
            Mistake(
                lambda t, d: _table(t, d, lambda col, dm: col / dm, torch.sin, torch.cos),
                "Columns 2i and 2i+1 share one frequency: the exponent is 2i/d_model with 2i the even column of "
                "the pair, not the column index itself (column 2i+1 must not use (2i+1)/d_model).",
            ),
            Mistake(
                lambda t, d: _table(t, d, lambda col, dm: (col // 2) / dm, torch.sin, torch.cos),
                "The exponent is 2i/d_model where i is the pair index (i = column // 2); you used i/d_model, "
                "so the wavelengths grow only half as fast.",
            ),
            Mistake(
                lambda t, d: _table(t, d, lambda col, dm: 2 * col / dm, torch.sin, torch.sin),
                "This is source 003's formula as printed: a sine in every column, with exponent 2j/d_model for "
                "column j. Columns 2i and 2i+1 share the exponent 2i/d_model, and odd columns use cos.",
            ),
            Mistake(
                _half_split,
                "Interleave the columns: sin goes to columns 0, 2, 4, ... and cos to 1, 3, 5, ... "
                "(not all sines first and all cosines after).",
            ),
        ],
        hint=(
            "Check the frequencies (the exponent of the base, per pair of columns) and which columns get the "
            "sine and which the cosine."
        ),
    )
)

# --- 7.2 rotate pairs (RoPE) --------------------------------------------------------------------


def _rotate(x: torch.Tensor, position: int, base: float, exponent_scale: float, direction: float) -> torch.Tensor:
    pairs = x.double().reshape(-1, 2)  # (D/2, 2)
    i = torch.arange(pairs.shape[0], dtype=torch.float64)
    theta = position * base ** (-exponent_scale * i / x.shape[-1]) * direction  # (D/2,)
    even, odd = pairs[:, 0], pairs[:, 1]
    rotated = torch.stack([even * theta.cos() - odd * theta.sin(), even * theta.sin() + odd * theta.cos()], -1)
    return rotated.reshape(x.shape).to(x.dtype)  # (D,)


def rope_rotate(x: torch.Tensor, position: int, base: float = 10000.0) -> torch.Tensor:
    """Rotate each pair (x[2i], x[2i+1]) of a (D,) vector counter-clockwise by position * base^(-2i/D)."""
    return _rotate(x, position, base, 2.0, 1.0)


def _rotate_half_layout(x: torch.Tensor, position: int, base: float = 10000.0) -> torch.Tensor:
    half = x.shape[-1] // 2
    interleaved = torch.stack([x[:half], x[half:]], dim=-1).reshape(-1)  # pairs (x_i, x_{i+D/2})
    out = _rotate(interleaved, position, base, 2.0, 1.0).reshape(half, 2)
    return torch.cat([out[:, 0], out[:, 1]])


def _rope_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(7)
    return [
        Case("a single pair (1, 0) at position 1: turns by 1 radian", (torch.tensor([1.0, 0.0]), 1)),
        Case("position 0 changes nothing", (torch.randn(8, generator=gen), 0)),
        Case("D = 8 at position 3", (torch.randn(8, generator=gen), 3)),
        Case("D = 16 at position 100 with base 500", (torch.randn(16, generator=gen), 100), {"base": 500.0}),
    ]


register(
    Exercise(
        name="positional.rope_rotate",
        title="Exercise 7.2: rotate a vector as RoPE does",
        reference=rope_rotate,
        cases=_rope_cases,
        mistakes=[
            Mistake(
                lambda x, m, base=10000.0: _rotate(x, m, base, 2.0, -1.0),
                "The rotation goes the wrong way: (a, b) -> (a cos θ - b sin θ, a sin θ + b cos θ) turns "
                "counter-clockwise; check the signs of the sin terms.",
            ),
            Mistake(
                lambda x, m, base=10000.0: _rotate(x, m, base, 1.0, 1.0),
                "Wrong frequency: pair i turns by position * base^(-2i/D), with 2i (not i) in the exponent.",
            ),
            Mistake(
                _rotate_half_layout,
                "Wrong pairs: each pair is two neighbouring entries (0 with 1, 2 with 3, ...) as in the RoFormer "
                "paper, not an entry with the one half a vector away (the 'rotate half' layout of some "
                "libraries).",
            ),
        ],
        hint=(
            "Check which entries form a pair, the angle of each pair (its frequency and the position), and "
            "the direction of the rotation."
        ),
    )
)

# --- 7.3 token embedding plus learned position embedding, with an offset ------------------------


def embed_with_positions(
    token_ids: torch.Tensor, token_table: torch.Tensor, position_table: torch.Tensor, offset: int = 0
) -> torch.Tensor:
    """token_table[ids] + position_table[offset : offset + T]. Shapes: (B, T), (V, D), (P, D) -> (B, T, D)."""
    T = token_ids.shape[1]
    return token_table[token_ids] + position_table[offset : offset + T]  # (B, T, D) + (T, D)


def _embed_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(3)
    tok, pos = torch.randn(10, 4, generator=gen), torch.randn(12, 4, generator=gen)
    ids = torch.tensor([[1, 2, 3], [4, 4, 0]])
    return [
        Case("two sequences of 3 tokens, offset 0", (ids, tok, pos)),
        Case("one token at offset 5 (generation with a cache)", (torch.tensor([[7]]), tok, pos, 5)),
        Case("the chunk at positions 9, 10, 11 (the end of the table)", (ids, tok, pos, 9)),
    ]


register(
    Exercise(
        name="positional.embed_with_positions",
        title="Exercise 7.3: token plus learned position embeddings",
        reference=embed_with_positions,
        cases=_embed_cases,
        mistakes=[
            Mistake(
                lambda ids, tok, pos, offset=0: tok[ids] + pos[offset + 1 : offset + 1 + ids.shape[1]],
                "Off by one: positions count from 0, so the first token of the chunk uses row `offset`.",
            ),
            Mistake(
                lambda ids, tok, pos, offset=0: tok[ids] + pos[: ids.shape[1]],
                "The offset is ignored: a chunk that starts at position `offset` uses rows offset .. offset+T-1.",
            ),
            Mistake(
                lambda ids, tok, pos, offset=0: tok[ids] + pos[ids + offset],
                "Index the position table with positions (offset, offset+1, ...), not with token ids.",
            ),
        ],
        hint=(
            "Check which position rows are used (the offset, and the number of positions), and that token and"
            " position embeddings are added, not concatenated."
        ),
    )
)
