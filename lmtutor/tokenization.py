"""Subword tokenization: byte-pair encoding (BPE) trained from scratch (chapter 2).

``BPETokenizer.train`` learns merges the way 🤗 ``tokenizers``' ``BpeTrainer`` does: text is cut
into pieces by ``PRETOKENIZE_PATTERN`` (words with their leading space, punctuation runs,
whitespace runs), every piece starts as a sequence of characters, and each step merges the most
frequent adjacent pair; among pairs with the same count the one with the smallest
``(left id, right id)`` wins, where the alphabet is numbered in code-point order and every new
token gets the next id. With the same pre-tokenizer, no normalizer and the same vocabulary size,
🤗 ``tokenizers`` learns the same merges (chapter 2 and ``tests/test_tokenization.py`` check it).

``byte_level=True`` first writes every UTF-8 byte as one printable character (the GPT-2 byte
alphabet), so the 256 bytes are the alphabet and no text ever contains an unknown symbol.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

__all__ = ["PRETOKENIZE_PATTERN", "pretokenize", "byte_alphabet", "pair_counts", "merge_pair", "BPETokenizer"]

# A word with its leading space, a run of punctuation with its leading space, or a run of whitespace.
PRETOKENIZE_PATTERN = r" ?\w+| ?[^\w\s]+|\s+"
_PIECES = re.compile(PRETOKENIZE_PATTERN)


def _check_text(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}; decode bytes or join a list first.")
    return text


def pretokenize(text: str) -> list[str]:
    """Cut text into pieces that merges never cross; joining the pieces gives the text back."""
    return _PIECES.findall(_check_text(text))


def byte_alphabet() -> dict[int, str]:
    """Map each byte 0..255 to one printable character (printable Latin-1 bytes map to themselves).

    The same table as GPT-2's byte-level BPE: a space (byte 32) is written 'Ġ', a newline 'Ċ'.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)  # unprintable bytes move above the Latin-1 range
            extra += 1
    return table


def pair_counts(words: dict[tuple, int]) -> Counter:
    """Count adjacent symbol pairs, each word weighted by its frequency. {symbols: count} -> {pair: count}."""
    counts: Counter = Counter()
    for symbols, freq in words.items():
        for pair in pairwise(symbols):
            counts[pair] += freq
    return counts


def merge_pair(symbols: Sequence, pair: tuple, new) -> list:
    """Replace every non-overlapping occurrence of ``pair`` (left to right) by ``new``."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


_BYTES = byte_alphabet()


class BPETokenizer:
    """A trained BPE vocabulary: ``tokenize``/``encode`` text, ``decode`` ids (lossless)."""

    def __init__(self, vocab: Sequence[str], merges: Sequence[tuple[str, str]], byte_level: bool = False):
        self.vocab = list(vocab)
        self.merges = [tuple(m) for m in merges]
        self.byte_level = byte_level
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self._to_byte = {c: b for b, c in _BYTES.items()}
        self._cache: dict[str, list[str]] = {}  # piece -> tokens: pieces repeat a lot in real text

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        kind = "byte-level, " if self.byte_level else ""
        return f"BPETokenizer({kind}vocab_size={self.vocab_size}, merges={len(self.merges)})"

    def _symbols(self, piece: str) -> str:
        if not self.byte_level:
            return piece
        return "".join(_BYTES[b] for b in piece.encode("utf-8"))

    @classmethod
    def train(cls, text: str, vocab_size: int, min_frequency: int = 0, byte_level: bool = False) -> BPETokenizer:
        """Learn merges on ``text`` until the vocabulary has ``vocab_size`` tokens (or no pair is left)."""
        text = _check_text(text)
        if not text:
            raise ValueError("cannot train a BPE tokenizer on empty text; pass the training corpus as one str.")
        helper = cls([], [], byte_level)
        words = Counter(helper._symbols(p) for p in pretokenize(text))
        if byte_level:
            alphabet = sorted(_BYTES.values())
        else:
            alphabet = sorted({c for w in words for c in w})
        if not isinstance(vocab_size, int) or vocab_size < len(alphabet):
            raise ValueError(
                f"vocab_size={vocab_size!r} is smaller than the alphabet ({len(alphabet)} symbols): every "
                f"symbol needs a token. Use vocab_size >= {len(alphabet)}."
            )
        vocab, merges = _learn_merges(words, alphabet, vocab_size, min_frequency)
        return cls(vocab, merges, byte_level)

    def tokenize(self, text: str) -> list[str]:
        """Text -> list of token strings (in byte-level mode, written in the byte alphabet)."""
        tokens = []
        for piece in pretokenize(text):
            if piece in self._cache:
                tokens += self._cache[piece]
                continue
            symbols = self._symbols(piece)
            unknown = [c for c in symbols if c not in self.token_to_id]
            if unknown:
                raise ValueError(
                    f"character {unknown[0]!r} is not in the vocabulary: it never occurred in the training "
                    "text. Train with byte_level=True, whose alphabet covers every possible text."
                )
            self._cache[piece] = self._apply_merges(list(symbols))
            tokens += self._cache[piece]
        return tokens

    def _apply_merges(self, symbols: list[str]) -> list[str]:
        while len(symbols) > 1:
            ranked = [(self.ranks.get(p, len(self.ranks)), p) for p in pairwise(symbols)]
            rank, pair = min(ranked)
            if rank == len(self.ranks):
                break  # no learned merge applies any more
            symbols = merge_pair(symbols, pair, pair[0] + pair[1])
        return symbols

    def encode(self, text: str) -> list[int]:
        """Text -> list of token ids. Shapes: str -> (T,)."""
        return [self.token_to_id[t] for t in self.tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text; ``decode(encode(text)) == text`` for any text the tokenizer can encode."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:5]} are not in the vocabulary [0, {self.vocab_size}).")
        text = "".join(self.vocab[i] for i in ids)
        if not self.byte_level:
            return text
        return bytes(self._to_byte[c] for c in text).decode("utf-8", errors="replace")


def _learn_merges(words: Counter, alphabet: list[str], vocab_size: int, min_frequency: int):
    """The merge loop with incremental pair counts; ties go to the smallest (left id, right id)."""
    vocab = list(alphabet)
    ids = {t: i for i, t in enumerate(vocab)}
    seqs = [[ids[c] for c in w] for w in words]  # one id sequence per distinct piece
    freqs = list(words.values())
    counts: Counter = Counter()
    where: dict[tuple[int, int], set[int]] = {}
    for w, seq in enumerate(seqs):
        for pair in pairwise(seq):
            counts[pair] += freqs[w]
            where.setdefault(pair, set()).add(w)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if -neg != counts[pair]:  # stale entry: push the current count back
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], pair))
            continue
        if -neg < 1 or -neg < min_frequency:
            break
        new = vocab[pair[0]] + vocab[pair[1]]
        if new not in ids:  # two different pairs can spell the same string: keep one id
            ids[new] = len(vocab)
            vocab.append(new)
        merges.append((vocab[pair[0]], vocab[pair[1]]))
        _merge_everywhere(pair, ids[new], seqs, freqs, counts, where, heap)
    return vocab, merges


def _merge_everywhere(pair, new_id, seqs, freqs, counts, where, heap) -> None:
    """Merge ``pair`` in every piece that contains it and update the pair counts in place."""
    for w in where.pop(pair, ()):
        old = Counter(pairwise(seqs[w]))
        seqs[w] = merge_pair(seqs[w], pair, new_id)
        new = Counter(pairwise(seqs[w]))
        for p in old.keys() | new.keys():
            change = (new[p] - old[p]) * freqs[w]
            if change:
                counts[p] += change
            if change > 0:
                where.setdefault(p, set()).add(w)
                heapq.heappush(heap, (-counts[p], p))
