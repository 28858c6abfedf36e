"""Readable token labels for attention views: WordPiece, byte-level BPE, SentencePiece and characters.

Rules (the same for every tokenizer, so the views read alike):

* a sub-token glued to the previous one (WordPiece ``##ing``, a BPE or SentencePiece piece
  without a leading space) is shown as ``·ing``;
* the leading-space markers of byte-level BPE (``Ġ``) and SentencePiece (``▁``) are removed:
  the token starts a word;
* whitespace stays visible: ``␣`` for a space, ``⏎`` for a newline, ``⇥`` for a tab, so the
  character-level Shakespeare model's tokens can be told apart;
* special tokens (``[CLS]``, ``[SEP]``, ``<pad>``, ``<|endoftext|>``, ...) are kept as they are
  and flagged, so that views can draw them differently.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache

__all__ = ["readable_tokens", "token_info", "CONTINUATION", "SCHEMES"]

CONTINUATION = "·"  # prefix of a sub-token that continues the previous word
SCHEMES = ("auto", "wordpiece", "bpe", "sentencepiece", "plain")
_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "↵"}
_SPECIAL_PATTERN = re.compile(r"^(\[[A-Z_]+\]|<\|?[A-Za-z_/0-9]+\|?>)$")


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    """Inverse of GPT-2's byte-to-printable-character table (Radford et al. 2019, encoder.py)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _decode_byte_level(token: str) -> str:
    table = _byte_level_decoder()
    if not all(ch in table for ch in token):
        return token
    return bytes(table[ch] for ch in token).decode("utf-8", errors="replace")


def _detect(tokens: Sequence[str], special: Collection[str]) -> str:
    ordinary = [t for t in tokens if t not in special]
    if any(t.startswith("##") and len(t) > 2 for t in ordinary):
        return "wordpiece"
    if any("Ġ" in t or "Ċ" in t for t in ordinary):
        return "bpe"
    if any("▁" in t for t in ordinary):
        return "sentencepiece"
    return "plain"


def _visible(text: str) -> str:
    if text == "":
        return "∅"
    return "".join(_VISIBLE.get(ch, ch) for ch in text)


def _one(token: str, scheme: str, glued_to_word: bool) -> str:
    """Readable form of one ordinary token; ``glued_to_word``: the previous token ends a word piece."""
    if scheme == "wordpiece":
        return CONTINUATION + token[2:] if token.startswith("##") and len(token) > 2 else _visible(token)
    text = _decode_byte_level(token) if scheme == "bpe" else token
    if scheme == "sentencepiece":
        text = text.replace("▁", " ")
    if scheme in ("bpe", "sentencepiece"):
        if text.startswith(" ") and text.strip():
            return _visible(text[1:])  # the leading space only says "a new word starts here"
        if glued_to_word and text[:1].isalnum():
            return CONTINUATION + _visible(text)
    return _visible(text)


def token_info(
    tokens: Sequence[str], special_tokens: Collection[str] | None = None, scheme: str = "auto"
) -> tuple[list[str], list[bool]]:
    """Readable labels and a flag per token saying whether it is a special token."""
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(
            "tokens must be a list of strings (one per position), e.g. tokenizer.convert_ids_to_tokens(ids)"
        )
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    special = set(special_tokens or ())
    is_special = [t in special or bool(_SPECIAL_PATTERN.match(t)) for t in tokens]
    scheme = _detect(tokens, special) if scheme == "auto" else scheme
    labels: list[str] = []
    for i, (tok, spec) in enumerate(zip(tokens, is_special, strict=True)):
        glued = i > 0 and not is_special[i - 1] and labels[-1][-1:].isalnum()
        labels.append(tok if spec else _one(tok, scheme, glued))
    return labels, is_special


def readable_tokens(
    tokens: Sequence[str], special_tokens: Collection[str] | None = None, scheme: str = "auto"
) -> list[str]:
    """Token strings as a reader should see them (``##ing`` -> ``·ing``, ``Ġthe`` -> ``the``, ``' '`` -> ``␣``)."""
    return token_info(tokens, special_tokens, scheme)[0]
