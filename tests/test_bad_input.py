"""Bad input gets a clear message saying what was wrong and how to fix it (asserted by message)."""

import pytest
import torch

import lmtutor as lt
from lmtutor import data as D
from lmtutor.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from lmtutor.decoding import next_token
from lmtutor.positional import LearnedPositionalEmbedding, RotaryEmbedding, sinusoidal_encoding
from lmtutor.train import TrainConfig, load_checkpoint
from lmtutor.transformer import GPT, GPTConfig

CFG = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, d_model=8)
r = torch.randn

CASES = [
    # attention
    (
        "q/k width mismatch",
        lambda: scaled_dot_product_attention(r(2, 3, 4), r(2, 3, 5), r(2, 3, 5)),
        ValueError,
        "q and k must share their last dimension d_k",
    ),
    (
        "k/v length mismatch",
        lambda: scaled_dot_product_attention(r(3, 4), r(3, 4), r(5, 4)),
        ValueError,
        "same number of positions",
    ),
    ("rank mismatch", lambda: scaled_dot_product_attention(r(2, 3, 4), r(3, 4), r(3, 4)), ValueError, "same rank"),
    ("1-D query", lambda: scaled_dot_product_attention(r(4), r(4), r(4)), ValueError, r"shape \(\.\.\., T, d\)"),
    (
        "integer tensors",
        lambda: scaled_dot_product_attention(*(torch.ones(2, 2, dtype=torch.long),) * 3),
        TypeError,
        "floating-point",
    ),
    (
        "float mask",
        lambda: scaled_dot_product_attention(r(3, 4), r(3, 4), r(3, 4), mask=torch.ones(3, 3)),
        TypeError,
        "mask must be a bool tensor",
    ),
    (
        "mask of wrong shape",
        lambda: scaled_dot_product_attention(r(3, 4), r(3, 4), r(3, 4), mask=torch.ones(4, 4, dtype=torch.bool)),
        ValueError,
        "does not broadcast",
    ),
    ("causal mask t_k < t_q", lambda: causal_mask(5, 3), ValueError, "1 <= t_q <= t_k"),
    ("padding mask rank", lambda: padding_mask(torch.ones(3)), ValueError, r"shape \(B, S\)"),
    ("heads do not divide width", lambda: MultiHeadAttention(10, 3), ValueError, "positive multiple of n_heads"),
    ("MHA input without batch", lambda: MultiHeadAttention(8, 2)(r(5, 8)), ValueError, "add a batch dimension"),
    ("MHA wrong width", lambda: MultiHeadAttention(8, 2)(r(1, 5, 6)), ValueError, r"shape \(B, T, 8\)"),
    # positional
    ("odd d_model sinusoidal", lambda: sinusoidal_encoding(10, 7), ValueError, "even d_model"),
    ("learned PE too long", lambda: LearnedPositionalEmbedding(4, 8)(6), ValueError, "exceeds the learned position"),
    ("RoPE odd head dim", lambda: RotaryEmbedding(5, 10), ValueError, "even head dimension"),
    # model config and inputs
    ("config width not divisible", lambda: GPTConfig(d_model=10, n_head=3), ValueError, "divisible by n_head"),
    ("config negative layers", lambda: GPTConfig(n_layer=0), ValueError, "n_layer must be a positive int"),
    ("config dropout 1", lambda: GPTConfig(dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
    ("config unknown PE", lambda: GPTConfig(pos_encoding="alibi"), ValueError, "pos_encoding must be one of"),
    ("unknown preset", lambda: GPTConfig.preset("huge"), ValueError, "unknown preset 'huge'"),
    ("ids without batch dim", lambda: GPT(CFG)(torch.tensor([1, 2, 3])), ValueError, r"idx\[None\]"),
    ("float ids", lambda: GPT(CFG)(torch.ones(1, 3)), TypeError, "integer token ids"),
    ("ids out of vocabulary", lambda: GPT(CFG)(torch.tensor([[1, 12]])), ValueError, r"vocabulary is \[0, 10\)"),
    ("negative ids", lambda: GPT(CFG)(torch.tensor([[-1, 2]])), ValueError, "token ids in"),
    ("too long for context", lambda: GPT(CFG)(torch.zeros(1, 9, dtype=torch.long)), ValueError, "exceeds block_size=8"),
    ("empty input", lambda: GPT(CFG)(torch.zeros(1, 0, dtype=torch.long)), ValueError, "is empty"),
    (
        "targets shape",
        lambda: GPT(CFG)(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)),
        ValueError,
        "targets must have the same shape",
    ),
    (
        "negative max_new_tokens",
        lambda: GPT(CFG).generate(torch.zeros(1, 1, dtype=torch.long), -1),
        ValueError,
        "max_new_tokens must be >= 0",
    ),
    (
        "temperature 0 when sampling",
        lambda: next_token(r(1, 5), temperature=0.0),
        ValueError,
        "use do_sample=False for greedy",
    ),
    ("top_p out of range", lambda: next_token(r(1, 5), top_p=1.5), ValueError, r"top_p must be in \(0, 1\]"),
    # training config
    ("train config zero steps", lambda: TrainConfig(max_steps=0), ValueError, "max_steps=0"),
    ("warmup longer than run", lambda: TrainConfig(max_steps=10, warmup_steps=20), ValueError, "warmup_steps=20"),
    # data
    ("empty text tokenizer", lambda: D.CharTokenizer.from_text(""), ValueError, "empty text"),
    (
        "unknown character",
        lambda: D.CharTokenizer.from_text("abc").encode("abz"),
        ValueError,
        "'z' is not in the vocabulary",
    ),
    (
        "decode out of range",
        lambda: D.CharTokenizer.from_text("abc").decode([0, 7]),
        ValueError,
        "outside the vocabulary",
    ),
    ("split fraction", lambda: D.train_val_split(torch.arange(10), 1.5), ValueError, r"train_fraction must be in"),
    ("batch from short data", lambda: D.get_batch(torch.arange(5), 8, 2), ValueError, "need more than block_size=8"),
    (
        "2-D data for batches",
        lambda: D.get_batch(torch.zeros(3, 30, dtype=torch.long), 8, 2),
        ValueError,
        "expected a 1-D tensor",
    ),
    ("seed negative", lambda: lt.set_seed(-1), ValueError, "non-negative int"),
    ("missing checkpoint", lambda: load_checkpoint("no/such/file.pt"), FileNotFoundError, "no checkpoint at"),
    ("unknown device", lambda: lt.get_device("tpu"), ValueError, "Unknown device 'tpu'"),
]


@pytest.mark.parametrize("label,fn,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_clear_error(label, fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_corrupted_checkpoint_message(tmp_path):
    bad = tmp_path / "ck.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="not a readable lmtutor checkpoint"):
        load_checkpoint(bad)


def test_unavailable_device_message(monkeypatch):
    monkeypatch.setenv("LMTUTOR_DEVICE", "cuda:7")
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    with pytest.raises(RuntimeError, match="not available on this machine"):
        lt.get_device()
