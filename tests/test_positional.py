"""Positional encodings: the paper's formula, learned tables, RoPE's relative-position property."""

import math

import pytest
import torch

from lmtutor.positional import LearnedPositionalEmbedding, RotaryEmbedding, sinusoidal_encoding


def test_sinusoidal_matches_the_paper_formula():
    pe = sinusoidal_encoding(50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert math.isclose(pe[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_sinusoidal_rows_have_constant_norm_and_dot_product_falls_with_distance():
    pe = sinusoidal_encoding(64, 32)
    assert torch.allclose(pe.norm(dim=1), torch.full((64,), 4.0), atol=1e-5)  # sqrt(d/2)
    dots = pe[0] @ pe[1:20].T
    assert dots[0] > dots[5] > dots[15]


def test_learned_embedding_shapes_and_offset():
    emb = LearnedPositionalEmbedding(10, 4)
    assert emb(3, offset=2).shape == (3, 4)
    assert torch.equal(emb(3, offset=2), emb.weight[2:5])


def test_rope_keeps_norms():
    rope = RotaryEmbedding(8, 32)
    x = torch.randn(2, 3, 20, 8)
    assert torch.allclose(rope(x).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_rope_dot_product_depends_only_on_distance():
    rope = RotaryEmbedding(16, 64)
    q, k = torch.randn(16), torch.randn(16)

    def score(m, n):
        qs = rope(q.expand(1, 1, 64, 16))[0, 0, m]
        ks = rope(k.expand(1, 1, 64, 16))[0, 0, n]
        return (qs @ ks).item()

    assert score(5, 2) == pytest.approx(score(40, 37), abs=1e-4)
    assert score(10, 10) == pytest.approx((q @ k).item(), abs=1e-4)


def test_rope_offset_equals_slice_of_full_sequence():
    rope = RotaryEmbedding(8, 16)
    x = torch.randn(1, 1, 16, 8)
    assert torch.allclose(rope(x)[..., 10:12, :], rope(x[..., 10:12, :], offset=10), atol=1e-6)
