"""Bad input gets a clear message saying what was wrong and how to fix it (asserted by message)."""

import os

import pytest
import torch

import lmtutor as lt
from lmtutor import data as D
from lmtutor import tasks
from lmtutor.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from lmtutor.checkpoint import CheckpointError
from lmtutor.decoding import next_token
from lmtutor.ngram import NGramLM
from lmtutor.positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)
from lmtutor.tokenization import BPETokenizer
from lmtutor.train import TrainConfig, load_checkpoint, run_summary, save_checkpoint, train, train_preset
from lmtutor.transformer import GPT, GPTConfig
from lmtutor.viz import AttentionData, attention_rollout, head_view, model_view, readable_tokens
from lmtutor.viz.static import attention_heatmap, plot_matrix

CFG = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, d_model=8)
r = torch.randn
IDS = torch.zeros(1, 3, dtype=torch.long)
TOK = D.CharTokenizer.from_text("abc")
NAN_W = torch.full((1, 1, 3, 3), float("nan"))  # what a fully masked attention row gives
P = torch.ones(1, 1, 3, 3) / 3  # valid attention weights of 3 tokens


def _train(data=None, cfg=None, **kw):
    d = torch.arange(10).repeat(10) if data is None else data
    return train(GPT(CFG), d, d, cfg or TrainConfig(max_steps=2, warmup_steps=1), device="cpu", **kw)


def _pickled_config():
    """A checkpoint written by plain torch.save with a config object inside (not loadable with weights_only)."""
    torch.save({"config": TrainConfig(), "step": 1}, "pickled.pt")
    return load_checkpoint("pickled.pt")


def _swapped_check():
    from lmtutor.exercises import REGISTRY, load_all

    load_all()
    return lt.check(lambda x: x, next(iter(REGISTRY)))


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
    ("heads do not divide width", lambda: MultiHeadAttention(10, 3), ValueError, "positive multiple of n_head"),
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
    # --- round 2: attention and positional
    ("q not a tensor", lambda: scaled_dot_product_attention([1.0], r(3, 4), r(3, 4)), TypeError, "q must be a torch"),
    ("causal mask of zero", lambda: causal_mask(0), ValueError, "1 <= t_q <= t_k"),
    ("padding mask 3-D", lambda: padding_mask(torch.ones(1, 2, 3)), ValueError, r"shape \(B, S\)"),
    (
        "MHA on token ids",
        lambda: MultiHeadAttention(8, 2)(IDS.expand(1, 3)[..., None].expand(1, 3, 8)),
        TypeError,
        "embed token ids first",
    ),
    ("sinusoidal zero positions", lambda: sinusoidal_encoding(0, 8), ValueError, "need n_positions >= 1"),
    ("learned PE offset", lambda: LearnedPositionalEmbedding(4, 8)(3, offset=2), ValueError, "at offset 2 exceeds"),
    ("sinusoidal PE too long", lambda: SinusoidalPositionalEncoding(4, 8)(5), ValueError, "crop the input"),
    ("RoPE too long", lambda: RotaryEmbedding(4, 8)(r(1, 1, 10, 4)), ValueError, "exceeds the RoPE table"),
    # --- GPT config: wrong types and meaningless sizes
    ("config vocab as str", lambda: GPTConfig(vocab_size="65"), ValueError, r"got '65' \(str\); use vocab_size=65"),
    (
        "config block_size 0",
        lambda: GPTConfig(block_size=0),
        ValueError,
        r"block_size must be a positive int, got 0 \(int\); e.g. block_size=128",
    ),
    ("config d_ff 0", lambda: GPTConfig(d_ff=0), ValueError, r"d_ff must be a positive int, got 0.*use None"),
    ("config d_ff negative", lambda: GPTConfig(d_ff=-4), ValueError, "d_ff must be a positive int, got -4"),
    ("config d_model float", lambda: GPTConfig(d_model=64.0), ValueError, r"got 64.0 \(float\)"),
    ("config n_head bool", lambda: GPTConfig(n_head=True), ValueError, r"n_head must be a positive int, got True"),
    ("config negative eps", lambda: GPTConfig(layer_norm_eps=-1e-5), ValueError, "layer_norm_eps must be a small pos"),
    ("config zero eps", lambda: GPTConfig(layer_norm_eps=0.0), ValueError, r"layer_norm_eps .*e.g. 1e-5"),
    ("config dropout as str", lambda: GPTConfig(dropout="0.1"), ValueError, "dropout must be a number in"),
    ("config bias as str", lambda: GPTConfig(bias="False"), ValueError, r"bias must be True or False, got 'False'"),
    ("config RoPE odd heads", lambda: GPTConfig(pos_encoding="rope", d_model=12, n_head=4), ValueError, "even head"),
    # --- GPT forward
    ("ids as a list", lambda: GPT(CFG)([[1, 2]]), TypeError, "idx must be a tensor of token ids, got list"),
    ("float targets", lambda: GPT(CFG)(IDS, IDS.float()), TypeError, r"targets must hold integer .*targets.long\(\)"),
    ("all targets ignored", lambda: GPT(CFG)(IDS, torch.full_like(IDS, -100)), ValueError, "every target is -100"),
    ("target -1", lambda: GPT(CFG)(IDS, IDS - 1), ValueError, r"or -100 \(ignored\), got values in \[-1, "),
    ("attention maps without batch", lambda: GPT(CFG).attention_maps(IDS[0]), ValueError, r"idx\[None\]"),
    # --- generate
    ("float max_new_tokens", lambda: GPT(CFG).generate(IDS, 2.0), TypeError, r"max_new_tokens must be an int .*2.0"),
    ("str max_new_tokens", lambda: GPT(CFG).generate(IDS, "5"), TypeError, r"got '5' \(str\)"),
    (
        "temperature nan",
        lambda: GPT(CFG).generate(IDS, 2, temperature=float("nan")),
        ValueError,
        "temperature must be a finite number",
    ),
    ("temperature inf", lambda: GPT(CFG).generate(IDS, 2, temperature=float("inf")), ValueError, "got inf"),
    ("temperature as str", lambda: GPT(CFG).generate(IDS, 2, temperature="0.8"), ValueError, "got '0.8'"),
    ("generate 1-D prompt", lambda: GPT(CFG).generate(IDS[0], 2), ValueError, r"idx\[None\]"),
    ("generate float prompt", lambda: GPT(CFG).generate(IDS.float(), 2), TypeError, "integer token ids"),
    # --- tokenizers
    ("encode None", lambda: TOK.encode(None), TypeError, r"got NoneType; did a function return None"),
    ("encode a number", lambda: TOK.encode(12), TypeError, r"encode expects text \(a str\), got int"),
    ("decode generate output", lambda: TOK.decode(IDS), ValueError, r"shape \(1, 3\); use decode\(out\[0\]\)"),
    (
        "decode a batch",
        lambda: TOK.decode(torch.zeros(2, 3, dtype=torch.long)),
        ValueError,
        r"\[decode\(row\) for row in out\]",
    ),
    ("decode float tensor", lambda: TOK.decode(torch.zeros(3)), TypeError, r"use ids.long\(\)"),
    ("decode nested list", lambda: TOK.decode([[0, 1]]), TypeError, r"decode one row, e.g. decode\(ids\[0\]\)"),
    ("decode text", lambda: TOK.decode("abc"), TypeError, "did you mean encode"),
    ("decode floats", lambda: TOK.decode([0.0, 1.0]), TypeError, "flat list .* of int ids"),
    ("empty vocabulary", lambda: D.CharTokenizer([]), ValueError, "at least one character"),
    ("duplicate characters", lambda: D.CharTokenizer(["a", "a"]), ValueError, "distinct single characters"),
    ("BPE on empty text", lambda: BPETokenizer.train("", 300), ValueError, "empty text"),
    ("BPE on bytes", lambda: BPETokenizer.train(b"abc", 300), TypeError, "text must be a str, got bytes"),
    ("BPE vocab too small", lambda: BPETokenizer.train("abc", 1), ValueError, "smaller than the alphabet"),
    ("BPE unknown character", lambda: BPETokenizer.train("aab", 4).encode("z"), ValueError, "byte_level=True"),
    ("BPE decode out of range", lambda: BPETokenizer.train("aab", 4).decode([99]), ValueError, "not in the vocab"),
    # --- data
    ("dataset too short", lambda: D.CharDataset(torch.arange(5), 8), ValueError, "CharDataset needs a 1-D tensor"),
    ("split a 2-D tensor", lambda: D.train_val_split(torch.zeros(2, 5)), ValueError, "expected a 1-D tensor"),
    ("split fraction 0", lambda: D.train_val_split(torch.arange(10), 0.0), ValueError, r"in \(0, 1\), got 0.0"),
    (
        "missing corpus offline",
        lambda: D.load_shakespeare(".", download_if_missing=False),
        D.DataError,
        r"download disabled.*save it as",
    ),
    # --- training config
    ("batch_size 0", lambda: TrainConfig(batch_size=0), ValueError, "batch_size=0"),
    (
        "batch_size as str",
        lambda: TrainConfig(batch_size="32"),
        TypeError,
        r"TrainConfig.batch_size must be an int, got '32' \(str\); use batch_size=32",
    ),
    ("max_steps float", lambda: TrainConfig(max_steps=1e3), TypeError, r"got 1000.0 \(float\); use max_steps=1000"),
    ("lr as str", lambda: TrainConfig(lr="3e-3"), TypeError, r"lr must be a finite number, got '3e-3'.*use lr=0.003"),
    ("lr infinite", lambda: TrainConfig(lr=float("inf")), ValueError, "lr must be a finite number, got inf"),
    ("lr nan", lambda: TrainConfig(lr=float("nan")), ValueError, "lr must be a finite number, got nan"),
    ("lr zero", lambda: TrainConfig(lr=0.0), ValueError, "lr=0.0"),
    ("lr negative", lambda: TrainConfig(lr=-1e-3), ValueError, r"lr > 0"),
    ("min_lr above lr", lambda: TrainConfig(lr=1e-3, min_lr=1e-2), ValueError, "min_lr=0.01"),
    ("grad_clip 0", lambda: TrainConfig(grad_clip=0.0), ValueError, "grad_clip=0.0"),
    ("grad_clip as str", lambda: TrainConfig(grad_clip="1.0"), TypeError, "grad_clip must be a finite number or None"),
    ("betas one value", lambda: TrainConfig(betas=(0.9,)), ValueError, r"betas must be two numbers in \[0, 1\)"),
    ("betas above 1", lambda: TrainConfig(betas=(0.9, 1.5)), ValueError, r"got \(0.9, 1.5\)"),
    ("eval_interval 0", lambda: TrainConfig(eval_interval=0), ValueError, "eval_interval=0"),
    ("time_budget negative", lambda: TrainConfig(time_budget=-1.0), ValueError, "time_budget=-1.0"),
    ("checkpoint_interval 0", lambda: TrainConfig(checkpoint_interval=0), ValueError, "checkpoint_interval=0"),
    ("seed as str", lambda: TrainConfig(seed="1"), TypeError, r"seed must be an int, got '1' \(str\); use seed=1"),
    (
        "compile as str",
        lambda: TrainConfig(compile="False"),
        TypeError,
        r"compile must be True or False.*compile=False",
    ),
    ("unknown training preset", lambda: train_preset("huge"), ValueError, "unknown training preset 'huge'"),
    # --- train() and checkpoints
    ("train with a dict config", lambda: _train(cfg={"max_steps": 2}), TypeError, "cfg must be a TrainConfig"),
    ("train on float data", lambda: _train(torch.rand(100)), ValueError, r"\(100,\) torch.float32; encode the text"),
    ("train on short data", lambda: _train(torch.arange(5)), ValueError, "needs more than block_size=8"),
    ("train on 2-D data", lambda: _train(torch.zeros(2, 50, dtype=torch.long)), ValueError, "must be a 1-D tensor"),
    ("train into a folder", lambda: _train(checkpoint_path="."), IsADirectoryError, "is a folder; pass the path"),
    ("resume from a folder", lambda: _train(checkpoint_path=".", resume=True), IsADirectoryError, "is a folder"),
    ("summary of empty history", lambda: run_summary({}, 10), ValueError, "no evaluation yet"),
    (
        "save a config object",
        lambda: save_checkpoint("ck.pt", config=TrainConfig()),
        TypeError,
        r"state\['config'\] is a TrainConfig object.*dataclasses.asdict",
    ),
    (
        "save a nested object",
        lambda: save_checkpoint("ck.pt", extra={"cfg": CFG}),
        TypeError,
        r"state\['extra'\]\['cfg'\] is a GPTConfig",
    ),
    ("save into a folder", lambda: save_checkpoint(".", step=1), IsADirectoryError, r"e.g. run.pt"),
    ("save the reserved key", lambda: save_checkpoint("ck.pt", _lmtutor_sha256="x"), ValueError, "reserved"),
    ("load a folder", lambda: load_checkpoint("."), IsADirectoryError, "is a folder; pass the path of a file"),
    ("load a pickled config", _pickled_config, CheckpointError, r"besides tensors.*\(a lmtutor.config.TrainConfig\)"),
    (
        "load a bare tensor",
        lambda: (torch.save(torch.ones(2), "t.pt"), load_checkpoint("t.pt")),
        CheckpointError,
        "holds a Tensor, not an lmtutor checkpoint",
    ),
    # --- viz
    ("heatmap of NaN weights", lambda: attention_heatmap(NAN_W[0, 0]), ValueError, "NaN/inf values"),
    ("heatmap of 3-D weights", lambda: attention_heatmap(P[0]), ValueError, "pick a layer and head first"),
    ("heatmap label count", lambda: attention_heatmap(P[0, 0], ["a", "b"]), ValueError, "one label per token"),
    ("AttentionData with NaN", lambda: AttentionData(NAN_W, ["a", "b", "c"]), ValueError, "NaN/inf weights"),
    ("head_view of NaN weights", lambda: head_view(NAN_W, ["a", "b", "c"]), ValueError, "check the model and the mask"),
    ("model_view of NaN weights", lambda: model_view(NAN_W, ["a", "b", "c"]), ValueError, "non-finite attention"),
    ("head_view token count", lambda: head_view(P, ["a", "b"]), ValueError, "2 tokens for 3 query positions"),
    ("head_view not probabilities", lambda: head_view(P * 5, ["a", "b", "c"]), ValueError, "must be probabilities"),
    ("head_view bad layer", lambda: head_view(P, ["a", "b", "c"], layer=5), ValueError, "layer=5 is not one of"),
    ("head_view top_k 0", lambda: head_view(P, ["a", "b", "c"], top_k=0), ValueError, "must be >= 1"),
    ("model_view of text", lambda: model_view("attention", ["a"]), TypeError, "weights must be a tensor or array"),
    ("rollout residual", lambda: attention_rollout(P, residual=1.5), ValueError, r"residual must be in \[0, 1\)"),
    ("plot_matrix 1-D", lambda: plot_matrix(torch.ones(3)), ValueError, "plot_matrix needs a 2-D array"),
    ("readable tokens scheme", lambda: readable_tokens(["a"], scheme="x"), ValueError, "scheme must be one of"),
    # --- exercises, hub, n-grams, utilities
    ("check arguments swapped", _swapped_check, TypeError, r"the arguments are swapped: use check\('"),
    ("check name not a str", lambda: lt.check(3, print), TypeError, r"exercise name \(a str\) first, got int"),
    ("check unknown exercise", lambda: lt.check("no_such_exercise", print), KeyError, "no exercise named"),
    ("hub unknown task", lambda: tasks.resolve("text-generaton"), ValueError, "Did you mean 'text-generation'"),
    ("hub unknown source", lambda: tasks.resolve("text-generation", source="web"), ValueError, "'auto' or 'book'"),
    ("n-gram order 0", lambda: NGramLM(0), ValueError, "n must be an integer >= 1"),
    ("n-gram negative k", lambda: NGramLM(2, k=-1.0), ValueError, "k must be a finite number >= 0"),
    ("n-gram not fitted", lambda: NGramLM(2).prob("a", ["b"]), RuntimeError, "not fitted yet"),
    ("set_seed with a str", lambda: lt.set_seed("1"), ValueError, "non-negative int"),
]


@pytest.mark.parametrize("label,fn,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_clear_error(label, fn, exc, pattern, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # cases that write files write them here
    with pytest.raises(exc, match=pattern):
        fn()
    assert sorted(os.listdir(tmp_path)) in ([], ["pickled.pt"], ["t.pt"])  # nothing half-written left behind


def test_there_are_at_least_a_hundred_cases():
    assert len(CASES) >= 100 and len({c[0] for c in CASES}) == len(CASES)


def test_corrupted_checkpoint_message(tmp_path):
    bad = tmp_path / "ck.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable lmtutor checkpoint.*delete it"):
        load_checkpoint(bad)


def test_unavailable_device_message(monkeypatch):
    monkeypatch.setenv("LMTUTOR_DEVICE", "cuda:7")
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    with pytest.raises(RuntimeError, match="not available on this machine"):
        lt.get_device()
