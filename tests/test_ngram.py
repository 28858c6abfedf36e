"""lmtutor.ngram: counts, add-k and interpolated probabilities that sum to 1, perplexity, sampling, bad input."""

import math
from collections import Counter

import pytest

from lmtutor.ngram import UNK, NGramLM, join_words, replace_rare, word_tokens

TEXT = "to be or not to be that is the question"


@pytest.mark.parametrize("interpolate", [True, False])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [0.0, 0.01, 1.0])
def test_distribution_sums_to_one_for_every_context(n, k, interpolate):
    model = NGramLM(n, k=k, interpolate=interpolate).fit(TEXT)
    for ctx in ["", "t", "to ", " qu", "qqq"]:  # empty, seen, unseen ("qq") and shortened contexts
        ctx = ctx[-(n - 1) :] if n > 1 else ""
        assert math.isclose(sum(model.distribution(ctx).values()), 1.0, rel_tol=1e-12), (n, k, ctx)


def test_counts_match_a_plain_counter():
    model = NGramLM(3).fit(TEXT)
    for j in (1, 2, 3):
        expected = Counter(TEXT[i : i + j] for i in range(len(TEXT) - j + 1))
        assert {g: c for g, c in model.counts.items() if len(g) == j} == dict(expected)
    assert model.context_counts[""] == len(TEXT)
    assert model.context_counts["to"] == 2  # "to" is followed by a character twice
    assert "on" not in model.context_counts  # "on" ends the text: it is never followed by anything


def test_add_k_formula_and_interpolation_by_hand():
    model = NGramLM(2, k=1.0, interpolate=False).fit("abab", vocab="abc")
    # c(ab) = 2, c(a) = 2 (a is followed twice), V = 3: (2 + 1) / (2 + 3)
    assert model.prob("b", "a") == pytest.approx(3 / 5)
    assert model.prob("c", "a") == pytest.approx(1 / 5)
    assert model.prob("a", "c") == pytest.approx(1 / 3)  # unseen context: uniform
    interp = model.with_order(interpolate=True)
    p1 = (2 + 1.0 * 3 * (1 / 3)) / (4 + 3)  # unigram of "a": c(a) = 2 of N = 4
    assert interp.prob("a", "c") == pytest.approx(p1)  # unseen context: falls back to the unigram
    assert interp.prob("b", "a") == pytest.approx((2 + 3 * interp.prob("b", "")) / (2 + 3))


def test_with_order_equals_a_fresh_fit():
    big = NGramLM(4, k=0.3).fit(TEXT)
    small = NGramLM(2, k=0.3).fit(TEXT)
    view = big.with_order(2)
    assert view.log_probs(TEXT) == pytest.approx(small.log_probs(TEXT))
    assert view.unseen_context_share(TEXT) == small.unseen_context_share(TEXT)


def test_perplexity_of_uniform_and_of_zero_probability():
    model = NGramLM(1, k=1e9).fit("abcd")  # huge k: practically uniform over 4 tokens
    assert model.perplexity("abcdabcd") == pytest.approx(4.0, rel=1e-6)
    ml = NGramLM(2, k=0.0).fit("abab", vocab="abc")
    assert ml.perplexity("abc") == math.inf  # c follows b never: probability 0


def test_evaluate_and_unseen_share():
    model = NGramLM(3, k=0.1).fit("abcabcabc")
    res = model.evaluate("abcab")
    assert res["unseen"] == 0.0
    assert res["bits"] == pytest.approx(res["nats"] / math.log(2))
    assert model.unseen_context_share("abba") == 0.5  # contexts "ab" (seen) and "bb" (never seen)


def test_sample_is_seeded_and_in_vocabulary():
    model = NGramLM(3, k=0.1).fit(TEXT)
    a, b = model.sample(50, "to", seed=3), model.sample(50, "to", seed=3)
    assert a == b and len(a) == 50 and set(a) <= set(TEXT)
    words = NGramLM(2).fit(TEXT.split())
    out = words.sample(5, ["to"], seed=0)
    assert isinstance(out, list) and len(out) == 5


def test_word_helpers():
    toks = word_tokens("ROMEO:\nO'er the hill, we go!")
    assert toks == ["ROMEO", ":", "\n", "O'er", "the", "hill", ",", "we", "go", "!"]
    assert join_words(toks) == "ROMEO:\nO'er the hill, we go!"
    assert replace_rare(["a", "b", "c"], {"a"}) == ["a", UNK, UNK]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: NGramLM(0), ValueError, "n must be an integer >= 1"),
        (lambda: NGramLM(2.5), ValueError, "n must be an integer >= 1"),
        (lambda: NGramLM(2, k=-0.1), ValueError, "k must be a finite number >= 0"),
        (lambda: NGramLM(2).fit(""), ValueError, "cannot fit an n-gram model on an empty sequence"),
        (lambda: NGramLM(2).fit([]), ValueError, "empty sequence"),
        (lambda: NGramLM(2).fit("abc", vocab="ab"), ValueError, "not in vocab"),
        (lambda: NGramLM(2).fit("abc", vocab="abca"), ValueError, "vocab contains duplicates"),
        (lambda: NGramLM(2).prob("a"), RuntimeError, "not fitted yet"),
        (lambda: NGramLM(3).fit("abc").prob("a", "abc"), ValueError, "uses at most 2"),
        (lambda: NGramLM(1).fit("abc").prob("a", "b"), ValueError, "unigram model"),
        (lambda: NGramLM(2).fit("abc").prob("z", "a"), ValueError, "token 'z' is not in the vocabulary"),
        (lambda: NGramLM(2).fit("abc").prob("a", "z"), ValueError, "context token 'z' is not in the vocabulary"),
        (lambda: NGramLM(2).fit("abc").perplexity(""), ValueError, "cannot score an empty sequence"),
        (lambda: NGramLM(2).fit("abc").perplexity("abz"), ValueError, "'z' is not in the vocabulary"),
        (lambda: NGramLM(3).fit("abc").unseen_context_share("ab"), ValueError, "need at least n = 3 tokens"),
        (lambda: NGramLM(2).fit("abc").sample(-1), ValueError, "length must be an integer >= 0"),
        (lambda: NGramLM(2).fit("abc").with_order(3), ValueError, "fit a new model for n = 3"),
        (lambda: word_tokens(["a"]), TypeError, "text must be a str"),
    ],
)
def test_bad_input_has_a_clear_message(make, error, message):
    with pytest.raises(error, match=message):
        make()
