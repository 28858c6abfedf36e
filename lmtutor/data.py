"""Tiny Shakespeare: download, verify, cache; a character tokenizer; batches (chapters 1, 4, 9).

The corpus is fetched once from its canonical URL, checked against its SHA-256 and written
atomically into ``$LMTUTOR_DATA_DIR`` (default ``~/.cache/lmtutor``). Offline, put the file
there yourself; the error message says exactly where.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch

from .storage import atomic_file, data_dir

__all__ = [
    "SHAKESPEARE_URL",
    "SHAKESPEARE_SHA256",
    "DataError",
    "data_dir",
    "check_token_ids",
    "download",
    "load_shakespeare",
    "CharTokenizer",
    "train_val_split",
    "get_batch",
    "CharDataset",
]

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_FILE = "tinyshakespeare.txt"


class DataError(RuntimeError):
    """A data file is missing, cannot be downloaded or fails its checksum."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


CONNECT_TIMEOUT = 2.0  # seconds to connect and get the response headers
STALL_TIMEOUT = 10.0  # seconds without a single byte
DOWNLOAD_DEADLINE = 120.0  # seconds for the whole file (1.1 MB: ~11 s at 100 kB/s)
MIN_RATE = 1000.0  # bytes/s on average, checked once STALL_TIMEOUT seconds have passed: a trickle is a stall


def _copy(resp, out, url: str, dest: Path, stall: float, deadline: float) -> None:
    """Copy the response to ``out`` chunk by chunk; a stall or the overall deadline raises ``DataError``."""
    start, got = time.monotonic(), 0
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    read = getattr(resp, "read1", resp.read)  # read1 returns what has arrived instead of waiting for 64 KiB
    while True:
        left = deadline - (time.monotonic() - start)
        try:
            if left <= 0:
                raise TimeoutError
            if sock is not None:
                sock.settimeout(min(stall, left))
            chunk = read(1 << 16)
        except TimeoutError:  # socket.timeout is TimeoutError
            took = time.monotonic() - start
            why = f"the {deadline:g} s deadline passed" if took >= deadline else f"no data for {stall:g} s"
            raise DataError(
                f"Download of {url} stopped after {took:.1f} s with {got} bytes received "
                f"({why}): the connection is too slow or stalled. Try again later, or "
                f"download the file by hand and save it as {dest}."
            ) from None
        if not chunk:
            if getattr(resp, "length", None):  # the server closed the connection early
                raise DataError(
                    f"Download of {url} broke off after {got} bytes ({resp.length} missing). Try again, or "
                    f"download the file by hand and save it as {dest}."
                )
            return
        out.write(chunk)
        got += len(chunk)
        took = time.monotonic() - start
        if took > stall and got < MIN_RATE * took:
            raise DataError(
                f"Download of {url} is too slow: {got} bytes in {took:.1f} s (under {MIN_RATE:g} bytes/s). Try "
                f"again later, or download the file by hand and save it as {dest}."
            )


def download(
    url: str,
    dest: Path,
    sha256: str,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically; refuse (and keep nothing) if the SHA-256 differs.

    The bytes go to a temporary file in the destination folder, are verified, and only then
    renamed over ``dest`` -- an interrupted or corrupted download never leaves a bad file behind
    (and temporaries of earlier interrupted downloads are removed). Waits are bounded: connecting
    by ``connect_timeout`` (2 s), silence by ``timeout`` (10 s), the whole file by ``deadline`` (120 s);
    after ``timeout`` seconds, an average under ``MIN_RATE`` bytes/s counts as stalled too.
    """
    dest = Path(dest)
    stall = STALL_TIMEOUT if timeout is None else timeout
    deadline = DOWNLOAD_DEADLINE if deadline is None else deadline
    connect = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    try:
        resp = urllib.request.urlopen(url, timeout=connect)
    except (urllib.error.URLError, TimeoutError) as err:
        raise DataError(
            f"Could not download {url} ({getattr(err, 'reason', None) or err or type(err).__name__}; connect "
            f"deadline {connect:g} s). Check the connection, or download the file by hand and save it as {dest}."
        ) from None
    with atomic_file(dest, "wb", suffix=".part") as out, resp:
        _copy(resp, out, url, dest, stall, deadline)
        out.flush()
        got = sha256_of(Path(out.name))
        if got != sha256:
            raise DataError(
                f"Checksum mismatch for {url}: expected SHA-256 {sha256}, got {got}. "
                "The download was discarded; try again, or fetch the file by hand."
            )
    return dest


def _missing_message(path: Path, reason: str) -> str:
    return (
        f"Tiny Shakespeare is not available: {path} does not exist and the download failed "
        f"({reason}). Download {SHAKESPEARE_URL} and save it as {path}, or set LMTUTOR_DATA_DIR "
        f"to a folder that contains {SHAKESPEARE_FILE}."
    )


def load_shakespeare(directory: str | Path | None = None, download_if_missing: bool = True) -> str:
    """Return the Tiny Shakespeare text (1,115,394 characters), downloading it if needed.

    Raises ``DataError`` with instructions when the file is missing offline or corrupted.
    """
    path = Path(directory).expanduser() if directory is not None else data_dir()
    path = path / SHAKESPEARE_FILE
    if not path.exists():
        if not download_if_missing:
            raise DataError(_missing_message(path, "download disabled"))
        try:
            download(SHAKESPEARE_URL, path, SHAKESPEARE_SHA256)
        except (urllib.error.URLError, OSError, DataError) as err:
            raise DataError(_missing_message(path, f"{type(err).__name__}: {err}")) from None
    got = sha256_of(path)
    if got != SHAKESPEARE_SHA256:
        raise DataError(
            f"{path} is corrupted: its SHA-256 is {got}, expected {SHAKESPEARE_SHA256}. "
            "Delete the file to download it again, or replace it with a verified copy."
        )
    return path.read_text(encoding="utf-8")


class CharTokenizer:
    """Character-level tokenizer: one id per distinct character of the training text."""

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("CharTokenizer needs at least one character; got an empty vocabulary.")
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer vocabulary must be distinct single characters.")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Build the vocabulary from the sorted set of characters in ``text``."""
        if not text:
            raise ValueError("Cannot build a tokenizer from empty text.")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text -> list of ids; unknown characters raise a clear error."""
        if not isinstance(text, str):
            raise TypeError(
                f"encode expects text (a str), got {type(text).__name__}"
                + ("; did a function return None instead of the text?" if text is None else "; use str(...) first")
            )
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"Character {err.args[0]!r} is not in the vocabulary of {self.vocab_size} characters; "
                "build the tokenizer from text that contains it."
            ) from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """List (or 1-D tensor) of ids -> text."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() > 1:
                fix = "decode(out[0])" if ids.shape[0] == 1 else "one row at a time: [decode(row) for row in out]"
                raise ValueError(f"decode expects a 1-D sequence of ids, got shape {tuple(ids.shape)}; use {fix}")
            if ids.is_floating_point():
                raise TypeError(f"decode expects integer token ids, got a {ids.dtype} tensor; use ids.long()")
            ids = ids.tolist()
        if isinstance(ids, str):
            raise TypeError(f"decode expects token ids, got the text {ids[:20]!r}; did you mean encode?")
        ids = list(ids)
        if any(isinstance(i, (list, tuple, str, float)) for i in ids):
            raise TypeError(
                f"decode expects a flat list (or 1-D tensor) of int ids, got {str(ids)[:30]}...; "
                "for a batch of sequences decode one row, e.g. decode(ids[0])"
            )
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"Token ids {bad[:5]} are outside the vocabulary [0, {self.vocab_size}).")
        return "".join(self.chars[i] for i in ids)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def train_val_split(data: torch.Tensor, train_fraction: float = 0.9) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a 1-D token tensor into a leading train part and a trailing validation part."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    if data.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(data.shape)}")
    n = int(train_fraction * len(data))
    return data[:n], data[n:]


def check_token_ids(vocab: int, block: int, **splits: torch.Tensor) -> None:
    """Each split must be 1-D token ids in ``[0, vocab)``, longer than ``block`` (before training, once)."""
    for name, data in splits.items():
        if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.is_floating_point():
            got = f"{tuple(data.shape)} {data.dtype}" if isinstance(data, torch.Tensor) else type(data).__name__
            raise ValueError(f"{name} must be a 1-D tensor of token ids (torch.long), got {got}; encode the text first")
        if len(data) <= block:
            raise ValueError(f"{name} has {len(data)} tokens; it needs more than block_size={block}")
        lo, hi = torch.aminmax(data)
        if lo < 0 or hi >= vocab:
            raise ValueError(
                f"{name} holds token ids in [{int(lo)}, {int(hi)}] but the model's vocabulary is [0, {vocab}); "
                "build the model with GPTConfig(vocab_size=tokenizer.vocab_size)"
            )


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    rows: slice | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows: inputs ``x`` and next-token targets ``y``, both (B, T).

    ``rows`` keeps only those windows of the batch (one process's share under DDP); the generator
    advances as for the whole batch, so every process stays in step.
    """
    if data.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(data.shape)}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens, need more than block_size={block_size} to cut a window")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    if rows is not None:
        starts = starts[rows]
    offsets = torch.arange(block_size + 1)
    windows = data[starts[:, None] + offsets]  # (B, T+1)
    x, y = windows[:, :-1], windows[:, 1:]  # (B, T) each
    if torch.device(device).type == "cuda":
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


class CharDataset(torch.utils.data.Dataset):
    """Every window of ``block_size`` tokens as an (x, y) pair, for use with a DataLoader."""

    def __init__(self, data: torch.Tensor, block_size: int):
        if data.dim() != 1 or len(data) <= block_size:
            raise ValueError(
                f"CharDataset needs a 1-D tensor longer than block_size={block_size}, got shape {tuple(data.shape)}"
            )
        self.data, self.block_size = data, block_size

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.data[i : i + self.block_size + 1]
        return chunk[:-1], chunk[1:]
