"""Bridges to 🤗 Transformers: our GPT <-> ``GPT2LMHeadModel`` with the same weights (chapters 9, 13).

GPT-2 stores its linear layers as ``Conv1D`` with weights of shape (in, out); ours are
``nn.Linear`` with (out, in), so every matrix is transposed on the way.
"""

from __future__ import annotations

import torch

from .transformer import GPT, GPTConfig

__all__ = ["gpt2_config", "to_hf_gpt2", "from_hf_gpt2"]


def _require_gpt2_layout(c: GPTConfig) -> None:
    problems = []
    if c.pos_encoding != "learned":
        problems.append(f"pos_encoding={c.pos_encoding!r} (GPT-2 uses 'learned')")
    if not c.bias:
        problems.append("bias=False (GPT-2 has biases)")
    if not c.tie_weights:
        problems.append("tie_weights=False (GPT-2 ties the LM head to wte)")
    if c.norm != "layernorm":
        problems.append(f"norm={c.norm!r} (GPT-2 uses LayerNorm: 'layernorm')")
    if c.mlp != "gelu":
        problems.append(f"mlp={c.mlp!r} (GPT-2 uses the GELU MLP: 'gelu')")
    if c.kv_heads != c.n_head:
        problems.append(f"n_kv_head={c.n_kv_head!r} (GPT-2 has one key/value head per query head: None)")
    if problems:
        raise ValueError("this GPT cannot be expressed as GPT-2: " + "; ".join(problems))


def gpt2_config(c: GPTConfig):
    """The ``transformers.GPT2Config`` that matches a ``GPTConfig``."""
    from transformers import GPT2Config

    _require_gpt2_layout(c)
    return GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.d_model,
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_inner=c.d_ff,
        activation_function="gelu_new",
        resid_pdrop=c.dropout,
        embd_pdrop=c.dropout,
        attn_pdrop=c.dropout,
        layer_norm_epsilon=c.layer_norm_eps,
        bos_token_id=0,
        eos_token_id=0,
    )


def _pairs(n_layer: int):
    """(our name, GPT-2 name, transpose?) for every tensor."""
    yield "tok_emb.weight", "transformer.wte.weight", False
    yield "pos_emb.weight", "transformer.wpe.weight", False
    for i in range(n_layer):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for a, b, t in (
            ("ln_1", "ln_1", False),
            ("attn.qkv", "attn.c_attn", True),
            ("attn.out_proj", "attn.c_proj", True),
            ("ln_2", "ln_2", False),
            ("mlp.fc", "mlp.c_fc", True),
            ("mlp.proj", "mlp.c_proj", True),
        ):
            yield ours + a + ".weight", theirs + b + ".weight", t
            yield ours + a + ".bias", theirs + b + ".bias", False
    yield "ln_f.weight", "transformer.ln_f.weight", False
    yield "ln_f.bias", "transformer.ln_f.bias", False


@torch.no_grad()
def to_hf_gpt2(model: GPT, attn_implementation: str = "eager"):
    """A 🤗 ``GPT2LMHeadModel`` holding a copy of this GPT's weights (ready for ``save_pretrained``)."""
    from transformers import GPT2LMHeadModel

    config = gpt2_config(model.config)
    config._attn_implementation = attn_implementation
    hf = GPT2LMHeadModel(config)
    ours, theirs = model.state_dict(), hf.state_dict()
    for a, b, transpose in _pairs(model.config.n_layer):
        theirs[b].copy_(ours[a].t() if transpose else ours[a])
    hf.tie_weights()
    return hf.eval()


@torch.no_grad()
def from_hf_gpt2(hf_model) -> GPT:
    """Our GPT with the weights of a 🤗 ``GPT2LMHeadModel`` (e.g. the real ``gpt2`` checkpoint)."""
    hc = hf_model.config
    if hc.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"unsupported activation {hc.activation_function!r}; expected gelu_new")
    config = GPTConfig(
        vocab_size=hc.vocab_size,
        block_size=hc.n_positions,
        n_layer=hc.n_layer,
        n_head=hc.n_head,
        d_model=hc.n_embd,
        d_ff=hc.n_inner or 4 * hc.n_embd,
        layer_norm_eps=hc.layer_norm_epsilon,
    )
    model = GPT(config)
    ours, theirs = model.state_dict(), hf_model.state_dict()
    for a, b, transpose in _pairs(config.n_layer):
        ours[a].copy_(theirs[b].t() if transpose else theirs[b])
    return model.eval()
