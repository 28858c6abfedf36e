"""The blocks of today's LLMs (chapter 15): RMSNorm, SwiGLU, grouped-query attention, their KV cache."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmtutor.attention import KVCache, MultiHeadAttention, repeat_kv
from lmtutor.config import GPTConfig, default_d_ff
from lmtutor.exercises import get
from lmtutor.hf import gpt2_config
from lmtutor.transformer import GPT, Block, SwiGLU, kv_cache_bytes

MODERN = GPTConfig(
    vocab_size=50,
    block_size=32,
    n_layer=2,
    n_head=4,
    d_model=32,
    norm="rmsnorm",
    mlp="swiglu",
    pos_encoding="rope",
    n_kv_head=2,
    bias=False,
)


def test_rms_norm_formula_equals_torch_rmsnorm():
    x, eps = torch.randn(2, 5, 16), 1e-5
    norm = nn.RMSNorm(16, eps=eps)
    nn.init.normal_(norm.weight)
    ours = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * norm.weight
    assert torch.allclose(ours, norm(x), atol=1e-6)
    exercise = get("beyond.rms_norm")  # the exercise's answer is the same function, on all its cases
    for case in exercise.get_cases():
        x, w, eps = case.args
        assert torch.allclose(exercise.reference(*case.args), F.rms_norm(x, (x.shape[-1],), w, eps), atol=1e-6)


def test_swiglu_equals_its_formula():
    mlp = SwiGLU(16, 40, bias=False)
    x = torch.randn(3, 7, 16)
    w1, w3, w2 = mlp.gate.weight, mlp.up.weight, mlp.proj.weight
    assert torch.allclose(mlp(x), (F.silu(x @ w1.T) * (x @ w3.T)) @ w2.T, atol=1e-6)


def test_repeat_kv_is_repeat_interleave_and_matches_the_exercise():
    k = torch.randn(2, 3, 5, 4)
    assert torch.equal(repeat_kv(k, 2), k.repeat_interleave(2, dim=1))
    assert repeat_kv(k, 1) is k
    exercise = get("beyond.repeat_kv")
    for case in exercise.get_cases():
        assert torch.equal(repeat_kv(*case.args), exercise.reference(*case.args))


@pytest.mark.parametrize("n_kv_head", [2, 1])  # grouped-query and multi-query attention
def test_gqa_equals_torch_sdpa_with_enable_gqa_and_the_explicit_path(n_kv_head):
    D, H, Dh = 32, 4, 8
    mha = MultiHeadAttention(D, H, causal=True, n_kv_head=n_kv_head).eval()
    assert mha.qkv.weight.shape == (D + 2 * n_kv_head * Dh, D)
    x = torch.randn(2, 6, D)
    q, k, v = mha.qkv(x).split([D, n_kv_head * Dh, n_kv_head * Dh], dim=-1)  # by hand, from the same weights
    q = q.view(2, 6, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
    k, v = (t.view(2, 6, n_kv_head, Dh).transpose(1, 2) for t in (k, v))  # (B, H_kv, T, Dh)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    ref = mha.out_proj(ref.transpose(1, 2).reshape(2, 6, D))
    fused, none = mha(x)
    explicit, weights = mha(x, need_weights=True)
    assert none is None and weights.shape == (2, H, 6, 6)
    assert torch.allclose(fused, ref, atol=1e-5) and torch.allclose(explicit, ref, atol=1e-5)
    mask = (torch.rand(2, 1, 6, 6) > 0.3) | torch.eye(6, dtype=torch.bool)  # a padding-like mask, with is_causal
    assert torch.allclose(mha(x, mask=mask)[0], mha(x, mask=mask, need_weights=True)[0], atol=1e-5)


def test_cross_attention_with_fewer_kv_heads():
    mha = MultiHeadAttention(32, 4, n_kv_head=2).eval()
    x, memory = torch.randn(2, 3, 32), torch.randn(2, 7, 32)
    out, w = mha(x, memory=memory, need_weights=True)
    assert out.shape == (2, 3, 32) and w.shape == (2, 4, 3, 7)
    assert torch.allclose(mha(x, memory=memory)[0], out, atol=1e-5)


def test_n_kv_head_equal_to_n_head_is_plain_multi_head_attention():
    base = dict(vocab_size=50, block_size=16, n_layer=2, n_head=4, d_model=32)
    torch.manual_seed(1)
    old = GPT(GPTConfig(**base))
    torch.manual_seed(1)
    same = GPT(GPTConfig(**base, n_kv_head=4))
    assert {k: v.shape for k, v in old.state_dict().items()} == {k: v.shape for k, v in same.state_dict().items()}
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), same.state_dict().values(), strict=True))
    idx = torch.randint(0, 50, (2, 10))
    assert torch.equal(old(idx)[0], same(idx)[0])
    assert GPTConfig(**base).kv_heads == 4 and GPTConfig(**base).n_kv_head is None


def test_generate_with_cache_equals_without_and_cache_size():
    model = GPT(MODERN).eval()
    idx = torch.randint(0, 50, (3, 5))
    cache = KVCache()
    with_cache = model.generate(idx, 12, do_sample=False, cache=cache)
    assert torch.equal(with_cache, model.generate(idx, 12, do_sample=False, use_cache=False))
    assert len(cache) == 5 + 12 - 1  # the last token is never fed back
    assert all(k.shape == (3, MODERN.n_kv_head, len(cache), 8) for k in (*cache.keys, *cache.values))
    assert cache.nbytes() == kv_cache_bytes(MODERN, 3, len(cache))
    mha = kv_cache_bytes(GPTConfig(**{**MODERN.to_dict(), "n_kv_head": None}), 3, len(cache))
    assert mha == 2 * cache.nbytes() and kv_cache_bytes(MODERN, 3, 16, torch.bfloat16) == 2 * 2 * 3 * 2 * 16 * 8 * 2
    long = model.generate(idx, 32, do_sample=False)  # past block_size: the cropped window is recomputed
    assert torch.equal(long, model.generate(idx, 32, do_sample=False, use_cache=False))


def test_parameter_counts():
    gelu, swiglu = (GPT(GPTConfig(d_model=128, mlp=m)).num_parameters() for m in ("gelu", "swiglu"))
    assert abs(swiglu / gelu - 1) < 0.02
    assert default_d_ff(128, "swiglu") == 344 and default_d_ff(128) == 512 and default_d_ff(64, "swiglu") % 8 == 0
    assert GPTConfig.preset("cpu", mlp="swiglu").d_ff == 256 == default_d_ff(96, "swiglu")  # follows mlp and d_model
    assert GPTConfig.preset("nano", d_model=128).d_ff == 512 and GPTConfig.preset("nano", d_ff=100).d_ff == 100
    mha, gqa = (MultiHeadAttention(128, 8, n_kv_head=h) for h in (None, 2))
    assert sum(p.numel() for p in mha.parameters()) - sum(p.numel() for p in gqa.parameters()) == 2 * 6 * 16 * 129
    block = Block(32, 4, norm="rmsnorm", mlp="swiglu")
    assert isinstance(block.ln_1, nn.RMSNorm) and isinstance(block.mlp, SwiGLU) and block.mlp.gate.out_features == 88


def test_residual_projection_init_covers_swiglu():
    model = GPT(GPTConfig(vocab_size=50, n_layer=8, d_model=128, mlp="swiglu"))
    proj, gate = model.blocks[0].mlp.proj.weight, model.blocks[0].mlp.gate.weight
    assert abs(proj.std().item() - 0.02 / 4) < 0.001 and abs(gate.std().item() - 0.02) < 0.002


def test_a_tiny_modern_gpt_trains():
    torch.manual_seed(0)
    model = GPT(MODERN)
    data = torch.randint(0, 50, (16,)).repeat(8)  # a random phrase, repeated
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        start = torch.randint(0, len(data) - 17, (8,))
        batch = torch.stack([data[s : s + 17] for s in start])  # (8, 17)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_head=4, n_kv_head=3), "n_kv_head=3 must divide n_head=4"),
        (dict(n_head=4, n_kv_head=3), "use one of [1, 2, 4]"),
        (dict(n_kv_head="2"), "positive int or None"),
        (dict(norm="rms"), "Did you mean 'rmsnorm'?"),
        (dict(mlp="relu"), "GPTConfig.mlp must be one of ('gelu', 'swiglu'), got 'relu'"),
    ],
)
def test_bad_options_are_explained(kwargs, message):
    with pytest.raises(ValueError) as err:
        GPTConfig(**kwargs)
    assert message in str(err.value)


def test_bad_module_arguments_are_explained():
    with pytest.raises(ValueError, match=r"n_kv_head=3 must divide n_head=4: use one of \[1, 2, 4\]"):
        MultiHeadAttention(32, 4, n_kv_head=3)
    with pytest.raises(ValueError, match="unknown norm 'rms'. Did you mean 'rmsnorm'?"):
        Block(32, 4, norm="rms")
    with pytest.raises(ValueError, match="shape"):
        repeat_kv(torch.randn(4, 5, 8), 2)
    with pytest.raises(ValueError, match="empty KVCache"):
        GPT(MODERN).generate(torch.zeros(1, 2, dtype=torch.long), 2, cache=KVCache(), use_cache=False)


def test_hf_export_refuses_modern_options():
    with pytest.raises(ValueError) as err:
        gpt2_config(MODERN)
    text = str(err.value)
    assert "cannot be expressed as GPT-2" in text
    assert "norm='rmsnorm' (GPT-2 uses LayerNorm" in text and "mlp='swiglu'" in text and "n_kv_head=2" in text


def test_old_config_dicts_still_load():
    old = {k: v for k, v in GPTConfig().to_dict().items() if k not in ("norm", "mlp", "n_kv_head")}
    config = GPTConfig(**old)
    assert (config.norm, config.mlp, config.n_kv_head, config.d_ff) == ("layernorm", "gelu", None, 512)
