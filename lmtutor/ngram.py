"""Counting n-gram language models: add-k smoothing, interpolation, perplexity, sampling (chapter 1).

An n-gram model makes the Markov assumption: the next token depends only on the ``n - 1``
tokens before it. ``NGramLM`` counts every j-gram (j = 1..n) of a training sequence and
estimates, for a context ``h`` of ``j - 1`` tokens and its shorter suffix ``h'``::

    P_j(w | h) = (c(h w) + k V P_{j-1}(w | h')) / (c(h) + k V),      P_0(w) = 1 / V

With ``interpolate=True`` the ``k V`` pseudo-counts of add-k smoothing are shared out like the
lower-order model (interpolated add-k, a Dirichlet prior); with ``interpolate=False`` they are
shared out uniformly (plain add-k, only the longest context is used). Both sum to 1 over the
vocabulary for every context. Tokens are the characters of a ``str`` or the items of a list
(words); ``word_tokens`` splits text into words, punctuation and line breaks.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = ["NGramLM", "word_tokens", "join_words", "replace_rare", "UNK"]

UNK = "<unk>"
_WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\n|[^\sA-Za-z]")  # words, line breaks, punctuation marks


def word_tokens(text: str) -> list[str]:
    """Split text into words (case kept, inner apostrophes), punctuation marks and ``"\\n"``; spaces are dropped."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD_RE.findall(text)


def join_words(tokens: Sequence[str]) -> str:
    """Inverse of ``word_tokens`` up to spacing: words separated by spaces, no space before punctuation."""
    text = " ".join(tokens)
    text = re.sub(r" ?\n ?", "\n", text)  # line breaks carry no spaces
    return re.sub(r" ([,.;:!?'])", r"\1", text)


def replace_rare(tokens: Sequence[str], vocab: set[str] | frozenset[str], unk: str = UNK) -> list[str]:
    """Replace every token outside ``vocab`` by ``unk`` (the word models' unknown-word token)."""
    return [t if t in vocab else unk for t in tokens]


def _as_key(tokens: Sequence[Hashable]) -> str | tuple:
    """Characters stay a str (fast slicing); any other sequence becomes a tuple, so its slices are hashable."""
    return tokens if isinstance(tokens, str) else tuple(tokens)


class NGramLM:
    """An n-gram language model with add-k smoothing, optionally interpolated with the lower orders.

    Shapes: a sequence of N tokens in ``fit``; ``prob`` takes one token and a context of at most
    ``n - 1`` tokens; ``distribution`` returns V probabilities (one per vocabulary token).
    """

    def __init__(self, n: int, k: float = 0.1, interpolate: bool = True):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an integer >= 1 (1 = unigram, 2 = bigram, ...), got {n!r}")
        if not isinstance(k, (int, float)) or not math.isfinite(k) or k < 0:
            raise ValueError(f"k must be a finite number >= 0 (the pseudo-count of add-k smoothing), got {k!r}")
        self.n, self.k, self.interpolate = n, float(k), interpolate
        self.counts: dict = {}  # j-gram -> count, for j = 1..n (keys of different lengths never collide)
        self.context_counts: dict = {}  # context h (0..n-1 tokens) -> sum over w of c(h w)
        self.vocab: list = []
        self._vocab_set: frozenset = frozenset()
        self._text = True  # str tokens (characters) or tuple keys (words)

    def __repr__(self) -> str:
        state = f"V={len(self.vocab)}" if self.vocab else "not fitted"
        return f"NGramLM(n={self.n}, k={self.k}, interpolate={self.interpolate}, {state})"

    def fit(self, tokens: Sequence[Hashable], vocab: Sequence[Hashable] | None = None) -> NGramLM:
        """Count all j-grams (j = 1..n) of ``tokens``; ``vocab`` defaults to the sorted distinct tokens."""
        if len(tokens) == 0:
            raise ValueError("cannot fit an n-gram model on an empty sequence; pass the training text or tokens")
        seq = _as_key(tokens)
        vocab = sorted(set(seq)) if vocab is None else list(vocab)
        missing = set(seq) - set(vocab)
        if missing:
            raise ValueError(
                f"{len(missing)} training tokens are not in vocab, e.g. {sorted(map(repr, missing))[:3]}; "
                "add them to the vocabulary or map them to an unknown-word token first (replace_rare)"
            )
        if len(set(vocab)) != len(vocab):
            raise ValueError("vocab contains duplicates; pass each token once")
        self._text, self.vocab, self._vocab_set = isinstance(seq, str), vocab, frozenset(vocab)
        self.counts, self.context_counts = {}, {}
        for j in range(1, self.n + 1):
            grams = Counter(seq[i : i + j] for i in range(len(seq) - j + 1))  # every j-gram and its count
            contexts: Counter = Counter()
            for gram, c in grams.items():
                contexts[gram[:-1]] += c  # c(h) = sum over w of c(h w), so each P_j sums to 1
            self.counts.update(grams)
            self.context_counts.update(contexts)
        return self

    def with_order(self, n: int | None = None, k: float | None = None, interpolate: bool | None = None) -> NGramLM:
        """A model of lower order ``n``, another ``k`` or the other smoothing, sharing these counts (no recount)."""
        self._check_fitted()
        n = self.n if n is None else n
        if isinstance(n, int) and n > self.n:
            raise ValueError(f"the counts go up to {self.n}-grams; fit a new model for n = {n}")
        other = NGramLM(n, self.k if k is None else k, self.interpolate if interpolate is None else interpolate)
        other.counts, other.context_counts = self.counts, self.context_counts  # longer j-grams are never looked up
        other.vocab, other._vocab_set, other._text = self.vocab, self._vocab_set, self._text
        return other

    def _check_fitted(self) -> None:
        if not self.vocab:
            raise RuntimeError("this NGramLM is not fitted yet; call .fit(tokens) first")

    def _context(self, context: Sequence[Hashable]) -> str | tuple:
        """Validate a context and turn it into a key of the training sequence's type."""
        self._check_fitted()
        ctx = _as_key(context) if not self._text else "".join(context)
        if len(ctx) > self.n - 1:
            raise ValueError(
                f"context has {len(ctx)} tokens but a {self.n}-gram model uses at most {self.n - 1}; "
                f"pass only the last {self.n - 1} tokens (context[-{self.n - 1}:])"
                if self.n > 1
                else f"context has {len(ctx)} tokens but a unigram model (n=1) uses none; pass an empty context"
            )
        unknown = [t for t in ctx if t not in self._vocab_set]
        if unknown:
            raise ValueError(f"context token {unknown[0]!r} is not in the vocabulary of {len(self.vocab)} tokens")
        return ctx

    def _check_token(self, token: Hashable) -> None:
        if token not in self._vocab_set:
            raise ValueError(
                f"token {token!r} is not in the vocabulary of {len(self.vocab)} tokens; "
                "map unknown words to the unknown-word token first (replace_rare)"
            )

    def _prob(self, token: Hashable, ctx: str | tuple) -> float:
        """P(token | ctx) without input checks; ctx is a key of at most n - 1 tokens."""
        V = len(self.vocab)
        kV, p = self.k * V, 1.0 / V
        w = token if self._text else (token,)
        orders = range(len(ctx) + 1) if self.interpolate else [len(ctx)]  # context lengths used
        for j in orders:
            h = ctx[len(ctx) - j :]
            c_h = self.context_counts.get(h, 0)
            prior = p if self.interpolate else 1.0 / V
            if c_h + kV > 0:  # with k = 0 and an unseen context there is nothing to estimate: keep the prior
                p = (self.counts.get(h + w, 0) + kV * prior) / (c_h + kV)
            else:
                p = prior
        return p

    def prob(self, token: Hashable, context: Sequence[Hashable] = ()) -> float:
        """P(token | context), the context being the last (at most n - 1) tokens before ``token``."""
        ctx = self._context(context)
        self._check_token(token)
        return self._prob(token, ctx)

    def distribution(self, context: Sequence[Hashable] = ()) -> dict:
        """The next-token distribution after ``context``: {token: probability} over the vocabulary, summing to 1."""
        ctx = self._context(context)
        return {t: self._prob(t, ctx) for t in self.vocab}

    def log_probs(self, tokens: Sequence[Hashable]) -> list[float]:
        """ln P(x_t | previous min(t, n-1) tokens) for every position t of ``tokens``.

        Shapes: N tokens -> N log-probabilities (natural log; -inf where a probability is 0).
        """
        self._check_fitted()
        seq = _as_key(tokens)
        if len(seq) == 0:
            raise ValueError("cannot score an empty sequence; pass at least one token")
        for t in set(seq):
            self._check_token(t)
        out = []
        for i in range(len(seq)):
            p = self._prob(seq[i], seq[max(0, i - self.n + 1) : i])
            out.append(math.log(p) if p > 0 else -math.inf)
        return out

    def unseen_context_share(self, tokens: Sequence[Hashable]) -> float:
        """Share of positions whose (n-1)-token context never occurred in the training sequence."""
        self._check_fitted()
        seq = _as_key(tokens)
        if len(seq) < self.n:
            raise ValueError(f"need at least n = {self.n} tokens to find a full context, got {len(seq)}")
        positions = range(self.n - 1, len(seq))
        unseen = sum(self.context_counts.get(seq[i - self.n + 1 : i], 0) == 0 for i in positions)
        return unseen / len(positions)

    def evaluate(self, tokens: Sequence[Hashable]) -> dict[str, float]:
        """Mean loss in nats per token, perplexity, bits per token and the unseen-context share on ``tokens``."""
        lps = self.log_probs(tokens)
        nats = -sum(lps) / len(lps)
        unseen = self.unseen_context_share(tokens) if len(tokens) >= self.n else float("nan")
        return {"nats": nats, "perplexity": math.exp(nats), "bits": nats / math.log(2), "unseen": unseen}

    def perplexity(self, tokens: Sequence[Hashable]) -> float:
        """exp of the mean negative log-probability per token (inf if some token has probability 0)."""
        return self.evaluate(tokens)["perplexity"]

    def sample(self, length: int, context: Sequence[Hashable] = (), seed: int | None = None) -> str | list:
        """Generate ``length`` tokens after ``context``, each drawn from the model's next-token distribution."""
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an integer >= 0, got {length!r}")
        tokens = list(context)
        self._context(tokens[max(0, len(tokens) - self.n + 1) :])  # checks fit and vocabulary
        rng = random.Random(seed)
        out: list = []
        for _ in range(length):
            tokens_so_far = tokens + out
            probs = self.distribution(tokens_so_far[max(0, len(tokens_so_far) - self.n + 1) :])
            out.append(rng.choices(self.vocab, weights=list(probs.values()))[0])
        return "".join(out) if self._text else out
