"""lmtutor.offline: the book's 🤗 checkpoints load with from_pretrained, tokenizers round-trip, writes are atomic."""

import re

import pytest
import torch

import lmtutor as lt
from lmtutor import offline
from lmtutor.offline import data as D
from lmtutor.offline.encoders import best_span, exact_match, qa_features, token_f1
from lmtutor.offline.gpt2 import export_gpt2
from lmtutor.offline.tok import gpt_char_tokenizer, seq2seq_bpe_tokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LMTUTOR_CACHE_DIR", str(tmp_path))
    return tmp_path / "hf"


def test_exported_gpt2_loads_with_from_pretrained_and_matches_our_logits(tmp_path):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    tok = lt.CharTokenizer.from_text(TEXT)
    model = lt.GPT(lt.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, d_model=16)).eval()
    export_gpt2(model, tok, tmp_path / "gpt")
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "gpt").eval()
    hf_tok = AutoTokenizer.from_pretrained(tmp_path / "gpt")
    inputs = hf_tok("Before we proceed,\nhear me", return_tensors="pt")
    assert inputs["input_ids"][0].tolist() == tok.encode("Before we proceed,\nhear me")
    with torch.no_grad():
        assert torch.allclose(hf(**inputs).logits, model(inputs["input_ids"])[0], atol=1e-5)
    out = hf.generate(**inputs, max_new_tokens=6, do_sample=False)  # no end token: all 6 are generated
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6
    assert hf_tok.decode(out[0]) == tok.decode(out[0])


def test_export_refuses_a_tokenizer_of_another_size(tmp_path):
    model = lt.GPT(lt.GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, d_model=8))
    with pytest.raises(ValueError, match="export the tokenizer the model was trained with"):
        export_gpt2(model, lt.CharTokenizer.from_text(TEXT), tmp_path / "gpt")


def test_char_tokenizer_round_trips_and_keeps_our_ids(tmp_path):
    from transformers import AutoTokenizer

    chars = lt.CharTokenizer.from_text(TEXT)
    gpt_char_tokenizer(chars.chars).save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    for text in (TEXT, "  hear  me \n\n", "a"):
        ids = tok(text)["input_ids"]
        assert ids == chars.encode(text)
        assert tok.decode(ids) == text


def test_seq2seq_tokenizer_appends_eos_and_skips_special_tokens():
    pairs = D.summary_pairs(200) + [("12 March 2021", "2021-03-12")]
    tok = seq2seq_bpe_tokenizer([t for p in pairs for t in p])
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]
    ids = tok("12 March 2021")["input_ids"]
    assert ids[-1] == tok.eos_token_id == 1
    assert tok.decode(ids, skip_special_tokens=True) == "12 March 2021"
    assert tok.decode([0, *ids]) == "<pad> 12 March 2021</s>"  # what decode without skip_special_tokens shows
    assert [t for t in tok.convert_ids_to_tokens(tok("2021")["input_ids"]) if t.strip("▁")][:4] == list("2021")
    assert tok.decode(tok("Zebras won")["input_ids"], skip_special_tokens=True) == "Zebras won"  # unseen word


def test_atomic_folder_leaves_nothing_behind_on_failure(tmp_path):
    final = tmp_path / "model"
    with pytest.raises(RuntimeError, match="training crashed"):
        with offline.atomic_folder(final) as tmp:
            (tmp / "config.json").write_text("{}")
            raise RuntimeError("training crashed")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder either


def test_cached_or_build_builds_once(tmp_path):
    calls = []

    def make(tmp):
        calls.append(tmp)
        (tmp / "weights.bin").write_bytes(b"\0")
        return {"description": "a test model", "metrics": {"accuracy": 0.5, "n_test": 4}, "examples": ["x"]}

    first = offline.cached_or_build("demo", tmp_path / "demo", make)
    second = offline.cached_or_build("demo", tmp_path / "demo", make)
    assert len(calls) == 1 and (tmp_path / "demo" / "weights.bin").exists()
    assert first.quality() == second.quality() == "accuracy 50% on 4 held-out examples"


def test_tiny_seq2seq_builders_give_loadable_checkpoints(cache):
    from transformers import AutoTokenizer, MarianMTModel, T5ForConditionalGeneration

    for built, cls in ((offline.build("t5-tasks", steps=2), T5ForConditionalGeneration),
                       (offline.build("marian-dates", steps=2), MarianMTModel)):  # fmt: skip
        assert built.path.parent == cache and built.path.name.endswith("-2")
        tokenizer, model = AutoTokenizer.from_pretrained(built.path), cls.from_pretrained(built.path)
        inputs = tokenizer(built.examples[:2], padding=True, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=5)
        assert out.shape[0] == 2 and (out[:, 0] == model.config.decoder_start_token_id).all()
        assert 0.0 <= min(v for k, v in built.metrics.items() if k.endswith("match")) <= 1.0
    assert offline.build("t5-tasks", steps=2).examples[0].startswith("translate date to ISO: ")


def test_tiny_encoder_builders_give_loadable_checkpoints(cache):
    from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoTokenizer

    sentiment = offline.build("minilm-sentiment", epochs=1, n_train=16)
    model = AutoModelForSequenceClassification.from_pretrained(sentiment.path)
    assert model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    qa = offline.build("minilm-qa", steps=2)
    tokenizer, model = AutoTokenizer.from_pretrained(qa.path), AutoModelForQuestionAnswering.from_pretrained(qa.path)
    answer, _ = lt.offline.encoders.answer_question(model, tokenizer, **qa.examples[0])
    assert answer in qa.examples[0]["context"]
    assert set(qa.metrics) >= {"exact_match", "f1", "n_test", "steps"}


def test_qa_features_point_at_the_answer_tokens():
    from lmtutor.pretrained import load_minilm

    tokenizer, _ = load_minilm()
    train, _ = D.qa_examples(n_train=200, n_test=1)
    features = qa_features(tokenizer, train)
    for i, e in enumerate(train):
        span = features["input_ids"][i, features["start_positions"][i] : features["end_positions"][i] + 1]
        assert tokenizer.decode(span) == e["answer"].lower()  # MiniLM's vocabulary is lower case


def test_book_sets_hold_out_unseen_words():
    train, test = D.sentiment_examples()
    assert len(train) == 400 and len(test) == 120 and sum(y for _, y in test) == 60
    assert D.sentiment_examples() == (train, test)  # deterministic
    assert not {s.split(" was ")[0] for s, _ in test} & {s.split(" was ")[0] for s, _ in train}
    qa_train, qa_test = D.qa_examples()
    answers = {e["answer"] for e in qa_train}
    test_names = {e["answer"] for e in qa_test if re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", e["answer"])}
    assert test_names and not test_names & answers  # people in the test set never appear in training
    for e in qa_train + qa_test:
        assert e["context"][e["answer_start"] :].startswith(e["answer"])


def test_best_span_and_squad_metrics():
    start = torch.tensor([0.0, 5.0, 1.0, 0.0, 9.0])
    end = torch.tensor([0.0, 0.0, 4.0, 9.0, 0.0])
    allowed = torch.tensor([False, True, True, True, True])
    assert best_span(start, end, allowed) == (1, 3)  # (4, 3) scores more but ends before it starts
    assert best_span(start, end, allowed, max_answer_len=2) == (2, 3)  # at most 2 tokens long
    with pytest.raises(ValueError, match="no token is allowed"):
        best_span(start, end, torch.zeros(5, dtype=torch.bool))
    assert exact_match("The Lisbon.", "lisbon") == 1.0 and exact_match("Porto", "Lisbon") == 0.0
    assert token_f1("120 metres tall", "120 metres") == pytest.approx(0.8)
