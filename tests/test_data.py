"""Data: the corpus, its checksum, atomic downloads, the tokenizer and batches."""

import hashlib
import os
import urllib.request

import pytest
import torch

from lmtutor import data as D


def test_corpus_is_the_verified_tiny_shakespeare(shakespeare):
    assert len(shakespeare) == 1_115_394
    assert len(set(shakespeare)) == 65
    assert shakespeare.startswith("First Citizen:")


def test_tokenizer_round_trip(shakespeare):
    tok = D.CharTokenizer.from_text(shakespeare)
    text = "To be, or not to be: that is the question."
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == 65


def test_split_and_batches():
    data = torch.arange(1000)
    tr, va = D.train_val_split(data, 0.9)
    assert len(tr) == 900 and len(va) == 100 and va[0] == 900
    x, y = D.get_batch(tr, 8, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y[:, :-1], x[:, 1:])  # targets are inputs shifted by one
    assert torch.equal(y[:, -1], x[:, -1] + 1)


def test_dataset_windows():
    ds = D.CharDataset(torch.arange(20), 5)
    assert len(ds) == 15
    x, y = ds[3]
    assert x.tolist() == [3, 4, 5, 6, 7] and y.tolist() == [4, 5, 6, 7, 8]


def _serve_file(tmp_path, content: bytes) -> str:
    src = tmp_path / "remote.txt"
    src.write_bytes(content)
    return src.as_uri()  # urllib reads file:// URLs like http ones


def test_download_verifies_and_writes_atomically(tmp_path):
    content = b"hello shakespeare\n" * 100
    url = _serve_file(tmp_path, content)
    dest = tmp_path / "cache" / "f.txt"
    D.download(url, dest, hashlib.sha256(content).hexdigest())
    assert dest.read_bytes() == content
    assert os.listdir(dest.parent) == ["f.txt"]  # no temporary file left behind


def test_download_refuses_checksum_mismatch_and_keeps_old_file(tmp_path):
    url = _serve_file(tmp_path, b"tampered")
    dest = tmp_path / "cache" / "f.txt"
    dest.parent.mkdir()
    dest.write_bytes(b"previous good copy")
    with pytest.raises(D.DataError, match="Checksum mismatch"):
        D.download(url, dest, "0" * 64)
    assert dest.read_bytes() == b"previous good copy"
    assert os.listdir(dest.parent) == ["f.txt"]


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.n = 0

        def read(self, size):
            self.n += 1
            if self.n > 2:
                raise ConnectionResetError("connection dropped")
            return b"x" * size

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Broken())
    dest = tmp_path / "cache" / "f.txt"
    with pytest.raises(ConnectionResetError):
        D.download("http://example.invalid/f.txt", dest, "0" * 64)
    assert not dest.exists() and os.listdir(dest.parent) == []


def test_offline_missing_file_says_where_to_put_it(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LMTUTOR_DATA_DIR", str(tmp_path))
    with pytest.raises(D.DataError) as err:
        D.load_shakespeare()
    msg = str(err.value)
    assert str(tmp_path / "tinyshakespeare.txt") in msg and D.SHAKESPEARE_URL in msg and "LMTUTOR_DATA_DIR" in msg


def test_corrupted_file_is_refused(tmp_path):
    (tmp_path / "tinyshakespeare.txt").write_text("First Citizen: not the real file")
    with pytest.raises(D.DataError, match="corrupted: its SHA-256"):
        D.load_shakespeare(tmp_path)
