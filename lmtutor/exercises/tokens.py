"""Exercises of chapter 2 (tokens and vocabulary): BPE pair counts and merges, WordPiece, padding."""

from __future__ import annotations

from itertools import pairwise

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["pair_counts", "merge_pair", "wordpiece_split", "pad_batch"]


# 2.1 count adjacent pairs over a table of words with frequencies


def _pair_counts(words):
    counts = {}
    for symbols, freq in words.items():
        for pair in pairwise(symbols):
            counts[pair] = counts.get(pair, 0) + freq
    return counts


def _pc_no_freq(words):
    return _pair_counts(dict.fromkeys(words, 1))


def _pc_set(words):
    counts = {}
    for symbols, freq in words.items():
        for pair in set(pairwise(symbols)):  # a pair that occurs twice in a word counts once
            counts[pair] = counts.get(pair, 0) + freq
    return counts


def _pc_across(words):
    flat = [s for symbols in words for s in symbols]  # one long sequence: pairs cross word boundaries
    counts = {}
    for pair in pairwise(flat):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


pair_counts = register(
    Exercise(
        name="tokens.pair_counts",
        title="Exercise 2.1: count adjacent pairs",
        reference=_pair_counts,
        cases=[
            Case("three words", ({("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2, ("n", "e", "w"): 6},)),
            Case("a pair twice in one word", ({("a", "a", "a"): 3, ("b", "a"): 1},)),
            Case("one-symbol words have no pairs", ({("x",): 10, ("t", "h", "e"): 4},)),
            Case("merged symbols", ({(" th", "e"): 7, (" th", "is"): 2, ("e", "n", "d"): 1},)),
            Case("no words at all", ({},)),
        ],
        mistakes=[
            Mistake(_pc_no_freq, "Each word stands for all its occurrences: weight its pairs by its frequency."),
            Mistake(_pc_set, "Count every occurrence of a pair inside a word, not only whether it occurs."),
            Mistake(
                _pc_across,
                "Pairs never cross a word boundary: count the pairs of each word separately.",
            ),
        ],
        hint=(
            "Check that every adjacent pair of every word is counted, weighted by the word's frequency, and "
            "that the keys have the form the task asks for."
        ),
    )
)


# 2.2 merge one pair everywhere in a sequence of symbols


def _merge(symbols, pair):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == tuple(pair):
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _merge_first_only(symbols, pair):
    for i in range(len(symbols) - 1):
        if (symbols[i], symbols[i + 1]) == tuple(pair):
            return [*symbols[:i], symbols[i] + symbols[i + 1], *symbols[i + 2 :]]
    return list(symbols)


def _merge_overlapping(symbols, pair):
    out = []
    for i in range(len(symbols)):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == tuple(pair):
            out.append(symbols[i] + symbols[i + 1])  # the right symbol is used again by the next step
        elif not (i > 0 and (symbols[i - 1], symbols[i]) == tuple(pair)):
            out.append(symbols[i])
    return out


def _merge_right_to_left(symbols, pair):
    return [s[::-1] for s in _merge([s[::-1] for s in symbols[::-1]], (pair[1][::-1], pair[0][::-1]))][::-1]


merge_pair = register(
    Exercise(
        name="tokens.merge_pair",
        title="Exercise 2.2: apply one merge",
        reference=_merge,
        cases=[
            Case("two occurrences", (["t", "h", "e", " ", "t", "h", "a", "t"], ("t", "h"))),
            Case("overlapping occurrences", (["a", "a", "a"], ("a", "a"))),
            Case("four in a row", (["a", "a", "a", "a", "b"], ("a", "a"))),
            Case("the pair is absent", (["x", "y"], ("y", "x"))),
            Case("multi-character symbols", ([" th", "e", " th", "e", "n"], (" th", "e"))),
            Case("a single symbol", (["q"], ("q", "q"))),
        ],
        mistakes=[
            Mistake(_merge_first_only, "Merge every occurrence of the pair, not only the first one."),
            Mistake(
                _merge_overlapping,
                "A symbol can belong to one merge only: after merging two symbols, continue after both of them.",
            ),
            Mistake(_merge_right_to_left, "Scan from left to right: in 'a a a' the first two symbols merge."),
        ],
        hint=(
            "Check that you scan left to right, merge only adjacent symbols that form the pair, and do not "
            "merge a symbol twice when pairs overlap."
        ),
    )
)


# 2.3 WordPiece: greedy longest match first, '##' for pieces inside a word


def _wp(word, vocab, prefix):
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def _wordpiece(word, vocab):
    return _wp(word, vocab, "##")


def _wp_shortest(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
        else:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def _wp_no_prefix(word, vocab):
    return _wp(word, {v.removeprefix("##") for v in vocab}, "")  # inner pieces looked up without '##'


def _wp_keep_partial(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            return [*pieces, "[UNK]"]  # keeps the pieces found so far
    return pieces


_VOCAB = {"un", "##aff", "##able", "##a", "##ff", "token", "##izer", "##s", "##ize", "play", "##ing", "i", "##n"}

wordpiece_split = register(
    Exercise(
        name="tokens.wordpiece_split",
        title="Exercise 2.3: WordPiece split of one word",
        reference=_wordpiece,
        cases=[
            Case("a word in the vocabulary", ("play", _VOCAB)),
            Case("longest match first", ("unaffable", _VOCAB)),
            Case("three pieces", ("tokenizers", _VOCAB)),
            Case("a word that cannot be spelled", ("unaffablez", _VOCAB)),
            Case("a continuation piece at the start is not allowed", ("ing", _VOCAB)),
            Case("single letters", ("in", _VOCAB)),
        ],
        mistakes=[
            Mistake(_wp_shortest, "Take the longest piece in the vocabulary at each position, not the shortest."),
            Mistake(
                _wp_no_prefix,
                "A piece that does not start the word is looked up (and returned) with the '##' prefix.",
            ),
            Mistake(
                _wp_keep_partial,
                "When some part of the word matches no piece, the whole word becomes ['[UNK]'].",
            ),
        ],
        hint=(
            "Check the greedy rule (longest match first), the continuation marker on every piece after the "
            "first, and what a word that cannot be split must give."
        ),
    )
)


# 2.4 pad a batch of id sequences and build the attention mask


def _pad_batch(sequences, pad_id):
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros(len(sequences), length, dtype=torch.long)  # (B, T): 1 = real token
    for b, seq in enumerate(sequences):
        ids[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[b, : len(seq)] = 1
    return ids, mask


def _pad_zero(sequences, pad_id):
    return _pad_batch(sequences, 0)


def _pad_inverted(sequences, pad_id):
    ids, mask = _pad_batch(sequences, pad_id)
    return ids, 1 - mask


def _pad_left(sequences, pad_id):
    ids, mask = _pad_batch([s[::-1] for s in sequences], pad_id)
    return ids.flip(-1), mask.flip(-1)


def _pad_mask_from_ids(sequences, pad_id):
    ids, _ = _pad_batch(sequences, pad_id)
    return ids, (ids != pad_id).long()  # wrong when a real token has the padding id


pad_batch = register(
    Exercise(
        name="tokens.pad_batch",
        title="Exercise 2.4: padding and the attention mask",
        reference=_pad_batch,
        cases=[
            Case("three sentences, [PAD] = 0", ([[101, 7592, 102], [101, 102], [101, 2023, 2003, 102]], 0)),
            Case("equal lengths: no padding", ([[5, 6], [7, 8]], 0)),
            Case("a padding id other than 0", ([[3, 4, 5], [9]], 50256)),
            Case("a real token with the padding id", ([[1, 0, 2], [3]], 0)),
            Case("one sequence", ([[42]], 1)),
        ],
        mistakes=[
            Mistake(_pad_zero, "Fill with the pad_id you were given, not with 0."),
            Mistake(_pad_inverted, "The attention mask is 1 for real tokens and 0 for padding."),
            Mistake(_pad_left, "Pad on the right: the tokens start at position 0 and the padding follows them."),
            Mistake(
                _pad_mask_from_ids,
                "Build the mask from the sequence lengths, not by comparing ids with pad_id: a real token "
                "can have the same id.",
            ),
        ],
        hint=(
            "Check the padded length, the value and dtype used for padding, and that the mask marks real "
            "tokens (not padding)."
        ),
    )
)
