"""Attention: invariants and equivalence with PyTorch's references."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmtutor.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention


def qkv(*shape, dv=None):
    *lead, t, d = shape
    return torch.randn(*shape), torch.randn(*shape), torch.randn(*lead, t, dv or d)


def test_weights_are_a_distribution_over_keys():
    q, k, v = qkv(2, 3, 7, 8)
    _, w = scaled_dot_product_attention(q, k, v)
    assert w.shape == (2, 3, 7, 7)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7), atol=1e-6)
    assert (w >= 0).all()


def test_scaling_by_sqrt_dk():
    q, k, v = qkv(1, 4, 16)
    _, w = scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(16), dim=-1)
    assert torch.allclose(w, expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 4), (2, 6, 8), (2, 3, 10, 16)])
def test_matches_torch_sdpa(shape):
    q, k, v = qkv(*shape)
    out, _ = scaled_dot_product_attention(q, k, v)
    assert (out - F.scaled_dot_product_attention(q, k, v)).abs().max() < 1e-5


def test_causal_matches_torch_sdpa_and_blocks_the_future():
    q, k, v = qkv(2, 4, 9, 8)
    out, w = scaled_dot_product_attention(q, k, v, is_causal=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (out - ref).abs().max() < 1e-5
    assert (w.triu(diagonal=1) == 0).all()
    # changing a future value must not change earlier outputs
    v2 = v.clone()
    v2[..., 5:, :] += 10
    out2, _ = scaled_dot_product_attention(q, k, v2, is_causal=True)
    assert torch.allclose(out[..., :5, :], out2[..., :5, :])


def test_padding_mask_matches_sdpa_and_ignores_padding():
    q, k, v = qkv(2, 2, 6, 8)
    am = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    mask = padding_mask(am)
    assert mask.shape == (2, 1, 1, 6)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert (out - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).abs().max() < 1e-5
    assert (w[0, :, :, 4:] == 0).all()


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = qkv(1, 3, 4)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not torch.isnan(out).any() and not torch.isnan(w).any()
    assert (out[0, 1] == 0).all() and (w[0, 1] == 0).all()
    assert (out - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).abs().max() < 1e-5


def test_causal_mask_with_cache_offset():
    m = causal_mask(2, 5)
    assert m.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_matches_torch_multihead(need_weights):
    d, h = 32, 4
    ours = MultiHeadAttention(d, h).eval()
    ref = nn.MultiheadAttention(d, h, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(3, 7, d)
    out, w = ours(x, need_weights=need_weights)
    ref_out, ref_w = ref(x, x, x, need_weights=True, average_attn_weights=False)
    assert (out - ref_out).abs().max() < 1e-5
    if need_weights:
        assert (w - ref_w).abs().max() < 1e-6


def test_multihead_cross_attention_matches_torch():
    d, h = 16, 2
    ours = MultiHeadAttention(d, h).eval()
    ref = nn.MultiheadAttention(d, h, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.load_state_dict(ours.out_proj.state_dict())
    x, mem = torch.randn(2, 3, d), torch.randn(2, 5, d)
    keep = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    out, w = ours(x, memory=mem, mask=padding_mask(keep), need_weights=True)
    ref_out, _ = ref(x, mem, mem, key_padding_mask=~keep)
    assert w.shape == (2, 2, 3, 5)
    assert (out - ref_out).abs().max() < 1e-5


def test_multihead_causal_fast_and_explicit_paths_agree():
    mha = MultiHeadAttention(24, 3, causal=True).eval()
    x = torch.randn(2, 10, 24)
    fast, _ = mha(x)
    slow, w = mha(x, need_weights=True)
    assert (fast - slow).abs().max() < 1e-5
    assert (w.triu(1) == 0).all()
