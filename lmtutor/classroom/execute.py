"""Run one submission's notebook in a private folder, in a session of its own, and end all its processes.

``runner.py`` executes the notebook; its kernel runs with ``LMTUTOR_GRADING=1`` (checks only
record) and a private HOME, TMPDIR, Jupyter runtime folder and working folder inside ``work``.
At the time limit, and also when the run ends, the grader kills the runner's process group and
sweeps every other process of the submission (``sandbox.sweep``): a detached process cannot
outlive its submission. The process ids come from the grader's own bookkeeping, never from a file.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from .sandbox import start, sweep

__all__ = ["RUNNER", "run_isolated", "submission_env"]

RUNNER = Path(__file__).with_name("runner.py")
_DROP = ("LMTUTOR_GRADE_LOG", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "PYTHONSTARTUP")


def submission_env(work: Path, token: str, fast: bool) -> dict[str, str]:
    """The environment of one submission: private writable folders, grading mode, its token."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("LMTUTOR_SUBMISSION")}
    home = Path.home()
    for var, default in [  # shared read-mostly caches keep their location when HOME moves
        ("LMTUTOR_CACHE_DIR", home / ".cache" / "lmtutor" / "runs"),
        ("LMTUTOR_DATA_DIR", home / ".cache" / "lmtutor"),
        ("HF_HOME", home / ".cache" / "huggingface"),
        ("TORCH_HOME", home / ".cache" / "torch"),
    ]:
        env.setdefault(var, str(default))
    private = {name: work / name for name in ("home", "tmp", "runtime", "ipython", "config", "cache")}
    for folder in private.values():
        folder.mkdir(mode=0o700)
    env.update(
        HOME=str(private["home"]),
        TMPDIR=str(private["tmp"]),
        JUPYTER_RUNTIME_DIR=str(private["runtime"]),
        IPYTHONDIR=str(private["ipython"]),
        MPLCONFIGDIR=str(private["config"]),
        XDG_CACHE_HOME=str(private["cache"]),
        LMTUTOR_GRADING="1",
        LMTUTOR_SUBMISSION_TOKEN=token,
        LMTUTOR_FAST="1" if fast else "0",
        PYTHONUNBUFFERED="1",
    )
    return env


def _last_cell(path: Path) -> int | None:
    """Index of the last cell started, from the runner's progress file (only used in messages)."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    cells = [ln.split()[1] for ln in text.splitlines() if ln.startswith("cell ") and ln.split()[1:2] != []]
    return int(cells[-1]) if cells and cells[-1].isdigit() else None


def _result(work: Path) -> dict:
    """The runner's status, validated (the file lies in a folder the submission can write)."""
    try:
        data = json.loads((work / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("status") in ("ok", "crashed"):
        stopped = data.get("stopped_at")
        return {
            "status": data["status"],
            "stopped_at": stopped if isinstance(stopped, int) else None,
            "error": str(data.get("error", ""))[:300],
        }
    tail = (work / "runner.out").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    return {"status": "crashed", "stopped_at": _last_cell(work / "progress"), "error": " | ".join(tail)}


def run_isolated(notebook: Path, work: Path, options: object, since: int) -> dict:
    """Execute ``notebook`` (inside ``work``) with the limits of ``options``; return the run's status.

    Returns ``{"status": "ok" | "crashed" | "timeout", "stopped_at": cell index or None, "error": text,
    "swept": number of leftover processes killed}``.
    """
    token = secrets.token_hex(16)
    cwd = work / "cwd"
    cwd.mkdir(mode=0o700)
    cmd = [sys.executable, str(RUNNER), str(notebook), "--cwd", str(cwd), "--executed", str(work / "out.ipynb")]
    cmd += [f"--result={work / 'result.json'}", f"--progress={work / 'progress'}"]
    cmd += [f"--cell-timeout={getattr(options, 'cell_timeout', 0):g}"]
    env = submission_env(work, token, getattr(options, "fast", True))
    status = None
    with (
        open(work / "runner.out", "wb") as out,
        start(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd) as proc,
    ):
        try:
            proc.wait(timeout=getattr(options, "timeout", 600.0))
        except subprocess.TimeoutExpired:
            status = {"status": "timeout", "stopped_at": _last_cell(work / "progress"), "error": ""}
        swept = sweep(token, work, proc.pid, since)
        proc.wait()
    status = status or _result(work)
    status["swept"] = swept
    return status
