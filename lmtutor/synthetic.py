"""Small synthetic tasks: translation for encoder-decoder models, reversal for GPTs (chapters 7, 8, 13).

A translation task a small Transformer learns on a CPU in about a minute, with a character vocabulary:
dates ``"12 March 2021"``, ``"Friday, 12 March 2021"``, ``"Mar 12 2021"``, ``"12.3.2021"`` ... -> ``"2021-03-12"``.

API (stable; every random choice comes from ``seed``, so the same call gives the same data):

* ``date_pairs(n, seed=0) -> list[tuple[str, str]]``: ``n`` distinct (source, target) pairs.
* ``parse_date(text) -> datetime.date``: read a source back.
* ``train_test_split(pairs, test_fraction=0.1, seed=0) -> (train, test)``: no source in both.
* ``CharVocab``: ids ``<pad>`` 0, ``<s>`` 1 (begin), ``</s>`` 2 (end), then one id per character.
  ``date_vocab()`` covers every character the task can produce;
  ``CharVocab.from_pairs(pairs)`` builds one from data. ``encode(text, bos=False, eos=False)``,
  ``decode(ids)`` (stops at ``</s>``, skips ``<pad>``/``<s>``).
* ``make_batch(pairs, vocab) -> Seq2SeqBatch`` with ``src`` (B, S) padded with ``<pad>``,
  ``src_mask`` (B, S) bool (True = real character), ``tgt_in`` (B, T) = ``<s>`` + target,
  ``tgt_out`` (B, T) = target + ``</s>`` with padding set to ``IGNORE_INDEX`` (-100, ignored by
  ``F.cross_entropy`` and by 🤗 ``labels``).
* ``iterate_batches(pairs, vocab, batch_size, seed=0, shuffle=True)`` goes through the data once;
  ``sample_batch(pairs, vocab, batch_size, generator)`` draws one random batch.

For decoder-only models (chapters 7 and 8), a task where order matters: reverse a random string.
``reversal_batch(batch_size, length=8, n_symbols=10, generator=None)`` gives ``(inputs, targets)``
(B, 2 * length) for a next-token model such as ``lmtutor.GPT``; ``train_on_reversal`` and
``reversal_accuracy`` train and score any model whose ``forward(x, y)`` returns ``(logits, loss)``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .config import IGNORE_INDEX
from .train import train_step

__all__ = [
    "IGNORE_INDEX",
    "MONTHS",
    "DATE_FORMATS",
    "format_date",
    "date_pairs",
    "parse_date",
    "train_test_split",
    "CharVocab",
    "date_vocab",
    "Seq2SeqBatch",
    "make_batch",
    "iterate_batches",
    "sample_batch",
    "reversal_batch",
    "train_on_reversal",
    "reversal_accuracy",
]

MONTHS = "January February March April May June July August September October November December".split()
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# How a person might write the date; every one is unambiguous (day-first in the numeric form).
DATE_FORMATS = {
    "day month year": "{d} {month} {y}",  # 12 March 2021
    "month day, year": "{month} {d}, {y}",  # March 12, 2021
    "day mon year": "{d} {mon} {y}",  # 12 Mar 2021
    "mon day year": "{mon} {d} {y}",  # Mar 12 2021
    "weekday, day month year": "{weekday}, {d} {month} {y}",  # Friday, 12 March 2021
    "day.month.year": "{d}.{m}.{y}",  # 12.3.2021
}
FIRST_DATE, LAST_DATE = dt.date(1950, 1, 1), dt.date(2049, 12, 31)


def format_date(date: dt.date, style: str) -> str:
    """Write ``date`` in one of the ``DATE_FORMATS`` (e.g. ``"day month year"`` -> "12 March 2021")."""
    if style not in DATE_FORMATS:
        raise ValueError(f"unknown date style {style!r}; choose one of {list(DATE_FORMATS)}")
    month = MONTHS[date.month - 1]
    fields = {"d": date.day, "m": date.month, "y": date.year, "month": month, "mon": month[:3]}
    return DATE_FORMATS[style].format(weekday=_WEEKDAYS[date.weekday()], **fields)


def _check_count(n: int, seed: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (how many pairs), got {n!r}")
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")


def date_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct (human date, ISO date) pairs, dates from 1950 to 2049, styles drawn uniformly."""
    _check_count(n, seed)
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    if n > n_days * len(DATE_FORMATS):
        raise ValueError(f"at most {n_days * len(DATE_FORMATS)} distinct date pairs exist, asked for {n}")
    rng, styles = random.Random(seed), list(DATE_FORMATS)
    pairs: dict[str, str] = {}
    while len(pairs) < n:
        date = FIRST_DATE + dt.timedelta(days=rng.randrange(n_days))
        pairs.setdefault(format_date(date, rng.choice(styles)), date.isoformat())
    return list(pairs.items())


def parse_date(text: str) -> dt.date:
    """Read back any string ``format_date`` writes (the inverse used to verify the data)."""
    words = text.replace(",", " ").replace(".", " ").split()
    if words and words[0] in _WEEKDAYS:
        words = words[1:]
    month_of = {name[:3]: i + 1 for i, name in enumerate(MONTHS)}
    try:
        if len(words) == 3 and all(w.isdigit() for w in words):
            return dt.date(int(words[2]), int(words[1]), int(words[0]))
        first, second, year = words
        day, month = (second, first) if first[:3] in month_of else (first, second)
        return dt.date(int(year), month_of[month[:3]], int(day))
    except (ValueError, KeyError):
        raise ValueError(f"{text!r} is not a date in one of the formats {list(DATE_FORMATS)}") from None


def train_test_split(
    pairs: Sequence[tuple[str, str]], test_fraction: float = 0.1, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Shuffle (with ``seed``) and split into train and test; held-out sources never appear in train."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if len(pairs) < 2:
        raise ValueError(f"need at least 2 pairs to split, got {len(pairs)}")
    shuffled = list(dict(pairs).items())  # one pair per distinct source
    random.Random(seed).shuffle(shuffled)
    n_test = max(1, round(test_fraction * len(shuffled)))
    return shuffled[n_test:], shuffled[:n_test]


class CharVocab:
    """Character vocabulary with special tokens ``<pad>`` = 0, ``<s>`` = 1 (begin), ``</s>`` = 2 (end)."""

    SPECIALS = ("<pad>", "<s>", "</s>")
    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, chars: Sequence[str]):
        chars = sorted(set(chars))
        if not chars or any(len(c) != 1 for c in chars):
            raise ValueError("CharVocab needs a non-empty collection of single characters")
        self.itos = list(self.SPECIALS) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> CharVocab:
        """Every character of the sources and targets."""
        return cls({c for src, tgt in pairs for c in src + tgt})

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} ids: 3 special + {len(self) - 3} characters)"

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Text -> ids, optionally with ``<s>`` in front and ``</s>`` at the end."""
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise ValueError(
                f"characters {unknown} of {text!r} are not in the vocabulary; build it from data that contains them"
            )
        return [self.bos_id] * bos + [self.stoi[c] for c in text] + [self.eos_id] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> text, stopping at the first ``</s>`` and skipping ``<pad>`` and ``<s>``."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        out = []
        for i in ids:
            if not 0 <= i < len(self.itos):
                raise ValueError(f"id {i} is outside the vocabulary [0, {len(self.itos)})")
            if i == self.eos_id:
                break
            if i > self.eos_id:
                out.append(self.itos[i])
        return "".join(out)


def date_vocab() -> CharVocab:
    """Every character the date task can produce (letters of month and weekday names, digits, ' ,.-')."""
    return CharVocab(set("".join(MONTHS + _WEEKDAYS)) | set("0123456789 ,.-"))


@dataclass
class Seq2SeqBatch:
    """A padded batch. Shapes: src, src_mask (B, S); tgt_in, tgt_out (B, T)."""

    src: torch.Tensor  # source ids, <pad> after the end
    src_mask: torch.Tensor  # bool, True for real source characters
    tgt_in: torch.Tensor  # decoder input: <s> + target, <pad> after the end
    tgt_out: torch.Tensor  # labels: target + </s>, IGNORE_INDEX after the end

    def to(self, device: torch.device | str) -> Seq2SeqBatch:
        """The same batch on ``device``."""
        return Seq2SeqBatch(*(t.to(device) for t in (self.src, self.src_mask, self.tgt_in, self.tgt_out)))


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)  # (B, width)


def make_batch(pairs: Sequence[tuple[str, str]], vocab: CharVocab) -> Seq2SeqBatch:
    """Encode and right-pad a list of (source, target) pairs."""
    if not pairs:
        raise ValueError("make_batch needs at least one (source, target) pair")
    if any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
        raise ValueError("make_batch expects a list of (source, target) string pairs")
    src = _pad([vocab.encode(s) for s, _ in pairs], vocab.pad_id)  # (B, S)
    targets = [vocab.encode(t) for _, t in pairs]
    tgt_in = _pad([[vocab.bos_id] + t for t in targets], vocab.pad_id)  # (B, T)
    tgt_out = _pad([t + [vocab.eos_id] for t in targets], IGNORE_INDEX)  # (B, T)
    return Seq2SeqBatch(src, src != vocab.pad_id, tgt_in, tgt_out)


def iterate_batches(
    pairs: Sequence[tuple[str, str]], vocab: CharVocab, batch_size: int, seed: int = 0, shuffle: bool = True
) -> Iterator[Seq2SeqBatch]:
    """One pass over ``pairs`` in batches (the last one may be smaller); shuffled with ``seed``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = list(range(len(pairs)))
    if shuffle:
        random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        yield make_batch([pairs[i] for i in order[start : start + batch_size]], vocab)


def sample_batch(
    pairs: Sequence[tuple[str, str]], vocab: CharVocab, batch_size: int, generator: torch.Generator | None = None
) -> Seq2SeqBatch:
    """A batch of ``batch_size`` pairs drawn at random (with replacement) using ``generator``."""
    if batch_size < 1 or not pairs:
        raise ValueError(f"need batch_size >= 1 and some pairs, got {batch_size} and {len(pairs)} pairs")
    idx = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
    return make_batch([pairs[i] for i in idx], vocab)


def reversal_batch(
    batch_size: int, length: int = 8, n_symbols: int = 10, generator: torch.Generator | None = None, ignore=IGNORE_INDEX
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences ``x <sep> reversed(x)`` as next-token (inputs, targets), each (B, 2 * length).

    Symbols are 0 .. n_symbols - 1 and the separator is n_symbols (vocabulary n_symbols + 1). Only
    the reversed half is scored: the other targets are ``ignore`` (-100, what ``lmtutor.GPT`` skips).
    """
    if batch_size < 1 or length < 1 or n_symbols < 2:
        raise ValueError(f"need batch_size >= 1, length >= 1, n_symbols >= 2; got {batch_size}, {length}, {n_symbols}")
    x = torch.randint(n_symbols, (batch_size, length), generator=generator)  # (B, L)
    sep = torch.full((batch_size, 1), n_symbols)
    seq = torch.cat([x, sep, x.flip(1)], dim=1)  # (B, 2L + 1)
    inputs, targets = seq[:, :-1], seq[:, 1:].clone()  # (B, 2L) each
    targets[:, :length] = ignore  # the random string itself cannot be predicted
    return inputs, targets


def train_on_reversal(
    model: torch.nn.Module, steps: int, lr: float, batch_size: int = 32, seed: int = 0
) -> list[float]:
    """Adam on fresh reversal batches (no warmup, no clipping); returns the loss of every step."""
    optimizer, gen, losses = torch.optim.Adam(model.parameters(), lr=lr), torch.Generator().manual_seed(seed), []
    model.train()
    for _ in range(steps):
        x, y = reversal_batch(batch_size, generator=gen)
        losses.append(train_step(model, optimizer, x, y, grad_clip=None, use_autocast=False).item())
    return losses


@torch.no_grad()
def reversal_accuracy(model: torch.nn.Module, n: int = 1000, seed: int = 12345) -> tuple[float, float]:
    """(token accuracy, whole-sequence accuracy) of the argmax predictions on ``n`` fresh sequences."""
    model.eval()
    x, y = reversal_batch(n, generator=torch.Generator().manual_seed(seed))
    logits, _ = model(x)
    scored = y != IGNORE_INDEX
    correct = (logits.argmax(-1) == y) | ~scored  # (B, 2L)
    return correct[scored].float().mean().item(), correct.all(dim=1).float().mean().item()
