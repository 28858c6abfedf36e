"""Masked LM (chapter 10): BERT's 80/10/10 masking, the bidirectional encoder, span corruption, the cached run."""

import math

import pytest
import torch

from lmtutor import mlm
from lmtutor.transformer import GPTConfig

TINY = GPTConfig(vocab_size=12, block_size=16, n_layer=2, n_head=2, d_model=16)


def test_mask_rates_within_sampling_error():
    ids = torch.randint(3, 1000, (200, 100))
    inputs, labels = mlm.mask_tokens(ids, mask_id=1, vocab_size=1000, generator=torch.Generator().manual_seed(0))
    sel = labels != mlm.IGNORE
    n, k = ids.numel(), int(sel.sum())
    assert abs(k / n - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n)
    masked = (inputs[sel] == 1).float().mean().item()
    kept = (inputs[sel] == ids[sel]).float().mean().item()
    assert abs(masked - 0.8) < 4 * math.sqrt(0.8 * 0.2 / k)
    assert abs(kept - 0.1) < 4 * math.sqrt(0.1 * 0.9 / k)
    assert torch.equal(labels[sel], ids[sel])  # labels are the original ids
    assert torch.equal(inputs[~sel], ids[~sel])  # nothing else changes


def test_specials_never_masked_and_generator_repeats():
    ids = torch.tensor([[0, 5, 6, 7, 2] * 20])
    a = mlm.mask_tokens(ids, 1, 10, p=1.0, special_ids=(0, 2), generator=torch.Generator().manual_seed(3))
    b = mlm.mask_tokens(ids, 1, 10, p=1.0, special_ids=(0, 2), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    special = (ids == 0) | (ids == 2)
    assert (a[1][special] == mlm.IGNORE).all() and (a[1][~special] != mlm.IGNORE).all()
    assert torch.equal(a[0][special], ids[special])
    none_in, none_lab = mlm.mask_tokens(ids, 1, 10, p=0.0)
    assert torch.equal(none_in, ids) and (none_lab == mlm.IGNORE).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ids": torch.rand(2, 3)}, TypeError, "integer token ids"),
        ({"ids": torch.tensor([[1, 20]])}, ValueError, "vocab_size=10"),
        ({"p": 15}, ValueError, "in [0, 1]"),
        ({"mask_id": 10}, ValueError, "tokenizer.mask_id"),
    ],
)
def test_mask_tokens_bad_input(kwargs, error, message):
    args = {"ids": torch.tensor([[1, 2, 3]]), "mask_id": 1, "vocab_size": 10, **kwargs}
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        mlm.mask_tokens(**args)


def test_masked_lm_shapes_and_loss_ignores_unselected():
    model = mlm.MaskedLM(TINY)
    idx = torch.randint(0, 12, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 12) and loss is None
    assert model.encode(idx).shape == (3, 10, 16)
    labels = torch.full_like(idx, mlm.IGNORE)
    labels[0, 2] = idx[0, 2]
    _, loss = model(idx, labels)
    expected = torch.nn.functional.cross_entropy(logits[0, 2][None], idx[0, 2][None])
    assert torch.allclose(loss, expected, atol=1e-6)
    assert model(idx, torch.full_like(idx, mlm.IGNORE))[1].item() == 0.0


def test_bidirectional_and_padding_respected():
    model = mlm.MaskedLM(TINY).eval()
    idx = torch.randint(0, 12, (1, 8))
    later = idx.clone()
    later[0, -1] = (idx[0, -1] + 1) % 12
    assert not torch.allclose(model.encode(idx)[0, 0], model.encode(later)[0, 0])  # position 0 sees the future
    mask = torch.tensor([[1] * 6 + [0] * 2])
    out = model.encode(idx, mask)
    out_other_pad = model.encode(later, mask)  # only a padded position changed
    assert torch.allclose(out[0, :6], out_other_pad[0, :6], atol=1e-6)
    assert torch.allclose(out[0, :6], model.encode(idx[:, :6])[0], atol=1e-5)  # same as no padding at all


def test_masked_lm_bad_input():
    model = mlm.MaskedLM(TINY)
    with pytest.raises(ValueError, match="idx must have shape"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="exceed block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask must have the shape"):
        model(torch.zeros(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 5))
    with pytest.raises(ValueError, match="targets must be integer ids"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4))
    with pytest.raises(TypeError, match="needs a GPTConfig"):
        mlm.MaskedLM({"vocab_size": 12})


def test_tokenizer_specials_and_padding():
    tok = mlm.MLMTokenizer("abc ")
    assert (tok.pad_id, tok.mask_id, tok.cls_id, tok.vocab_size) == (4, 5, 6, 7)
    assert tok.encode("ab", add_cls=True) == [6, 0, 1]
    assert tok.decode([6, 0, 5, 4]) == "[CLS]a[MASK][PAD]" and tok.decode([6, 0, 4], skip_special=True) == "a"
    ids, mask = tok(["ab", "c"])
    assert ids.tolist() == [[6, 0, 1], [6, 2, 4]] and mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="longer than length=1"):
        tok.pad([[1, 2]], length=1)
    with pytest.raises(TypeError, match="list of id lists"):
        tok.pad([1, 2])


def test_span_corruption():
    inputs, targets = mlm.span_corrupt([1, 2, 3, 4, 5], [0, 1, 1, 0, 1], [100, 101, 102])
    assert inputs == [1, 100, 4, 101] and targets == [100, 2, 3, 101, 5, 102]
    noise = mlm.random_span_mask(100, 0.15, 3.0, torch.Generator().manual_seed(0))
    assert noise.shape == (100,) and int(noise.sum()) == 15
    with pytest.raises(ValueError, match="more sentinels"):
        mlm.span_corrupt([1, 2, 3], [1, 0, 1], [100])
    with pytest.raises(ValueError, match="same length"):
        mlm.span_corrupt([1, 2], [1], [100])


def test_nsp_pairs():
    sents = [f"s{i}" for i in range(10)]
    pairs = mlm.nsp_pairs(sents, torch.Generator().manual_seed(0))
    assert len(pairs) == 9
    for i, (a, b, label) in enumerate(pairs):
        assert a == sents[i] and (b == sents[i + 1]) == (label == 1) and b != a
    with pytest.raises(ValueError, match="at least 3"):
        mlm.nsp_pairs(["a", "b"])


def test_shakespeare_mlm_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("LMTUTOR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LMTUTOR_FAST", "1")
    model, tok = mlm.shakespeare_mlm(steps=3, device="cpu")
    path = mlm.mlm_checkpoint_path("nano", 3)
    assert path.exists() and path.parent == tmp_path
    again, _ = mlm.shakespeare_mlm(steps=3, device="cpu")  # loaded, not trained again
    assert again.history == model.history
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert tok.vocab_size == model.config.vocab_size == 68 and not model.training


def test_shakespeare_mlm_bad_steps():
    with pytest.raises(ValueError, match="steps must be a positive int"):
        mlm.shakespeare_mlm(steps=0)
    with pytest.raises(ValueError, match="unknown training preset 'huge'"):
        mlm.shakespeare_mlm(preset="huge")


def test_rotary_masked_lm_is_bidirectional():
    model = mlm.MaskedLM(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, d_model=16, pos_encoding="rope"))
    idx = torch.randint(0, 12, (2, 6))
    later = idx.clone()
    later[:, -1] = (idx[:, -1] + 1) % 12
    assert model.pos_emb is None and model.rope is not None
    assert not torch.allclose(model.encode(idx)[:, 0], model.encode(later)[:, 0])
