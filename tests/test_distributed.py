"""Training on several processes: ``torchrun -m lmtutor train`` with gloo equals one process, resumes after a kill."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lmtutor import distributed as ltd
from lmtutor.checkpoint import load_checkpoint
from lmtutor.cli import main

# A small run: nano model without biases (a key bias has zero gradient in exact arithmetic, so its Adam
# update is rounding noise scaled up: a legitimate difference that would blur this comparison).
RUN = ["--preset", "nano", "--device", "cpu", "--quiet", "--model", "bias=False"]
SHORT = ["--train", "max_steps=12", "warmup_steps=2", "lr=1e-3", "batch_size=8", "eval_interval=4"]
LONG = ["--train", "max_steps=300", "warmup_steps=5", "batch_size=8", "eval_interval=50", "checkpoint_interval=10"]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    return {**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _torchrun(args: list[str], n: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", "-m", "lmtutor",
            "train", *args]  # fmt: skip


def _run(cmd: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _history(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text(encoding="utf-8"))


def _max_weight_gap(a: Path, b: Path) -> float:
    wa, wb = load_checkpoint(a / "checkpoint.pt")["model"], load_checkpoint(b / "checkpoint.pt")["model"]
    assert wa.keys() == wb.keys()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


@pytest.fixture(scope="module")
def two_procs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp") / "two"
    proc = _run(_torchrun([*RUN, *SHORT, "--out", str(out)]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("done:") == 1, proc.stdout  # only rank 0 reports
    assert "2 process(es) on cpu, batch 8 (4 per process)" in proc.stdout
    return out


def test_two_processes_equal_one_process_with_the_combined_batch(two_procs, tmp_path, capsys):
    one = tmp_path / "one"
    assert main(["train", *RUN, *SHORT, "--out", str(one)]) == 0
    assert "1 process(es) on cpu, batch 8 (8 per process)" in capsys.readouterr().out
    h1, h2 = _history(one), _history(two_procs)
    assert (h1["world_size"], h2["world_size"]) == (1, 2)
    l1, l2 = h1["history"]["loss"], h2["history"]["loss"]
    assert len(l1) == len(l2) == 12
    assert max(abs(a - b) for a, b in zip(l1, l2, strict=True)) < 1e-5  # the logged loss is the mean over both ranks
    assert l2[-1] < l2[0] - 0.3  # it did learn
    assert h2["history"]["eval_step"] == [0, 4, 8, 11]  # rank 0 evaluated
    assert _max_weight_gap(one, two_procs) < 1e-5


def _descendants(pid: int) -> list[int]:
    """Child processes, recursively (torchrun starts its workers in sessions of their own)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _kill_after_first_checkpoint(out: Path, extra: list[str]) -> int:
    """Start a 2-process run, SIGKILL it and its workers once a checkpoint exists; return the checkpoint's step."""
    proc = subprocess.Popen(_torchrun([*RUN, *extra, *LONG, "--out", str(out)]), env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 180
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    for pid in [*_descendants(proc.pid), proc.pid]:  # workers first, as a crash or `kill -9` would
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert (out / "checkpoint.pt").exists(), err.decode()[-2000:]
    return load_checkpoint(out / "checkpoint.pt")["step"]


def test_killed_two_process_run_resumes_to_the_uninterrupted_run(tmp_path):
    extra = ["dropout=0.1"]  # each rank's own dropout stream must be restored too
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    proc = _run(_torchrun([*RUN, *extra, *LONG, "--out", str(whole)]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    step = _kill_after_first_checkpoint(cut, extra)
    assert step < 299, "the run finished before it could be killed"
    assert not (cut / "history.json").exists()
    proc = _run(_torchrun([*RUN, *extra, *LONG, "--out", str(cut), "--resume"]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _history(cut)["history"]["loss"] == _history(whole)["history"]["loss"]
    assert _max_weight_gap(cut, whole) == 0.0


def test_batch_that_does_not_split_over_the_processes_is_refused(tmp_path):
    proc = _run(_torchrun([*RUN, "--train", "batch_size=7", "warmup_steps=1", "--out", str(tmp_path)]))
    assert proc.returncode != 0
    assert "batch_size=7 cannot be split evenly over 2 processes" in proc.stderr
    assert "lmtutor train (rank 0): error" in proc.stderr and "lmtutor train (rank 1): error" in proc.stderr
    assert "lmtutor/" not in proc.stderr  # no traceback of ours (torchrun adds its own report of failed workers)


def test_checkpoint_from_another_number_of_processes_is_refused(two_procs, tmp_path, capsys):
    out = tmp_path / "copy"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes((two_procs / "checkpoint.pt").read_bytes())
    assert main(["train", *RUN, *SHORT, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "written by a run on 2 process(es), this run has 1" in err and "--nproc-per-node 2" in err


def test_missing_rendezvous_says_how_to_launch(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    assert main(["train", *RUN]) == 2
    err = capsys.readouterr().err
    assert "MASTER_ADDR, MASTER_PORT are not set" in err and "torchrun --nproc-per-node N -m lmtutor train" in err


def test_rendezvous_without_the_other_processes_times_out_clearly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**_env(), "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    cmd = [sys.executable, "-m", "lmtutor", "train", *RUN, "--dist-timeout", "2", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**env, "MASTER_PORT": str(port)})
    assert proc.returncode == 2
    assert f"rank 0 of 2 could not join the process group at 127.0.0.1:{port} within 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_setting_suggests_the_right_one(capsys):
    assert main(["train", *RUN, "--train", "lrr=1e-3"]) == 2
    assert "TrainConfig has no setting 'lrr'. Did you mean 'lr'?" in capsys.readouterr().err
    assert main(["train", *RUN, "--train", "batch_size=many"]) == 2
    assert "TrainConfig.batch_size must be an int" in capsys.readouterr().err


def test_rows_of_rank_and_single_process_helpers():
    assert ltd.rows_of_rank(8, ltd.World(1, 2, 1)) == slice(4, 8)
    assert ltd.rows_of_rank(8, ltd.World()) == slice(0, 8)
    with pytest.raises(ltd.DistributedError, match="batch_size=6 cannot be split evenly over 4 processes"):
        ltd.rows_of_rank(6, ltd.World(0, 4, 0))
    t = torch.tensor([1.0, 2.0])
    assert ltd.all_mean(t) is t and ltd.from_rank0(3.5) == 3.5 and ltd.world() == ltd.World()


def test_time_budget_stops_every_rank_at_the_same_step(tmp_path):
    """With a time budget the ranks follow rank 0's clock: all stop together (a hang would time out here)."""
    budget = ["--train", "max_steps=100000", "time_budget=3", "warmup_steps=5", "batch_size=8", "eval_interval=100000"]
    proc = _run(_torchrun([*RUN, *budget, "--out", str(tmp_path)]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    h = _history(tmp_path)["history"]
    assert 10 < len(h["step"]) < 100_000 and h["step"][-1] == len(h["step"]) - 1
    assert h["elapsed"][-1] >= 3 and h["lr"][-1] < h["lr"][len(h["lr"]) // 2]  # the schedule followed the clock
