"""Exercises of chapter 8 (the Transformer): a pre-LN sub-layer, the decoder's mask, parameter counting."""

from __future__ import annotations

import torch
from torch import nn

from .core import Case, Exercise, Mistake, register

# --- 8.1 a residual sub-layer with pre-LN -------------------------------------------------------


def prenorm_sublayer(x: torch.Tensor, sublayer: nn.Module, norm: nn.LayerNorm) -> torch.Tensor:
    """Pre-LN residual sub-layer: x + sublayer(norm(x)). Shapes: (B, T, D) -> (B, T, D)."""
    return x + sublayer(norm(x))


def _sublayer_cases() -> list[Case]:
    torch.manual_seed(11)
    cases = []
    for label, shape in (("a (1, 1, 4) input", (1, 1, 4)), ("a (2, 3, 8) input", (2, 3, 8))):
        d = shape[-1]
        norm = nn.LayerNorm(d)
        with torch.no_grad():  # a LayerNorm that is not the identity map, so its place matters
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
        cases.append(Case(label, (3 * torch.randn(shape) + 1, nn.Linear(d, d), norm)))
    mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))
    cases.append(Case("a feed-forward sub-layer", (torch.randn(2, 5, 8), mlp, nn.LayerNorm(8))))
    return cases


register(
    Exercise(
        name="transformer.prenorm_sublayer",
        title="Exercise 8.1: a residual sub-layer with pre-LN",
        reference=prenorm_sublayer,
        cases=_sublayer_cases,
        mistakes=[
            Mistake(
                lambda x, f, norm: norm(x + f(x)),
                "That is post-LN (the 2017 paper's order): LayerNorm after the sum. Pre-LN normalises the "
                "sub-layer's input and adds the result to the un-normalised x.",
            ),
            Mistake(
                lambda x, f, norm: f(norm(x)),
                "The residual connection is missing: add the input x back to the sub-layer's output.",
            ),
            Mistake(
                lambda x, f, norm: x + norm(f(x)),
                "LayerNorm goes before the sub-layer (on its input), not after it on its output.",
            ),
            Mistake(
                lambda x, f, norm: norm(x) + f(norm(x)),
                "Add the original x, not norm(x): the residual path must carry x unchanged.",
            ),
        ],
        hint=(
            "Check the order: in pre-LN the normalisation comes before the sub-layer, and the residual adds "
            "the original input, not the normalised one."
        ),
    )
)

# --- 8.2 the decoder's self-attention mask ------------------------------------------------------


def decoder_mask(tgt_mask: torch.Tensor) -> torch.Tensor:
    """Causal AND key-padding mask. (B, T) bool, True = real token -> (B, 1, T, T) bool, True = may attend."""
    T = tgt_mask.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T): key j <= query i
    return causal & tgt_mask[:, None, None, :]  # (B, 1, T, T): padding hides keys, not queries


register(
    Exercise(
        name="transformer.decoder_mask",
        title="Exercise 8.2: the decoder's look-ahead and padding mask",
        reference=decoder_mask,
        cases=[
            Case("one token", (torch.tensor([[True]]),)),
            Case("no padding, T = 4", (torch.tensor([[True, True, True, True]]),)),
            Case(
                "two sequences, the second padded",
                (torch.tensor([[True, True, True, True], [True, True, False, False]]),),
            ),
        ],
        mistakes=[
            Mistake(
                lambda m: torch.ones(m.shape[1], m.shape[1], dtype=torch.bool).tril()[None, None],
                "Padding is ignored: combine the causal mask with the (B, T) padding mask and return (B, 1, T, T).",
            ),
            Mistake(
                lambda m: m[:, None, None, :].expand(-1, 1, m.shape[1], -1),
                "The look-ahead (causal) part is missing: query i may only see keys j <= i.",
            ),
            Mistake(
                lambda m: torch.ones(m.shape[1], m.shape[1], dtype=torch.bool).triu() & m[:, None, None, :],
                "The mask keeps the future: the causal part must be lower-triangular, True on and below the diagonal.",
            ),
            Mistake(
                lambda m: torch.ones(m.shape[1], m.shape[1], dtype=torch.bool).tril() & m[:, None, :, None],
                "The padding mask is put on the wrong axis: it hides keys (the last axis), not query rows.",
            ),
            Mistake(
                lambda m: torch.ones(m.shape[1], m.shape[1], dtype=torch.bool).tril(-1) & m[:, None, None, :],
                "Each position may attend to itself: keep the diagonal (tril(0), not tril(-1)).",
            ),
        ],
        hint=(
            "Check both conditions a position must meet (not in the future, not padding), how the masks "
            "combine, and the shape the mask must broadcast to."
        ),
    )
)

# --- 8.3 parameters of a block by formula -------------------------------------------------------


def block_parameters(d_model: int, d_ff: int | None = None, decoder: bool = False) -> int:
    """Parameters of an encoder (or decoder) block with biases; d_ff defaults to 4 * d_model."""
    d_ff = 4 * d_model if d_ff is None else d_ff
    attention = 4 * d_model * d_model + 4 * d_model  # W_q, W_k, W_v, W_o and their biases
    feed_forward = 2 * d_model * d_ff + d_ff + d_model
    layer_norm = 2 * d_model  # gain and bias
    n_attention = 2 if decoder else 1  # the decoder adds cross-attention, with its own LayerNorm
    return n_attention * (attention + layer_norm) + feed_forward + layer_norm


def _wrong_count(attn_bias: bool = True, ffn_bias: bool = True, norms: bool = True, ff_factor: int = 4):
    def count(d_model: int, d_ff: int | None = None, decoder: bool = False) -> int:
        d_ff = ff_factor * d_model if d_ff is None else d_ff
        attention = 4 * d_model * d_model + 4 * d_model * attn_bias
        feed_forward = 2 * d_model * d_ff + (d_ff + d_model) * ffn_bias
        n_attention = 2 if decoder else 1
        return n_attention * (attention + 2 * d_model * norms) + feed_forward + 2 * d_model * norms

    return count


register(
    Exercise(
        name="transformer.block_parameters",
        title="Exercise 8.3: count the parameters of a block",
        reference=block_parameters,
        cases=[
            Case("encoder block, d_model = 64", (64,)),
            Case("the paper's base encoder layer, d_model = 512, d_ff = 2048", (512, 2048)),
            Case("decoder block, d_model = 64", (64,), {"decoder": True}),
            Case("decoder block, d_model = 32, d_ff = 100", (32, 100), {"decoder": True}),
        ],
        mistakes=[
            Mistake(
                _wrong_count(attn_bias=False, ffn_bias=False),
                "Biases are missing: every linear layer has a bias per output besides its weights.",
            ),
            Mistake(
                _wrong_count(norms=False),
                "LayerNorm parameters are missing: each LayerNorm has a gain and a bias, 2 * d_model numbers.",
            ),
            Mistake(
                _wrong_count(ff_factor=1),
                "The feed-forward layer is 4 x wider than the model: d_ff defaults to 4 * d_model.",
            ),
            Mistake(
                lambda d, d_ff=None, decoder=False: block_parameters(d, d_ff, False),
                "A decoder block has a second attention (cross-attention) with its own LayerNorm.",
            ),
        ],
        hint=(
            "Check every part of the block: the attention projections, both feed-forward layers, the "
            "normalisations, and which of them have biases."
        ),
    )
)
