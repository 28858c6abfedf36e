"""BPE of chapter 2: lossless, equal to 🤗 tokenizers trained with the same settings, clear errors."""

import json

import pytest

from lmtutor.tokenization import PRETOKENIZE_PATTERN, BPETokenizer, byte_alphabet, merge_pair, pair_counts, pretokenize

CORPUS = (
    "the cat sat on the mat. the dog sat on the log!\n"
    "then the cat and the dog met; they sat together, and that was that.\n"
) * 3 + "a rather unusual sentence, with rarer words: zebra, quartz, jinx.\n"
HELD_OUT = "the cat met the dog on the mat, and then they sat."


def hf_bpe(text, vocab_size, byte_level=False, min_frequency=0):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Regex, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    split = pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated")
    extra = {}
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
        extra["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok.pre_tokenizer = split
    tok.train_from_iterator(
        [text], trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False, **extra)
    )
    merges = [tuple(m) for m in json.loads(tok.to_str())["model"]["merges"]]
    return tok, merges


def test_pretokenize_is_lossless():
    text = "First Citizen:\nBefore we proceed  any further, hear me speak.\n\n"
    assert "".join(pretokenize(text)) == text
    assert pretokenize("Hear me, speak!") == ["Hear", " me", ",", " speak", "!"]


def test_pair_counts_and_merge_pair():
    counts = pair_counts({("l", "o", "w"): 5, ("a", "a", "a"): 2})
    assert counts[("l", "o")] == 5 and counts[("a", "a")] == 4
    assert merge_pair(["a", "a", "a"], ("a", "a"), "aa") == ["aa", "a"]
    assert merge_pair(["x"], ("x", "x"), "xx") == ["x"]


@pytest.mark.parametrize("vocab_size", [40, 60, 90])
def test_equal_to_hf_tokenizers(vocab_size):
    ours = BPETokenizer.train(CORPUS, vocab_size)
    tok, merges = hf_bpe(CORPUS, vocab_size)
    assert ours.merges == merges
    assert ours.token_to_id == tok.get_vocab()
    assert ours.tokenize(HELD_OUT) == tok.encode(HELD_OUT).tokens
    assert ours.encode(HELD_OUT) == tok.encode(HELD_OUT).ids


def test_byte_level_equal_to_hf_and_never_unknown():
    ours = BPETokenizer.train(CORPUS, 300, byte_level=True)
    tok, merges = hf_bpe(CORPUS, 300, byte_level=True)
    assert ours.merges == merges
    text = "naïve 语言模型 🙂"
    assert ours.tokenize(text) == tok.encode(text).tokens
    assert ours.decode(ours.encode(text)) == text
    assert len(set(byte_alphabet().values())) == 256


def test_round_trip_and_vocab_size():
    bpe = BPETokenizer.train(CORPUS, 70)
    assert bpe.vocab_size == 70 and len(bpe.merges) >= 70 - len(set(CORPUS))
    assert bpe.decode(bpe.encode(HELD_OUT)) == HELD_OUT
    assert len(bpe.encode(HELD_OUT)) < len(HELD_OUT)


def test_min_frequency_stops_early():
    bpe = BPETokenizer.train(CORPUS, 10_000, min_frequency=5)
    assert bpe.vocab_size < 10_000
    assert bpe.merges == hf_bpe(CORPUS, 10_000, min_frequency=5)[1]


def test_bad_input_messages():
    with pytest.raises(ValueError, match="empty text"):
        BPETokenizer.train("", 100)
    with pytest.raises(TypeError, match="must be a str"):
        BPETokenizer.train(["the cat"], 100)
    with pytest.raises(ValueError, match="smaller than the alphabet"):
        BPETokenizer.train(CORPUS, 5)
    bpe = BPETokenizer.train(CORPUS, 50)
    with pytest.raises(ValueError, match="not in the vocabulary.*byte_level=True"):
        bpe.encode("the cat 🙂")
    with pytest.raises(ValueError, match=r"token ids \[50, -1\] are not in the vocabulary"):
        bpe.decode([1, 50, -1])
    with pytest.raises(TypeError, match="must be a str"):
        bpe.encode(b"bytes")
