"""Tests of lmtutor.finetune (chapter 12): the datasets (offline and online branch), baselines, classifier, LoRA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lmtutor as lt
from lmtutor import finetune as ft


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_book_dataset_splits_and_description(offline):
    data, desc = ft.sentiment_dataset(n_train=64, n_val=20, n_test=30)
    assert {k: len(v) for k, v in data.items()} == {"train": 64, "validation": 20, "test": 30}
    assert data["train"].features["label"].names == ["negative", "positive"]
    assert "offline fallback" in desc and "64 train / 20 validation / 30 test" in desc
    train = set(data["train"]["sentence"])
    assert not train & set(data["test"]["sentence"]) and not train & set(data["validation"]["sentence"])
    assert sorted(set(data["test"]["label"])) == [0, 1]
    _, chosen = ft.sentiment_dataset(n_train=8, n_val=4, n_test=4, source="book")
    assert "chosen with source='book'" in chosen


def test_book_dataset_is_deterministic(offline):
    a, _ = ft.sentiment_dataset(n_train=16, n_val=4, n_test=8)
    b, _ = ft.sentiment_dataset(n_train=16, n_val=4, n_test=8)
    assert a["train"]["sentence"] == b["train"]["sentence"] and a["test"]["sentence"] == b["test"]["sentence"]


def test_online_branch_uses_sst2(monkeypatch):
    """The hub branch with datasets.load_dataset replaced by a small SST-2-shaped DatasetDict."""
    import datasets

    def fake_sst2(name):
        assert name == ft.SST2_NAME
        split = lambda n: datasets.Dataset.from_dict(  # noqa: E731
            {"idx": list(range(n)), "sentence": [f"review {i}" for i in range(n)], "label": [i % 2 for i in range(n)]}
        )
        return datasets.DatasetDict(train=split(50), validation=split(12), test=split(12))

    monkeypatch.setattr(lt.hub, "hub_available", lambda *a, **k: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_sst2)
    data, desc = ft.sentiment_dataset(n_train=20, n_val=5, n_test=100)
    assert desc.startswith("dataset: SST-2") and "hub" in desc
    assert {k: len(v) for k, v in data.items()} == {"train": 20, "validation": 5, "test": 12}
    assert data["train"].column_names == ["sentence", "label"]
    assert not set(data["train"]["sentence"]) & set(data["validation"]["sentence"])
    with pytest.raises(ValueError, match="fewer than n_train"):
        ft.sentiment_dataset(n_train=48, n_val=5)

    def not_served(name):
        raise datasets.exceptions.DatasetNotFoundError(f"Dataset '{name}' doesn't exist on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", not_served)
    data, desc = ft.sentiment_dataset(n_train=20, n_val=5, n_test=10)
    assert "the book's generated review sentences" in desc
    assert "fallback: SST-2 could not be loaded from the hub (DatasetNotFoundError)" in desc
    assert {k: len(v) for k, v in data.items()} == {"train": 20, "validation": 5, "test": 10}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_train": 1}, "n_train must be an integer >= 2"),
        ({"n_test": 0}, "n_test must be an integer >= 2"),
        ({"source": "hub"}, "source must be 'auto'"),
    ],
)
def test_dataset_bad_input(offline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ft.sentiment_dataset(**kwargs)


def test_accuracy_and_compute_metrics():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.2, 0.1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 1])
    assert ft.accuracy(logits, labels) == pytest.approx(0.5)
    assert ft.compute_metrics((logits, labels)) == {"accuracy": pytest.approx(0.5)}
    with pytest.raises(ValueError, match=r"logits \(N, C\) and labels \(N,\)"):
        ft.accuracy(logits, labels[:3])


def test_baselines():
    assert ft.majority_baseline([1, 1, 0], [1, 0, 0, 0]) == 0.25
    train = [("good great fine", 1), ("bad awful", 0), ("great fun", 1), ("awful dull", 0)]
    assert ft.bow_baseline(train, [("great", 1), ("dull bad", 0)]) == 1.0
    with pytest.raises(ValueError, match="non-empty"):
        ft.bow_baseline([], train)
    with pytest.raises(ValueError, match="non-empty"):
        ft.majority_baseline([], [1])


def _tiny_mlm():
    return lt.mlm.MaskedLM(lt.GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, d_model=16, d_ff=32))


def _toy_data(n=32):
    """Class 1 sequences contain token 5, class 0 ones token 6; length 4..7 with padding."""
    gen = torch.Generator().manual_seed(0)
    ids, mask = torch.zeros(n, 8, dtype=torch.long), torch.zeros(n, 8, dtype=torch.long)
    labels = torch.arange(n) % 2
    for i in range(n):
        length = int(torch.randint(4, 8, (1,), generator=gen))
        ids[i, :length] = torch.randint(1, 5, (length,), generator=gen)
        ids[i, 1] = 5 if labels[i] else 6
        mask[i, :length] = 1
    return ids, mask, labels


def test_encoder_classifier_learns_a_toy_task():
    torch.manual_seed(0)
    model = ft.EncoderClassifier(_tiny_mlm(), 16)
    ids, mask, labels = _toy_data()
    assert model(ids, mask).shape == (32, 2)
    seconds = ft.fit_classifier(model, ids, mask, labels, steps=60, lr=3e-3, batch_size=8)
    assert seconds > 0 and ft.evaluate(model, ids, mask, labels) == 1.0


def test_encoder_classifier_with_a_bert_model():
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=12, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = ft.EncoderClassifier(BertModel(config), 16)
    ids, mask, _ = _toy_data(4)
    assert model(ids, mask).shape == (4, 2)


def test_fit_classifier_bad_input():
    model = ft.EncoderClassifier(_tiny_mlm(), 16)
    ids, mask, labels = _toy_data(8)
    with pytest.raises(ValueError, match="same length"):
        ft.fit_classifier(model, ids, mask, labels[:5], steps=1, lr=1e-3)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="unfreeze at least the head"):
        ft.fit_classifier(model, ids, mask, labels, steps=1, lr=1e-3)


def test_learning_curve_rows_and_bad_sizes():
    data = _toy_data(16)
    rows = ft.learning_curve(lambda: ft.EncoderClassifier(_tiny_mlm(), 16), data, data, [4, 8], seeds=(0, 1),
                             lr=1e-3, min_steps=2)  # fmt: skip
    assert [(r["n"], r["seed"]) for r in rows] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    with pytest.raises(ValueError, match="only 16 training examples"):
        ft.learning_curve(lambda: None, data, data, [32])


def test_encode_texts_char_tokenizer_and_bad_input():
    tok = lt.mlm.MLMTokenizer(sorted(set("abc .")))
    ids, mask = ft.encode_texts(tok, ["abc", "a"], max_length=8)
    assert ids.shape == mask.shape == (2, 3)
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]] and ids[1, 1] == tok.pad_id
    with pytest.raises(ValueError, match="not a single string"):
        ft.encode_texts(tok, "abc")


def test_encode_texts_hf_tokenizer():
    tokenizer, _ = lt.pretrained.load_minilm()
    ids, mask = ft.encode_texts(tokenizer, ["a fine day", "bad"], max_length=16)
    assert ids.shape == mask.shape and ids[0, 0] == tokenizer.cls_token_id and mask[1].sum() == 3


def test_lora_forward_matches_peft():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(6, 5))
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=8, target_modules=["0"], lora_dropout=0.0))
    layer = model.base_model.model[0]
    nn.init.normal_(layer.lora_B["default"].weight)  # peft starts B at 0: make the update visible
    x = torch.randn(3, 6)
    with torch.no_grad():
        ours = ft.lora_forward(x, layer.base_layer.weight, layer.base_layer.bias, layer.lora_A["default"].weight,
                               layer.lora_B["default"].weight, alpha=8)  # fmt: skip
        assert torch.allclose(ours, layer(x), atol=1e-6)
    trainable, total = ft.trainable_parameters(model)
    assert trainable == 2 * 6 + 5 * 2 and total == 6 * 5 + 5 + trainable


def test_lora_forward_bad_shapes():
    with pytest.raises(ValueError, match=r"A \(r, d_in\) and B \(d_out, r\)"):
        ft.lora_forward(torch.randn(2, 4), torch.randn(3, 4), None, torch.randn(2, 4), torch.randn(2, 3), 4.0)
