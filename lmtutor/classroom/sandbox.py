"""Processes of one submission: start them in a session of their own, find every one of them, end them all.

A submission's notebook runs in ``runner.py`` (started by the grader with ``start_new_session``),
whose kernel and anything the learner's code starts inherit a random token in their environment
and a working folder inside the submission's private folder. The grader ends the submission by
killing the runner's process group, then sweeping ``/proc`` for every process that carries the
token, works inside the folder, descends from the runner, or was re-parented to the grader
(the grader makes itself a "child subreaper", so a detached grandchild is re-parented to it, not
to init). Nothing here reads a process id from a file the submission could write.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

__all__ = ["become_subreaper", "now_ticks", "start", "sweep", "Tracked"]

_PR_SET_CHILD_SUBREAPER = 36
_LOCK = threading.Lock()
_OURS: set[int] = set()  # runner processes the grader started and still waits for


class Tracked:
    """Context manager around a runner started with ``start``: while inside, it is not swept as an orphan."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def __enter__(self) -> subprocess.Popen:
        return self.proc

    def __exit__(self, *exc: object) -> None:
        with _LOCK:
            _OURS.discard(self.proc.pid)


def start(cmd: list[str], **kwargs: object) -> Tracked:
    """Start a runner in a new session, recorded as the grader's own child before any sweep can see it."""
    with _LOCK:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        _OURS.add(proc.pid)
    return Tracked(proc)


def now_ticks() -> int:
    """The time since boot in clock ticks (the unit of a process's start time in /proc), 0 if unknown."""
    try:
        return int(float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError):
        return 0


def become_subreaper(on: bool = True) -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False where the OS cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time in clock ticks) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _carries(pid: int, token: bytes, folder: str) -> bool:
    """True if the process has ``token`` in its environment or its working folder inside ``folder``."""
    try:
        if token in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            return True
    except OSError:
        pass
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == folder or cwd.startswith(folder + os.sep)


def _members(token: bytes, folder: str, root: int, since: int) -> list[int]:
    """Live processes of the submission (zombies left out: they are only waited for)."""
    me = os.getpid()
    table = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := _stat(int(d)))}
    with _LOCK:
        ours = set(_OURS) - {root}
    found: set[int] = set()
    for pid, (ppid, state, start) in table.items():
        if pid == me or state == "Z":
            continue
        chain, p = [], pid
        while p > 1 and p in table and p not in chain and p != me:
            chain.append(p)
            p = table[p][0]
        if root in chain or _carries(pid, token, folder) or (ppid == me and pid not in ours and start >= since):
            found.add(pid)
    return sorted(found)


def _reap() -> None:
    """Wait for zombie children of the grader that are not its runners (orphans it adopted, now dead)."""
    with _LOCK:
        ours = set(_OURS)
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in ours and (s := _stat(int(d))) and s[0] == os.getpid() and s[1] == "Z":
            try:
                os.waitpid(int(d), os.WNOHANG)
            except ChildProcessError:
                pass


def sweep(token: str, folder: Path, root: int, since: int, rounds: int = 50) -> int:
    """Kill the process group ``root`` and every process of the submission; return how many were killed."""
    try:
        os.killpg(root, signal.SIGKILL)
    except OSError:
        pass
    if not os.path.isdir("/proc"):  # not Linux: the process group is all we can end
        return 0
    killed: set[int] = set()
    for _ in range(rounds):
        found = _members(f"LMTUTOR_SUBMISSION_TOKEN={token}".encode(), str(folder), root, since)
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(0.05)
        _reap()
    _reap()
    return len(killed)
