"""Exercises of chapter 1 (what a language model is): the chain rule, add-k smoothing, perplexity."""

from __future__ import annotations

import math
import random

from .core import Case, Exercise, Mistake, register

__all__ = ["chain_rule_logprob", "add_k_probs", "perplexity"]


# 1.1 the log-probability of a text under a bigram model, by the chain rule


def _bigram_table(alphabet: str, seed: int) -> dict[str, dict[str, float]]:
    """Random next-character probabilities after every character and after the start ("")."""
    rng = random.Random(seed)
    table = {}
    for ctx in ["", *alphabet]:
        weights = [rng.random() + 0.05 for _ in alphabet]
        table[ctx] = {c: w / sum(weights) for c, w in zip(alphabet, weights, strict=True)}
    return table


def _text_log_prob(text, bigram):
    total = math.log(bigram[""][text[0]])  # P(x_1): the first character has the empty context
    for prev, cur in zip(text[:-1], text[1:], strict=True):
        total += math.log(bigram[prev][cur])  # P(x_t | x_{t-1})
    return total


def _lp_product(text, bigram):
    p = bigram[""][text[0]]
    for prev, cur in zip(text[:-1], text[1:], strict=True):
        p *= bigram[prev][cur]
    return p


def _lp_no_first(text, bigram):
    return sum(math.log(bigram[prev][cur]) for prev, cur in zip(text[:-1], text[1:], strict=True))


def _lp_reversed(text, bigram):
    first = math.log(bigram[""][text[0]])
    return first + sum(math.log(bigram[cur][prev]) for prev, cur in zip(text[:-1], text[1:], strict=True))


def _lp_log2(text, bigram):
    return _text_log_prob(text, bigram) / math.log(2)


def _chain_cases() -> list[Case]:
    rng = random.Random(7)
    return [
        Case("'abracadabra' with a random bigram table", ("abracadabra", _bigram_table("abcdr", seed=1))),
        Case("a text of one character", ("b", _bigram_table("abcdr", seed=2))),
        Case(
            "2,000 characters (the product of probabilities underflows)",
            (
                "".join(rng.choice("xyz ") for _ in range(2000)),
                _bigram_table("xyz ", seed=3),
            ),
        ),
    ]


chain_rule_logprob = register(
    Exercise(
        name="language_models.chain_rule_logprob",
        title="Exercise 1.1: the log-probability of a text by the chain rule",
        reference=_text_log_prob,
        cases=_chain_cases,
        mistakes=[
            Mistake(
                _lp_product,
                "Return the log-probability, a sum of logarithms. A product of thousands of probabilities "
                "underflows to 0.0 in floating point; a sum of logs does not.",
            ),
            Mistake(
                _lp_no_first,
                "The first character is missing: the chain rule starts with its probability, given the empty context.",
            ),
            Mistake(
                _lp_reversed,
                "The bigram table is read the wrong way round: the condition is the previous character, the "
                "outcome the current one.",
            ),
            Mistake(_lp_log2, "Wrong base of the logarithm: the task asks for the natural logarithm (nats), not bits."),
        ],
        hint=(
            "Check the chain rule: every character contributes one conditional probability, the first one has"
            " no history, and the log-probabilities are added (natural log)."
        ),
        atol=1e-6,
        rtol=1e-9,
    )
)


# 1.2 add-k smoothing: the next-token distribution after one context


def _add_k(next_counts, vocab, k):
    total = sum(next_counts.values())  # c(h): how often the context was followed by anything
    return [(next_counts.get(w, 0) + k) / (total + k * len(vocab)) for w in vocab]


def _add_k_seen_only(next_counts, vocab, k):
    total, V = sum(next_counts.values()), len(next_counts)  # only the tokens seen after the context
    return [(next_counts.get(w, 0) + k) / (total + k * V) if total + k * V else 1 / len(vocab) for w in vocab]


def _add_k_one_k(next_counts, vocab, k):
    total = sum(next_counts.values())
    return [(next_counts.get(w, 0) + k) / (total + k) for w in vocab]


def _add_k_no_numerator(next_counts, vocab, k):
    total = sum(next_counts.values())
    return [next_counts.get(w, 0) / (total + k * len(vocab)) for w in vocab]


add_k_probs = register(
    Exercise(
        name="language_models.add_k_probs",
        title="Exercise 1.2: add-k smoothing",
        reference=_add_k,
        cases=[
            Case("context 'th' in a small corpus, k = 1", ({"e": 5, "a": 2, "o": 1}, list("aehot "), 1.0)),
            Case("k = 0.1, a token never seen after the context", ({"u": 9}, list("aeiouq"), 0.1)),
            Case("an unseen context (no counts): uniform", ({}, list("abcd"), 0.5)),
            Case("k = 0: the counted frequencies", ({"a": 3, "b": 1}, list("abc"), 0.0)),
        ],
        mistakes=[
            Mistake(
                _add_k_seen_only,
                "V is the size of the whole vocabulary, not the number of tokens seen after the context: every "
                "token gets k pseudo-counts, including those never seen.",
            ),
            Mistake(
                _add_k_one_k,
                "The denominator must grow by k for every token of the vocabulary (k·V), else the probabilities "
                "sum to more than 1.",
            ),
            Mistake(
                _add_k_no_numerator,
                "Add k to every count in the numerator too; otherwise unseen tokens still get probability 0 and "
                "the probabilities sum to less than 1.",
            ),
        ],
        hint=(
            "Check the numerator and the denominator of add-k smoothing: what is added for each word of the "
            "vocabulary, and where the vocabulary size enters."
        ),
        atol=1e-9,
        rtol=1e-7,
    )
)


# 1.3 perplexity and bits per token from the probabilities of the actual next tokens


def _perplexity(probs):
    nats = -sum(math.log(p) for p in probs) / len(probs)  # mean negative log-probability
    return math.exp(nats), nats / math.log(2)


perplexity = register(
    Exercise(
        name="language_models.perplexity",
        title="Exercise 1.3: perplexity and bits per token",
        reference=_perplexity,
        cases=[
            Case("probabilities 1/2, 1/4, 1/8", ([0.5, 0.25, 0.125],)),
            Case("a uniform guess over 65 characters", ([1 / 65] * 10,)),
            Case("one token predicted with certainty", ([1.0],)),
            Case("a good model on 6 tokens", ([0.9, 0.6, 0.3, 0.95, 0.8, 0.05],)),
        ],
        mistakes=[
            Mistake(
                lambda probs: (sum(1 / p for p in probs) / len(probs), -sum(math.log2(p) for p in probs) / len(probs)),
                "Perplexity is a geometric mean: exp of the mean negative log-probability, not the arithmetic mean "
                "of 1/p.",
            ),
            Mistake(
                lambda probs: (math.exp(-sum(map(math.log, probs))), -sum(math.log2(p) for p in probs) / len(probs)),
                "Average over the tokens before taking exp: the perplexity must not grow with the length of the text.",
            ),
            Mistake(
                lambda probs: (
                    math.exp(sum(map(math.log, probs)) / len(probs)),
                    -sum(map(math.log2, probs)) / len(probs),
                ),
                "The loss is the *negative* log-probability; without the minus sign you get 1 / perplexity.",
            ),
            Mistake(
                lambda probs: _perplexity(probs)[:1] + (-sum(map(math.log, probs)) / len(probs),),
                "The bits are wrong: a loss in nats must be converted to base 2.",
            ),
        ],
        hint=(
            "Check the average (per token, negative log-probability), the base of the exponential, and the "
            "unit conversion to bits; return the two numbers in the order the task asks."
        ),
        atol=1e-9,
        rtol=1e-7,
    )
)
