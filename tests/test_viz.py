"""lmtutor.viz: attention extraction (🤗 and lmtutor models), readable tokens, analysis, static and HTML views."""

from __future__ import annotations

import base64
import json
import math
import re

import matplotlib.pyplot as plt
import pytest
import torch

import lmtutor as lt
from lmtutor.viz import (
    AttentionData,
    attention_data,
    attention_from_hf,
    attention_from_lmtutor,
    attention_rollout,
    head_summary,
    head_view,
    model_view,
    readable_tokens,
)
from lmtutor.viz.tokens import token_info

SENTENCE = "The cat sat on the mat because it was unbelievably tired."


def random_attention(*shape: int) -> torch.Tensor:
    return torch.randn(*shape).softmax(-1)


@pytest.fixture(scope="module")
def minilm():
    return lt.pretrained.load_minilm()


@pytest.fixture(scope="module")
def bpe_tokenizer():
    """A real byte-level BPE tokenizer (GPT-2's scheme: 'Ġ' marks a leading space), trained here."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    corpus = ["the cat sat on the mat", "unbelievable things happen", "tokenization of words\nand lines"] * 20
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)


def tiny_gpt(vocab_size: int) -> lt.GPT:
    lt.set_seed(0)
    return lt.GPT(lt.GPTConfig(vocab_size=vocab_size, block_size=32, n_layer=2, n_head=2, d_model=16)).eval()


# readable tokens


def test_wordpiece_continuations_are_marked_and_special_tokens_flagged():
    labels, special = token_info(["[CLS]", "un", "##believ", "##able", "!", "[SEP]"])
    assert labels == ["[CLS]", "un", "·believ", "·able", "!", "[SEP]"]
    assert special == [True, False, False, False, False, True]


def test_byte_level_bpe_markers_become_spaces_and_continuations(bpe_tokenizer):
    ids = bpe_tokenizer("the cat sat\nunbelievable")["input_ids"]
    raw = bpe_tokenizer.convert_ids_to_tokens(ids)
    assert any(t.startswith("Ġ") for t in raw), raw  # the scheme really is byte-level BPE
    labels = readable_tokens(raw)
    assert len(labels) == len(raw)
    assert not any("Ġ" in t or "Ċ" in t for t in labels)
    assert "⏎" in "".join(labels)  # the newline stays visible
    assert "".join(t.replace("·", "") for t in labels).replace("⏎", "") == "thecatsatunbelievable"


def test_sentencepiece_and_characters():
    assert readable_tokens(["▁The", "▁un", "believ", "able", "</s>"]) == ["The", "un", "·believ", "·able", "</s>"]
    assert readable_tokens(list("a b\n\t")) == ["a", "␣", "b", "⏎", "⇥"]
    with pytest.raises(TypeError, match="list of strings"):
        readable_tokens("abc")
    with pytest.raises(ValueError, match="scheme must be one of"):
        readable_tokens(["a"], scheme="morse")


# extraction from 🤗 and lmtutor models


def test_minilm_extraction_shapes_normalisation_and_token_alignment(minilm):
    tokenizer, model = minilm
    data = attention_from_hf(model, tokenizer, SENTENCE)
    raw = tokenizer.convert_ids_to_tokens(tokenizer(SENTENCE)["input_ids"])
    L, H, T, T_k = data.shape
    assert (L, H) == (6, 12) and T == T_k == len(raw) == len(data.tokens)
    assert torch.allclose(data.attentions.sum(-1), torch.ones(L, H, T), atol=1e-5)
    assert data.tokens[0] == "[CLS]" and data.special[0] and data.special[-1]
    for r, t in zip(raw, data.tokens, strict=True):  # '##x' -> '·x', everything else unchanged
        assert t == ("·" + r[2:] if r.startswith("##") else r)
    assert any(t.startswith("·") for t in data.tokens), "the sentence should contain a WordPiece continuation"


def test_minilm_sentence_pair_marks_the_second_segment(minilm):
    tokenizer, model = minilm
    data = attention_from_hf(model, tokenizer, "The cat sat.", "It was tired.")
    first_sep = data.tokens.index("[SEP]")
    assert data.segment_b_start == first_sep + 1
    assert data.tokens[data.segment_b_start :] == ["it", "was", "tired", ".", "[SEP]"]


def test_non_eager_model_is_switched_for_the_call_and_restored(minilm):
    tokenizer, _ = minilm
    _, sdpa_model = lt.pretrained.load_minilm(attn_implementation="sdpa")
    data = attention_from_hf(sdpa_model, tokenizer, "short text")
    assert data.shape[:2] == (6, 12)
    assert sdpa_model.config._attn_implementation == "sdpa"


def test_long_input_is_truncated_to_the_model_limit(minilm):
    tokenizer, model = minilm
    data = attention_from_hf(model, tokenizer, "word " * 600)
    assert data.shape[-1] == 512 == len(data.tokens)


def test_lmtutor_gpt_extraction_is_causal_and_readable(shakespeare):
    tok = lt.CharTokenizer.from_text(shakespeare[:5000])
    model = tiny_gpt(tok.vocab_size)
    text = "First Citizen:\nBefore we"
    data = attention_from_lmtutor(model, text, tok)
    assert data.shape == (2, 2, len(text), len(text)) and data.kind == "decoder"
    assert torch.allclose(data.attentions.sum(-1), torch.ones(2, 2, len(text)), atol=1e-5)
    assert (data.attentions.triu(diagonal=1) == 0).all()
    assert data.tokens[5] == "␣" and data.tokens[14] == "⏎" and "".join(data.tokens[:5]) == "First"
    ids = torch.tensor(tok.encode(text))
    assert torch.equal(attention_from_lmtutor(model, ids[None], tok).attentions, data.attentions)


def test_hf_gpt2_path_equals_lmtutor_path_on_the_same_weights(bpe_tokenizer):
    model = tiny_gpt(len(bpe_tokenizer))
    hf_model = lt.hf.to_hf_gpt2(model)
    text = "the cat sat on the mat"
    from_hf = attention_from_hf(hf_model, bpe_tokenizer, text)
    ids = torch.tensor(bpe_tokenizer(text)["input_ids"])
    ours = attention_from_lmtutor(model, ids, bpe_tokenizer)
    assert from_hf.shape == ours.shape == (2, 2, len(ids), len(ids))
    assert from_hf.tokens == ours.tokens
    assert torch.allclose(from_hf.attentions, ours.attentions, atol=1e-5)


def test_encoder_decoder_model_gives_encoder_decoder_and_cross_attention(minilm):
    from transformers import BartConfig, BartForConditionalGeneration

    tokenizer, _ = minilm
    config = BartConfig(
        vocab_size=tokenizer.vocab_size,
        d_model=16,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.cls_token_id,
    )
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    data = attention_from_hf(model, tokenizer, "the cat sat", target="le chat")
    S, T = len(data.encoder.tokens), len(data.decoder.tokens)
    assert data.encoder.shape == (1, 2, S, S) and data.decoder.shape == (2, 2, T, T)
    assert data.cross.shape == (2, 2, T, S) and data.cross.keys == data.encoder.tokens
    assert (data.decoder.attentions.triu(diagonal=1) < 1e-6).all()
    for part in data.parts():
        assert torch.allclose(part.attentions.sum(-1), torch.ones(part.shape[:3]), atol=1e-5)
    view = head_view(data)
    assert [s["kind"] for s in view.config["sets"]] == ["encoder", "decoder", "cross"]
    fig = lt.viz.plot_seq2seq_attention(data)
    assert [ax.get_ylabel() for ax in fig.axes[:3]][2].startswith("target token (query)")
    plt.close(fig)
    with pytest.raises(ValueError, match="need target"):
        attention_from_hf(model, tokenizer, "the cat sat")


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((5, 5), (1, 1, 5, 5)), ((3, 5, 5), (1, 3, 5, 5)), ((2, 3, 4, 6), (2, 3, 4, 6)), ((2, 1, 3, 5, 5), (2, 3, 5, 5))],
)
def test_attention_data_accepts_every_rank(shape, expected):
    w = random_attention(*shape)
    data = attention_data(
        w, [f"t{i}" for i in range(shape[-2])], key_tokens=None if shape[-1] == shape[-2] else list("abcdef")
    )
    assert data.shape == expected


# analysis


def test_rollout_rows_sum_to_one_and_one_layer_without_residual_is_the_head_mean():
    attn = random_attention(4, 3, 7, 7)
    assert torch.allclose(attention_rollout(attn).sum(-1), torch.ones(7), atol=1e-5)
    one_layer = attn[:1]
    assert torch.allclose(attention_rollout(one_layer, residual=0.0), one_layer[0].mean(0), atol=1e-6)
    assert torch.allclose(AttentionData(attn, list("abcdefg")).rollout(), attention_rollout(attn))
    with pytest.raises(ValueError, match="residual must be in"):
        attention_rollout(attn, residual=1.0)


def test_head_summary_on_hand_made_maps():
    T = 6
    identity = torch.eye(T).expand(1, 2, T, T)
    uniform = torch.full((1, 1, T, T), 1.0 / T)
    previous = torch.zeros(1, 1, T, T)
    previous[0, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0
    previous[0, 0, 0, 0] = 1.0
    s_id, s_uni, s_prev = head_summary(identity), head_summary(uniform), head_summary(previous)
    assert torch.allclose(s_id["distance"], torch.zeros(1, 2)) and torch.allclose(s_id["entropy"], torch.zeros(1, 2))
    assert torch.allclose(s_id["self"], torch.ones(1, 2))
    assert math.isclose(s_uni["entropy"].item(), math.log(T), rel_tol=1e-5)
    assert math.isclose(s_uni["distance"].item(), (T * T - 1) / (3 * T), rel_tol=1e-5)  # mean |i - j|, uniform j
    assert math.isclose(s_prev["previous_token"].item(), 1.0, rel_tol=1e-6)


# HTML views


def decode_dense(entry: dict) -> torch.Tensor:
    raw = base64.urlsafe_b64decode(entry["w"])
    return (
        torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().view(entry["L"], entry["H"], entry["Tq"], -1) / 255
    )


def decode_sparse_row_sums(entry: dict) -> torch.Tensor:
    """What the browser shows: top-k weights plus block sums of the rest, summed per query."""
    top = torch.frombuffer(bytearray(base64.urlsafe_b64decode(entry["w"])), dtype=torch.uint8).float()
    rest = torch.frombuffer(bytearray(base64.urlsafe_b64decode(entry["rest"])), dtype=torch.uint8).float()
    rows = entry["L"] * entry["H"] * entry["Tq"]
    return (top.view(rows, -1).sum(-1) + rest.view(rows, -1).sum(-1)) / 255


def test_html_is_self_contained_and_embeds_its_data(minilm):
    tokenizer, model = minilm
    data = attention_from_hf(model, tokenizer, SENTENCE, "It slept.")
    view = head_view(data, layer=2, head=5)
    html = view.html()
    assert not re.search(r"https?://", html), "the view must not reference any URL (no CDN, no remote script)"
    assert "<script src" not in html and "<link" not in html
    assert "window.LmtAttn" in html and ".lmt-attn" in html  # the JavaScript and the CSS are inlined
    uid = re.search(r'id="(lmt-attn-[0-9a-f]+-\d+)"', html).group(1)
    payload = re.search(rf'<script type="application/json" id="{uid}-data">(.*?)</script>', html, re.S).group(1)
    config = json.loads(payload)
    first = config["sets"][0]
    assert first["q"] == data.tokens and first["segB"] == data.segment_b_start
    assert torch.allclose(decode_dense(first), data.attentions, atol=0.5 / 255 + 1e-6)  # 8-bit round trip
    assert config["layer"] == 2 and config["heads"] == [5]
    assert config["sets"][-1]["label"].startswith("rollout")
    assert uid not in head_view(data).html(), "every rendering gets its own DOM id"


def test_mimebundle_has_html_png_and_text_and_saves_a_page(tmp_path):
    view = model_view(random_attention(2, 3, 5, 5), tokens=list("abcde"))
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    page = view.save(tmp_path / "view.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "window.LmtAttn.mount" in page


def test_tokens_cannot_break_out_of_the_script_tag():
    view = head_view(random_attention(1, 1, 3, 3), tokens=["</script><b>x", "a", "b"])
    html = view.html()
    assert html.count("</script>") == 2  # the JSON block and the code block, nothing from the tokens


def test_long_input_is_compressed_and_says_so():
    T = 300
    attn = random_attention(2, 4, T, T)
    view = head_view(attn, tokens=[f"w{i}" for i in range(T)])
    entry = view.config["sets"][0]
    assert entry["k"] == 8 and entry["idx"] is not None and entry["block"] >= 4
    assert torch.allclose(decode_sparse_row_sums(entry), torch.ones(2 * 4 * T), atol=(8 + 20) * 0.5 / 255)
    notes = " ".join(view.config["notes"])
    assert "8 largest weights exactly" in notes and "flow as text" in notes
    assert len(json.dumps(view.config)) < 0.6 * 2 * 4 * T * T  # far less than one byte per weight


# static views


def test_heatmap_of_512_tokens_labels_a_readable_subset_and_marks_truncation():
    T = 512
    w = random_attention(T, T)
    tokens = [f"t{i}" for i in range(T)]
    ax = lt.viz.attention_heatmap(w, tokens)
    assert 0 < len(ax.get_xticks()) <= 48 and 0 < len(ax.get_yticks()) <= 48
    assert "every 11th labelled" in ax.get_xlabel()
    assert ax.figure.get_size_inches()[0] <= 10
    plt.close(ax.figure)
    ax = lt.viz.attention_heatmap(w, tokens, max_tokens=64)
    assert ax.images[0].get_array().shape == (64, 64) and "first 64 of 512" in ax.get_xlabel()
    plt.close(ax.figure)


def test_grid_and_summary_figures():
    attn = random_attention(2, 3, 40, 40)
    fig = lt.viz.attention_grid(AttentionData(attn, [str(i) for i in range(40)]))
    assert all(len(ax.get_xticklabels()) == 0 for ax in fig.axes) and "labels omitted" in fig._suptitle.get_text()
    assert fig.get_size_inches()[0] <= 10
    plt.close(fig)
    ax = lt.viz.plot_head_summary(attn)
    assert len(ax.collections) == 2 and "distance" in ax.get_xlabel() and "entropy" in ax.get_ylabel()
    plt.close(ax.figure)


# bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: attention_data(torch.rand(2, 2, 2, 2, 3, 3)), ValueError, "weights must be"),
        (lambda: head_view("not weights"), TypeError, "tensor or array of attention weights"),
        (lambda: attention_data(random_attention(2, 2, 3, 3, 3)), ValueError, "batch of 2; select one"),
        (lambda: attention_data(torch.rand(3, 3) * 5), ValueError, "must be probabilities"),
        (lambda: attention_data(random_attention(3, 3), ["a", "b"]), ValueError, "2 tokens for 3 query positions"),
        (lambda: AttentionData(random_attention(3, 3), ["a"] * 3), ValueError, r"\(L, H, T_q, T_k\)"),
        (
            lambda: head_view(AttentionData(random_attention(1, 1, 2, 2), ["a", "b"]), tokens=["a", "b"]),
            ValueError,
            "tokens are taken from the AttentionData",
        ),
        (lambda: head_view(random_attention(2, 2, 3, 3), layer=5), ValueError, "layer=5 is not one of the 2"),
        (lambda: head_view(random_attention(2, 2, 3, 3), top_k=0), ValueError, "must be >= 1"),
        (lambda: model_view(random_attention(2, 2, 3, 3), heads=[7]), ValueError, r"heads must be .* \[0, 2\)"),
        (lambda: attention_from_lmtutor(torch.nn.Linear(2, 2), [1, 2]), TypeError, "attention_maps"),
        (lambda: attention_from_lmtutor(tiny_gpt(5), torch.zeros(2, 3, dtype=torch.long)), ValueError, "one sequence"),
        (lambda: attention_from_hf(torch.nn.Linear(2, 2), None, "text"), TypeError, "🤗 transformers model"),
        (lambda: attention_from_hf(None, None, ""), ValueError, "non-empty string"),
        (lambda: lt.viz.attention_heatmap(torch.rand(3, 3), ["a"]), ValueError, "1 key labels for 3 key positions"),
        (lambda: lt.viz.plot_attention(torch.rand(3, 3)), TypeError, "takes AttentionData"),
        (
            lambda: AttentionData(random_attention(1, 1, 3, 3), list("abc"), kind="cross").rollout(),
            ValueError,
            "not defined for cross-attention",
        ),
    ],
)
def test_bad_input_gets_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


DOLLAR_TOKENS = ["$$", "price", "$", "5", "$x$", "\\"]  # "$$" is a real GPT-2 token


def test_dollar_tokens_draw_as_text_in_every_view():
    w = random_attention(2, 2, 6, 6)
    ax = lt.viz.attention_heatmap(w[0, 0], DOLLAR_TOKENS)
    ax.figure.canvas.draw()  # mathtext would raise here on "$$"
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == [r"\$\$", "price", r"\$"]
    plt.close(ax.figure)
    for view in (head_view(w, DOLLAR_TOKENS), model_view(w, DOLLAR_TOKENS)):
        assert view.png().startswith(b"\x89PNG")
        assert json.loads(re.search(r'application/json" id="[^"]+">(.*?)</script>', view.html(), re.S)[1])


def test_non_finite_attention_is_refused_not_written_as_nan():
    w = random_attention(1, 1, 3, 3)
    w[0, 0, 1] = float("nan")
    for make in (head_view, model_view):
        with pytest.raises(ValueError, match=r"NaN/inf weights \(first at layer 0, head 0, query 1, key 0\)"):
            make(w, ["a", "b", "c"])
    with pytest.raises(ValueError, match="NaN/inf values"):
        lt.viz.attention_heatmap(w[0, 0])


def test_head_tables_draws_one_annotated_table_per_statistic():
    stats = {"previous_token": torch.rand(2, 3), "cls": torch.rand(2, 3), "entropy": torch.rand(2, 3)}
    fig = lt.viz.head_tables(stats, ["previous_token", "cls", "entropy"], "three statistics", ncols=2)
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == ["previous token", "[CLS]", "entropy"]
    assert len(drawn[0].texts) == 6  # a value written on every (layer, head) cell
    assert fig._suptitle.get_text() == "three statistics"
    plt.close(fig)
    with pytest.raises(KeyError, match=r"no statistic 'sep'; the stats hold \['cls', 'entropy', 'previous_token'\]"):
        lt.viz.head_tables(stats, ["sep"], "missing")
