"""Run one notebook in a separate process group with a wall-clock limit, and kill it all when it overruns.

``runner.py`` executes the notebook and starts the kernel (in a session of its own). On a timeout
both process groups are killed: the runner's and the kernel's (whose pid the runner reports), so
an endless loop, or a child process it started, cannot outlive the grading.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["RUNNER", "run_isolated"]

RUNNER = Path(__file__).with_name("runner.py")


def _kill_group(pid: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # Windows: no process groups
            os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def _progress(path: Path) -> tuple[int | None, int | None]:
    """(kernel pid, index of the last cell started) from the runner's progress file."""
    kernel = cell = None
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            if key == "kernel":
                kernel = int(value) or None
            elif key == "cell":
                cell = int(value)
    return kernel, cell


def run_isolated(path: Path, work: Path, timeout: float, cell_timeout: float = 0, fast: bool = True) -> dict:
    """Run ``runner.py`` on one notebook in the folder ``work`` with a wall-clock limit; return its status."""
    cwd = work / "cwd"
    cwd.mkdir()
    files = {k: work / n for k, n in [("log", "checks.jsonl"), ("result", "result.json"), ("progress", "progress")]}
    cmd = [sys.executable, str(RUNNER), str(path.resolve()), "--cwd", str(cwd), "--executed", str(work / "out.ipynb")]
    cmd += [f"--{k}={v}" for k, v in files.items()] + [f"--cell-timeout={cell_timeout:g}"]
    env = {k: v for k, v in os.environ.items() if k != "LMTUTOR_GRADE_LOG"}
    env.update(LMTUTOR_FAST="1" if fast else "0", PYTHONUNBUFFERED="1")
    with open(work / "runner.out", "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kernel, cell = _progress(files["progress"])
            for pid in (proc.pid, kernel):
                if pid:
                    _kill_group(pid)
            proc.wait()
            return {"status": "timeout", "stopped_at": cell, "error": ""}
    if files["result"].exists():
        return json.loads(files["result"].read_text(encoding="utf-8"))
    tail = (work / "runner.out").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    return {"status": "crashed", "stopped_at": _progress(files["progress"])[1], "error": " | ".join(tail)}
