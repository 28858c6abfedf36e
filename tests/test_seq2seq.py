"""The synthetic translation tasks and the encoder-decoder Transformer (chapter 8)."""

import datetime as dt
import re

import pytest
import torch

from lmtutor import synthetic as S
from lmtutor.attention import MultiHeadAttention
from lmtutor.seq2seq import DecoderBlock, EncoderDecoder, Seq2SeqConfig, decoder_self_mask, exact_match, train_seq2seq
from lmtutor.seq2seq import translate as translate_fn
from lmtutor.train import TrainConfig
from lmtutor.transformer import Block

VOCAB = S.date_vocab()
CFG = Seq2SeqConfig(len(VOCAB), max_len=32, n_head=4, d_model=32)


# --- the synthetic data -------------------------------------------------------------------------


def test_date_pairs_are_deterministic_distinct_and_correct():
    pairs = S.date_pairs(3000, seed=7)
    assert pairs == S.date_pairs(3000, seed=7)
    assert pairs != S.date_pairs(3000, seed=8)
    assert len({src for src, _ in pairs}) == 3000
    for src, tgt in pairs:
        assert S.parse_date(src) == dt.date.fromisoformat(tgt)  # the source says the same date
        assert len(tgt) == 10 and tgt[4] == tgt[7] == "-"
    styles_seen = {next(s for s in S.DATE_FORMATS if S.format_date(S.parse_date(src), s) == src) for src, _ in pairs}
    assert styles_seen == set(S.DATE_FORMATS)


def test_format_date_examples():
    d = dt.date(2021, 3, 12)
    assert S.format_date(d, "day month year") == "12 March 2021"
    assert S.format_date(d, "month day, year") == "March 12, 2021"
    assert S.format_date(d, "weekday, day month year") == "Friday, 12 March 2021"
    assert S.format_date(d, "day.month.year") == "12.3.2021"


def test_split_is_disjoint_and_deterministic():
    pairs = S.date_pairs(1000, seed=0)
    train, test = S.train_test_split(pairs, 0.2, seed=1)
    assert len(test) == 200 and len(train) == 800
    assert not {s for s, _ in train} & {s for s, _ in test}
    assert (train, test) == S.train_test_split(pairs, 0.2, seed=1)


def test_vocab_covers_the_tasks_and_round_trips():
    pairs = S.date_pairs(5000, seed=0)
    assert set(S.CharVocab.from_pairs(pairs).itos) <= set(VOCAB.itos)
    ids = VOCAB.encode("12 March 2021", bos=True, eos=True)
    assert ids[0] == VOCAB.bos_id and ids[-1] == VOCAB.eos_id
    assert VOCAB.decode(ids + [VOCAB.pad_id, VOCAB.stoi["7"]]) == "12 March 2021"  # stops at </s>


def test_make_batch_pads_and_shifts():
    pairs = [("1 May 2000", "2000-05-01"), ("Friday, 12 March 2021", "2021-03-12")]
    b = S.make_batch(pairs, VOCAB)
    assert b.src.shape == (2, 21) and b.tgt_in.shape == b.tgt_out.shape == (2, 11)
    assert b.src_mask.sum(1).tolist() == [10, 21]
    assert (b.src[0, 10:] == VOCAB.pad_id).all()
    assert torch.equal(b.tgt_in[:, 1:], b.tgt_out[:, :-1])  # teacher forcing: input is the target shifted right
    assert (b.tgt_in[:, 0] == VOCAB.bos_id).all() and (b.tgt_out[:, -1] == VOCAB.eos_id).all()
    assert [VOCAB.decode(row) for row in b.src] == [s for s, _ in pairs]
    batches = list(S.iterate_batches(S.date_pairs(10), VOCAB, batch_size=4, seed=0))
    assert [len(x.src) for x in batches] == [4, 4, 2]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: S.date_pairs(0), "n must be a positive int"),
        (lambda: S.format_date(dt.date(2000, 1, 1), "iso"), "unknown date style"),
        (lambda: S.parse_date("the 5th of May"), "is not a date"),
        (lambda: VOCAB.encode("12 März 2021"), "not in the vocabulary"),
        (lambda: VOCAB.decode([99]), "outside the vocabulary"),
        (lambda: S.make_batch([], VOCAB), "at least one"),
        (lambda: S.make_batch(["12 May 2000"], VOCAB), r"\(source, target\)"),
        (lambda: S.train_test_split(S.date_pairs(10), 1.5), "test_fraction"),
    ],
)
def test_bad_data_input_is_explained(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


class _Oracle(torch.nn.Module):
    """Reads the answer off the input: position t >= L predicts input token 2L - 1 - t."""

    def forward(self, x, y=None):
        L = x.shape[1] // 2
        answer = x.clone()
        answer[:, L:] = x[:, :L].flip(1)
        return torch.nn.functional.one_hot(answer, 11).float(), None


def test_reversal_task_and_its_scoring():
    x, y = S.reversal_batch(4, length=5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert (x[:, 5] == 10).all() and (y[:, :5] == -100).all()  # separator; the prompt is not scored
    assert torch.equal(y[:, 5:], x[:, :5].flip(1))  # the scored targets are the reversed string
    assert torch.equal(x[:, 6:], x[:, 1:5].flip(1))  # teacher forcing: inputs are targets shifted right
    assert S.reversal_accuracy(_Oracle()) == (1.0, 1.0)
    always_zero = _Oracle()
    always_zero.forward = lambda x, y=None: (torch.zeros(*x.shape, 11), None)
    token_acc, seq_acc = S.reversal_accuracy(always_zero)
    assert 0.05 < token_acc < 0.15 and seq_acc < 0.01  # always answering symbol 0: chance level


def test_train_on_reversal_reduces_the_loss_of_a_gpt():
    from lmtutor.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, d_model=32))
    losses = S.train_on_reversal(model, steps=60, lr=3e-3)
    assert len(losses) == 60 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.2
    with pytest.raises(ValueError, match="n_symbols >= 2"):
        S.reversal_batch(4, n_symbols=1)


# --- the model ----------------------------------------------------------------------------------


def _batch(n=3, seed=0):
    return S.make_batch(S.date_pairs(n, seed=seed), VOCAB)


def test_shapes_of_encoder_decoder_and_loss_at_init():
    model = EncoderDecoder(CFG).eval()
    b = _batch()
    memory = model.encode(b.src, b.src_mask)
    assert memory.shape == (3, b.src.shape[1], 32)
    logits, loss = model(b.src, b.tgt_in, b.src_mask, b.tgt_out)
    assert logits.shape == (3, b.tgt_in.shape[1], len(VOCAB))
    assert abs(loss.item() - torch.log(torch.tensor(float(len(VOCAB)))).item()) < 0.1


def test_decoder_is_causal():
    model = EncoderDecoder(CFG).eval()
    b = _batch()
    changed = b.tgt_in.clone()
    changed[:, 6:] = VOCAB.stoi["9"]
    a, _ = model(b.src, b.tgt_in, b.src_mask)
    c, _ = model(b.src, changed, b.src_mask)
    assert torch.allclose(a[:, :6], c[:, :6], atol=1e-5)
    assert not torch.allclose(a[:, 6:], c[:, 6:])


def test_source_padding_changes_nothing():
    model = EncoderDecoder(CFG).eval()
    pairs = [("7 June 1999", "1999-06-07")]
    b = S.make_batch(pairs, VOCAB)
    padded_src = torch.cat([b.src, torch.full((1, 9), VOCAB.pad_id)], dim=1)  # 9 extra <pad>
    a, _ = model(b.src, b.tgt_in)
    c, _ = model(padded_src, b.tgt_in)  # mask derived from <pad>
    assert torch.allclose(a, c, atol=1e-5)
    wrong, _ = model(padded_src, b.tgt_in, src_mask=torch.ones_like(padded_src, dtype=torch.bool))
    assert not torch.allclose(a, wrong, atol=1e-3)  # attending to padding would change the result


def test_cross_attention_rows_sum_to_one_and_skip_padding():
    model = EncoderDecoder(CFG).eval()
    b = _batch(4)
    maps = model.cross_attention_maps(b.src, b.tgt_in, b.src_mask)
    L, B, H, T, Ssrc = maps.shape
    assert (L, B, H, T, Ssrc) == (2, 4, 4, b.tgt_in.shape[1], b.src.shape[1])
    assert torch.allclose(maps.sum(-1), torch.ones(L, B, H, T), atol=1e-5)
    pad = ~b.src_mask[None, :, None, None, :].expand_as(maps)
    assert maps[pad].abs().max() == 0


def test_decoder_self_mask_combines_causal_and_padding():
    tgt_mask = torch.tensor([[True, True, True], [True, True, False]])
    m = decoder_self_mask(tgt_mask)
    assert m.shape == (2, 1, 3, 3)
    assert torch.equal(m[0, 0], torch.ones(3, 3, dtype=torch.bool).tril())
    assert m[1, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    model = EncoderDecoder(CFG).eval()
    b = _batch(1)
    full, _ = model.decode(b.tgt_in, model.encode(b.src, b.src_mask), b.src_mask)
    masked, _ = model.decode(
        b.tgt_in, model.encode(b.src, b.src_mask), b.src_mask, tgt_mask=torch.ones_like(b.tgt_in, dtype=torch.bool)
    )
    assert torch.allclose(full, masked, atol=1e-6)  # an all-real target mask is the plain causal mask
    no_mask, _ = model.decode(b.tgt_in, model.encode(b.src))  # a single unpadded source: nothing to hide
    assert torch.allclose(full, no_mask, atol=1e-6)


def test_decoder_block_shapes_and_weights():
    block = DecoderBlock(16, 2).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    out, (self_w, cross_w) = block(x, memory, need_weights=True)
    assert out.shape == (2, 5, 16) and self_w.shape == (2, 2, 5, 5) and cross_w.shape == (2, 2, 5, 7)
    assert torch.equal(self_w.triu(1), torch.zeros_like(self_w))  # masked self-attention looks back only
    assert isinstance(block.cross_attn, MultiHeadAttention)


@pytest.mark.parametrize("prenorm", [True, False])
def test_parameter_count_by_formula(prenorm):
    D, F, V = 32, 128, len(VOCAB)
    attn = 4 * D * D + 4 * D
    ffn = 2 * D * F + F + D
    enc_block, dec_block = attn + ffn + 2 * 2 * D, 2 * attn + ffn + 3 * 2 * D
    assert sum(p.numel() for p in Block(D, 4, F, causal=False).parameters()) == enc_block
    assert sum(p.numel() for p in DecoderBlock(D, 4, F).parameters()) == dec_block
    cfg = Seq2SeqConfig(V, max_len=32, d_model=D, n_head=4, prenorm=prenorm)
    final_norms = 2 * 2 * D if prenorm else 0
    expected = 2 * V * D + 2 * enc_block + 2 * dec_block + final_norms  # sinusoidal positions: no parameters
    assert sum(p.numel() for p in EncoderDecoder(cfg).parameters()) == expected
    learned = EncoderDecoder(Seq2SeqConfig(V, max_len=32, d_model=D, n_head=4, pos_encoding="learned"))
    assert sum(p.numel() for p in learned.parameters()) == 2 * V * D + 32 * D + 2 * enc_block + 2 * dec_block + 4 * D


def test_greedy_decode_shapes_and_end_tokens():
    model = EncoderDecoder(CFG).eval()
    b = _batch(5)
    out = model.generate(b.src, b.src_mask, max_new_tokens=12)
    assert out.shape[0] == 5 and 1 <= out.shape[1] <= 12 and out.dtype == torch.long
    for row in out.tolist():  # after the first </s> only <pad>
        if VOCAB.eos_id in row:
            assert set(row[row.index(VOCAB.eos_id) + 1 :]) <= {VOCAB.pad_id}
    assert len(translate_fn(model, VOCAB, ["1 May 2000", "Mar 3 1999"])) == 2


def test_short_training_reduces_loss_and_learns_the_format():
    torch.manual_seed(0)
    train, test = S.train_test_split(S.date_pairs(2000, seed=0), 0.1, seed=0)
    model = EncoderDecoder(CFG)
    cfg = TrainConfig(max_steps=100, batch_size=32, lr=3e-3, warmup_steps=20, seed=0)
    history = train_seq2seq(model, train, VOCAB, cfg, device="cpu")
    first, last = sum(history["loss"][:10]) / 10, sum(history["loss"][-10:]) / 10
    assert last < 0.5 * first, (first, last)
    predictions = translate_fn(model, VOCAB, [s for s, _ in test[:50]])
    # after 100 steps the model writes the target alphabet and the century; an untrained one does not
    century = sum(re.fullmatch(r"(19|20)[0-9-]*", p) is not None for p in predictions)
    assert century >= 45, predictions[:5]
    assert 0.0 <= exact_match(model, VOCAB, test[:20]) <= 1.0


def test_post_ln_model_runs_and_differs_from_pre_ln():
    torch.manual_seed(0)
    post = EncoderDecoder(Seq2SeqConfig(len(VOCAB), max_len=32, d_model=32, n_head=4, prenorm=False)).eval()
    torch.manual_seed(0)
    pre = EncoderDecoder(Seq2SeqConfig(len(VOCAB), max_len=32, d_model=32, n_head=4)).eval()
    b = _batch()
    assert not torch.allclose(post(b.src, b.tgt_in)[0], pre(b.src, b.tgt_in)[0])
    assert isinstance(post.enc_norm, torch.nn.Identity)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m(torch.zeros(5, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)), r"\(B, T\) tensor"),
        (lambda m: m(torch.zeros(1, 40, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)), "1 to 32"),
        (lambda m: m(torch.full((1, 4), 99), torch.zeros(1, 3, dtype=torch.long)), "outside"),
        (lambda m: m.encode(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 5, dtype=torch.bool)), "src_mask"),
        (
            lambda m: m(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 3, dtype=torch.long), None, torch.ones(2, 4)),
            "targets",
        ),
        (lambda m: m.generate(torch.ones(1, 4, dtype=torch.long), max_new_tokens=0), "max_new_tokens"),
        (lambda m: translate_fn(m, VOCAB, "1 May 2000"), "list of strings"),
        (lambda m: decoder_self_mask(torch.ones(3, dtype=torch.bool)), r"\(B, T\)"),
        (lambda m: Seq2SeqConfig(10, d_model=30, n_head=4), "divisible"),
        (lambda m: Seq2SeqConfig(10, pos_encoding="rope"), "pos_encoding"),
    ],
)
def test_bad_model_input_is_explained(call, message):
    model = EncoderDecoder(CFG)
    with pytest.raises((ValueError, TypeError), match=message):
        call(model)


def test_exercise_references_agree_with_the_package():
    from lmtutor.exercises import positional as P
    from lmtutor.exercises import transformer as X
    from lmtutor.positional import RotaryEmbedding, sinusoidal_encoding

    assert torch.allclose(P.sinusoidal_table(30, 12), sinusoidal_encoding(30, 12), atol=1e-6)
    x = torch.randn(10, 8)
    rotated = RotaryEmbedding(8, 10)(x[None, None])[0, 0]  # (T, Dh), row m rotated by position m
    assert all(torch.allclose(P.rope_rotate(x[m], m), rotated[m], atol=1e-5) for m in range(10))
    tgt_mask = torch.tensor([[True, True, False], [True, True, True]])
    assert torch.equal(X.decoder_mask(tgt_mask), decoder_self_mask(tgt_mask))
    for d, d_ff in ((64, None), (512, 2048), (32, 100)):
        width = d_ff or 4 * d
        assert X.block_parameters(d, d_ff) == sum(p.numel() for p in Block(d, 4, width, causal=False).parameters())
        decoder_count = sum(p.numel() for p in DecoderBlock(d, 4, width).parameters())
        assert X.block_parameters(d, d_ff, decoder=True) == decoder_count
