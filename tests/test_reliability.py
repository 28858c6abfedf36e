"""Reliability: damaged checkpoints, resume mismatches, stale temporaries, divergence, stalled downloads."""

import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time
import warnings

import pytest
import torch

from lmtutor import data as D
from lmtutor.checkpoint import HASH_KEY, CheckpointError, TrainingDiverged, clean_stale_temps
from lmtutor.train import TrainConfig, load_checkpoint, save_checkpoint, train
from lmtutor.transformer import GPT, GPTConfig

TINY = GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, d_model=16)
CFG = TrainConfig(max_steps=12, batch_size=4, warmup_steps=2, eval_interval=6, eval_batches=2, checkpoint_interval=6)
MARK = torch.full((4096,), 1.2345)  # a byte pattern that is easy to find in the file


def data(n=3000):
    return torch.arange(20).repeat(n // 20)


def run(ck, cfg=CFG, config=TINY, **kw):
    d = data()
    return train(GPT(config), d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck, **kw)


# --- damaged checkpoints -----------------------------------------------------------------------


def _damage(path, how):
    raw = bytearray(path.read_bytes())
    at = raw.find(MARK.numpy().tobytes()[:64]) + 1000
    if how == "flip":
        raw[at] ^= 0x01
    elif how == "zero":
        raw[at : at + 256] = bytes(256)
    else:  # truncate
        raw = raw[: len(raw) // 2]
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["flip", "zero", "truncate"])
def test_damaged_checkpoint_is_refused(tmp_path, how):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, step=3, weights=MARK)
    assert torch.equal(load_checkpoint(path)["weights"], MARK)
    _damage(path, how)
    pattern = "is damaged: its content no longer matches the SHA-256" if how != "truncate" else "not a readable"
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(path)


def test_resume_refuses_a_damaged_checkpoint(tmp_path):
    ck = tmp_path / "run.pt"
    run(ck)
    raw = bytearray(ck.read_bytes())
    w = load_checkpoint(ck)["model"]["tok_emb.weight"]
    at = raw.find(w.numpy().tobytes()[:32])
    raw[at + 5] ^= 0x40
    ck.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="is damaged"):
        run(ck, resume=True)


def test_checkpoint_without_hash_loads_with_a_warning_and_is_upgraded_on_resume(tmp_path):
    ck = tmp_path / "old.pt"
    first = run(ck)
    legacy = torch.load(ck, weights_only=True)
    del legacy[HASH_KEY]
    torch.save(legacy, ck)  # as written by lmtutor before content hashes
    with pytest.warns(UserWarning, match="no content hash"):
        assert load_checkpoint(ck)["step"] == 11
    with pytest.warns(UserWarning, match="saved again with one"):
        again = run(ck, resume=True)
    assert again["loss"] == first["loss"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(ck)  # verified now, no warning


# --- resume compares settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,pattern",
    [
        ({"batch_size": 8}, r"batch_size=4 \(checkpoint\) vs 8 \(now\)"),
        ({"lr": 1e-3}, r"lr=0.002 \(checkpoint\) vs 0.001 \(now\)"),
        ({"seed": 1}, r"seed=1337 \(checkpoint\) vs 1 \(now\)"),
        ({"max_steps": 24}, r"max_steps=12 \(checkpoint\) vs 24 \(now\)"),
    ],
)
def test_resume_with_other_training_settings_says_what_differs(tmp_path, change, pattern):
    ck = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        run(ck, callbacks=[Crash(8)])
    other = TrainConfig(**{**CFG.__dict__, **change})
    with pytest.raises(CheckpointError, match=pattern) as err:
        run(ck, cfg=other, resume=True)
    assert "resume=False or another checkpoint_path" in str(err.value)


def test_resume_ignores_evaluation_and_checkpoint_intervals(tmp_path):
    ck = tmp_path / "run.pt"
    first = run(ck)
    again = run(ck, cfg=TrainConfig(**{**CFG.__dict__, "eval_batches": 3, "checkpoint_interval": 4}), resume=True)
    assert again["loss"] == first["loss"]


def test_resume_with_another_model_shape_names_the_fields(tmp_path):
    ck = tmp_path / "run.pt"
    run(ck)
    bigger = GPTConfig(**{**TINY.to_dict(), "d_model": 32, "n_layer": 2})
    with pytest.raises(CheckpointError, match=r"n_layer=1 \(checkpoint\) vs 2 \(now\); d_model=16 \(checkpoint\)") as e:
        run(ck, config=bigger, resume=True)
    assert "size mismatch" not in str(e.value) and "GPTConfig(**checkpoint['model_config'])" in str(e.value)


def test_checkpoint_past_max_steps_says_so(tmp_path):
    ck = tmp_path / "run.pt"
    run(ck)
    with pytest.raises(CheckpointError, match=r"already trained 12 steps, past max_steps=6.*use max_steps=12"):
        run(ck, cfg=TrainConfig(**{**CFG.__dict__, "max_steps": 6}), resume=True)


class Crash:
    def __init__(self, at):
        self.at = at

    def on_step(self, state):
        if state["step"] == self.at:
            raise KeyboardInterrupt("simulated crash")


# --- temporaries and writability -------------------------------------------------------------------


def test_stale_temporaries_of_the_same_target_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    target = tmp_path / "ck.pt"
    stale = [tmp_path / f"ck.pt.{dead.stdout.strip()}.abc.tmp", tmp_path / f"ck.pt.{os.getpid()}.xyz.tmp"]
    old_style = tmp_path / "ck.pt.k2j4h5.tmp"  # mkstemp name of older versions, two hours old
    live = tmp_path / f"ck.pt.{os.getppid()}.live.tmp"  # a running writer's fresh temporary
    other = tmp_path / "other.pt.123.abc.tmp"
    for f in [*stale, old_style, live, other]:
        f.write_bytes(b"x" * 100)
    os.utime(old_style, (time.time() - 7200, time.time() - 7200))
    save_checkpoint(target, step=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ck.pt", live.name, other.name])
    assert clean_stale_temps(target, ".tmp") == []


def test_weights_that_do_not_fit_a_model_without_config_get_a_short_message(tmp_path):
    from lmtutor.checkpoint import restore_run

    class Bare(torch.nn.Module):  # no .config: only the state dict can tell
        def __init__(self, n):
            super().__init__()
            self.w = torch.nn.Linear(n, n)

    ck = tmp_path / "bare.pt"
    save_checkpoint(ck, model=Bare(2).state_dict())
    model = Bare(3)
    opt = torch.optim.AdamW(model.parameters())
    with pytest.raises(CheckpointError, match=r"do not fit this model \(size mismatch for w.weight"):
        restore_run(ck, model, opt, torch.Generator())


KILLED_WRITER = """
import sys, torch
from lmtutor.checkpoint import save_checkpoint
while True:
    save_checkpoint(sys.argv[1], w=torch.randn(4_000_000))
"""


def test_kill_9_during_saves_leaves_a_good_checkpoint_and_the_next_save_cleans_up(tmp_path):
    import signal

    target = tmp_path / "big.pt"
    for _ in range(5):  # kill -9 until it lands while a temporary is being written (almost always the first time)
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)])
        try:
            end = time.monotonic() + 60
            while not (target.exists() and list(tmp_path.glob("big.pt.*.tmp"))) and time.monotonic() < end:
                time.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if list(tmp_path.glob("big.pt.*.tmp")):
            break
    assert list(tmp_path.glob("big.pt.*.tmp")), "the writer was killed while writing a temporary"
    assert load_checkpoint(target)["w"].shape == (4_000_000,)  # the last complete save, verified
    save_checkpoint(target, step=1)
    assert os.listdir(tmp_path) == ["big.pt"]


def test_interrupted_model_builds_leave_no_folder_behind(tmp_path):
    """lmtutor.offline builds 🤗 checkpoints in a temporary folder; one left by a killed build goes next time."""
    from lmtutor.offline import atomic_folder

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    final = tmp_path / "t5-tasks-120"
    stale, live = (
        tmp_path / f".t5-tasks-120.{dead.stdout.strip()}.abc.tmp",
        tmp_path / f".t5-tasks-120.{os.getppid()}.x.tmp",
    )
    for folder in (stale, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x" * 100)
    with atomic_folder(final) as tmp:
        (tmp / "config.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([final.name, live.name])
    assert (final / "config.json").exists()


def test_stale_download_parts_are_removed(tmp_path):
    content = b"text\n" * 10
    src = tmp_path / "remote.txt"
    src.write_bytes(content)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"f.txt.{os.getpid()}.abc.part").write_bytes(b"half")
    D.download(src.as_uri(), cache / "f.txt", hashlib.sha256(content).hexdigest())
    assert os.listdir(cache) == ["f.txt"]


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_found_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="cannot write checkpoints to"):
            run(ro / "run.pt")
    finally:
        ro.chmod(0o700)


def test_permission_denied_is_found_before_training(tmp_path, monkeypatch):
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    with pytest.raises(CheckpointError, match=r"cannot write checkpoints to .*\(PermissionError: Permission denied\)"):
        run(tmp_path / "run.pt")
    assert not (tmp_path / "run.pt").exists()


def test_a_finished_run_loads_from_a_read_only_folder(tmp_path, monkeypatch):
    import tempfile

    first = run(tmp_path / "run.pt")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    assert run(tmp_path / "run.pt", resume=True)["loss"] == first["loss"]  # nothing to write: no error


def test_unwritable_folder_is_found_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    steps = []
    with pytest.raises(CheckpointError, match=r"cannot write checkpoints to .*writable folder"):
        run(blocker / "sub" / "run.pt", callbacks=[type("Spy", (), {"on_step": lambda self, s: steps.append(1)})()])
    assert steps == []  # refused before the first step


def test_full_disk_is_found_before_training(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(CheckpointError, match="MB free but a checkpoint of this run needs about"):
        run(tmp_path / "run.pt")


# --- divergence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr,clip", [(1e3, 1.0), (1e3, None)])
def test_divergence_stops_with_advice_and_keeps_the_last_good_checkpoint(tmp_path, lr, clip):
    ck = tmp_path / "run.pt"
    cfg = TrainConfig(max_steps=200, batch_size=4, lr=lr, grad_clip=clip, warmup_steps=1, eval_interval=100)
    torch.manual_seed(0)
    with pytest.raises(
        TrainingDiverged, match=r"training diverged: the loss is nan at step \d+.*lower learning rate"
    ) as e:
        run(ck, cfg=TrainConfig(**{**cfg.__dict__, "checkpoint_interval": 1}))
    assert "lr=1000 now, e.g. lr=100" in str(e.value) and "check the data" in str(e.value)
    saved = load_checkpoint(ck)
    assert all(torch.isfinite(v).all() for v in saved["model"].values())
    assert all(torch.isfinite(torch.tensor(saved["history"]["loss"])))
    assert "was kept" in str(e.value) and len(e.value.history["loss"]) > saved["step"] + 1


def test_nan_weights_are_not_saved(tmp_path):
    class Poison:
        def on_step(self, state):
            if state["step"] == 7:
                with torch.no_grad():
                    state["model"].ln_f.weight[0] = float("nan")

    ck = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match="the weights hold NaN/inf"):
        run(ck, callbacks=[Poison()], cfg=TrainConfig(**{**CFG.__dict__, "checkpoint_interval": 4}))
    assert load_checkpoint(ck)["step"] == 3


# --- stalled downloads ----------------------------------------------------------------------------------


class _Trickle(http.server.BaseHTTPRequestHandler):
    delay = 0.2  # seconds between bytes
    silent = False
    lifetime = 8.0  # the server gives up by itself: the test is bounded in time

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        end = time.monotonic() + self.lifetime
        while time.monotonic() < end:
            try:
                if not self.silent:
                    self.wfile.write(b"x")
                    self.wfile.flush()
            except OSError:
                return
            time.sleep(self.delay)

    def log_message(self, *args):
        pass


@pytest.fixture
def trickle_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_trickling_download_hits_the_deadline_with_instructions(tmp_path, trickle_server, monkeypatch):
    url = f"http://127.0.0.1:{trickle_server.server_port}/input.txt"
    monkeypatch.setattr(D, "SHAKESPEARE_URL", url)
    monkeypatch.setattr(D, "DOWNLOAD_DEADLINE", 1.5)
    t0 = time.monotonic()
    with pytest.raises(D.DataError) as err:
        D.load_shakespeare(tmp_path)
    took = time.monotonic() - t0
    print(f"trickling download: clear error after {took:.2f} s")
    msg = str(err.value)
    assert "stopped after" in msg and "too slow or stalled" in msg
    assert f"save it as {tmp_path / 'tinyshakespeare.txt'}" in msg and "LMTUTOR_DATA_DIR" in msg
    assert 1.4 < took < 3.0 and os.listdir(tmp_path) == []


def test_trickle_under_the_minimum_rate_is_a_stall(tmp_path, trickle_server):
    url = f"http://127.0.0.1:{trickle_server.server_port}/f.txt"
    t0 = time.monotonic()
    with pytest.raises(D.DataError, match=r"is too slow: \d+ bytes in [\d.]+ s \(under 1000 bytes/s\).*save it as"):
        D.download(url, tmp_path / "f.txt", "0" * 64, timeout=0.6)
    assert 0.6 < time.monotonic() - t0 < 2.0 and os.listdir(tmp_path) == []


def test_connection_closed_early_is_said_so(tmp_path, trickle_server, monkeypatch):
    monkeypatch.setattr(_Trickle, "lifetime", 0.3)
    url = f"http://127.0.0.1:{trickle_server.server_port}/f.txt"
    with pytest.raises(D.DataError, match=r"broke off after \d+ bytes \(\d+ missing\)"):
        D.download(url, tmp_path / "f.txt", "0" * 64)


def test_silent_server_is_a_stall(tmp_path, trickle_server, monkeypatch):
    monkeypatch.setattr(_Trickle, "silent", True)
    url = f"http://127.0.0.1:{trickle_server.server_port}/f.txt"
    t0 = time.monotonic()
    with pytest.raises(D.DataError, match="no data for 0.5 s"):
        D.download(url, tmp_path / "f.txt", "0" * 64, timeout=0.5)
    assert time.monotonic() - t0 < 2.0


def test_server_that_never_answers_hits_the_connect_deadline(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)  # accepts the connection in the kernel, never answers
    try:
        t0 = time.monotonic()
        with pytest.raises(D.DataError, match=r"Could not download .*connect deadline 0.5 s.*save it as"):
            D.download(f"http://127.0.0.1:{sock.getsockname()[1]}/f", tmp_path / "f.txt", "0" * 64, connect_timeout=0.5)
        assert time.monotonic() - t0 < 2.0
    finally:
        sock.close()
