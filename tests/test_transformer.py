"""The GPT: shapes, causality, 🤗 GPT-2 equivalence, KV-cache generation."""

import pytest
import torch

from lmtutor.hf import from_hf_gpt2, to_hf_gpt2
from lmtutor.transformer import GPT, Block, GPTConfig

SMALL = GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, d_model=64)


def test_forward_shapes_and_loss_near_log_vocab_at_init():
    model = GPT(SMALL)
    idx, targets = torch.randint(0, 97, (3, 16)), torch.randint(0, 97, (3, 16))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 97)
    assert abs(loss.item() - torch.log(torch.tensor(97.0)).item()) < 0.3


def test_model_is_causal():
    model = GPT(SMALL).eval()
    idx = torch.randint(0, 97, (1, 20))
    changed = idx.clone()
    changed[0, 12:] = (changed[0, 12:] + 1) % 97
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[:, :12], b[:, :12], atol=1e-6)
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_parameter_count_matches_formula():
    c = SMALL
    per_block = 4 * c.d_model + (3 * c.d_model * c.d_model + 3 * c.d_model) + (c.d_model**2 + c.d_model)
    per_block += 2 * (c.d_model * c.d_ff) + c.d_ff + c.d_model
    expected = c.vocab_size * c.d_model + c.block_size * c.d_model + c.n_layer * per_block + 2 * c.d_model
    assert GPT(c).num_parameters() == expected


@pytest.mark.parametrize("config", [SMALL, GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=2, d_model=32)])
def test_logits_equal_huggingface_gpt2_with_same_weights(config):
    model = GPT(config).eval()
    hf = to_hf_gpt2(model)
    idx = torch.randint(0, config.vocab_size, (2, config.block_size))
    ours, _ = model(idx)
    theirs = hf(idx).logits
    assert (ours - theirs).abs().max().item() <= 1e-5
    back = from_hf_gpt2(hf)
    assert torch.equal(back(idx)[0], ours)


def test_attention_maps_equal_huggingface_attentions():
    model = GPT(SMALL).eval()
    hf = to_hf_gpt2(model, attn_implementation="eager")
    idx = torch.randint(0, 97, (1, 10))
    ours = model.attention_maps(idx)
    theirs = torch.stack(hf(idx, output_attentions=True).attentions)
    assert ours.shape == (2, 1, 4, 10, 10)
    assert (ours - theirs).abs().max() < 1e-6


@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope", "none"])
def test_greedy_generation_is_identical_with_and_without_cache(pos):
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=40, block_size=24, n_layer=2, n_head=2, d_model=32, pos_encoding=pos)).eval()
    prompt = torch.randint(0, 40, (2, 5))
    fast = model.generate(prompt, 30, do_sample=False, use_cache=True)  # runs past block_size
    slow = model.generate(prompt, 30, do_sample=False, use_cache=False)
    assert fast.shape == (2, 35)
    assert torch.equal(fast, slow)


def test_sampling_is_reproducible_with_a_generator():
    model = GPT(SMALL).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    a = model.generate(prompt, 20, top_k=10, generator=torch.Generator().manual_seed(3))
    b = model.generate(prompt, 20, top_k=10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_post_ln_block_differs_from_pre_ln_and_keeps_shape():
    torch.manual_seed(0)
    pre = Block(16, 2, prenorm=True)
    post = Block(16, 2, prenorm=False)
    post.load_state_dict(pre.state_dict())
    x = torch.randn(2, 5, 16)
    y_pre, _ = pre(x)
    y_post, _ = post(x)
    assert y_post.shape == y_pre.shape == x.shape
    assert not torch.allclose(y_pre, y_post)
    assert torch.allclose(y_post.mean(-1), torch.zeros(2, 5), atol=1e-5)  # post-LN ends in a LayerNorm


def test_presets_build():
    for name in ("nano", "cpu", "gpu"):
        cfg = GPTConfig.preset(name)
        assert cfg.extra["preset"] == name
    assert GPT(GPTConfig.preset("nano")).num_parameters() < 200_000
