"""Where the book keeps files, and how it writes them so that a crash never leaves half a file.

``data_dir()`` holds downloads (Tiny Shakespeare), ``cache_dir()`` the checkpoints the book trains;
both follow an environment variable. ``atomic_file`` and ``atomic_folder`` write next to the target
and rename at the end (a reader sees the old version or the new one, never a mix), and clean up
the temporaries that interrupted writes left behind. Every writer of the package goes through them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["data_dir", "cache_dir", "atomic_file", "atomic_folder", "clean_stale_temps"]


def _folder(env: str, *default: str) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else Path.home().joinpath(*default)


def data_dir() -> Path:
    """Folder for downloaded data: ``$LMTUTOR_DATA_DIR`` or ``~/.cache/lmtutor``."""
    return _folder("LMTUTOR_DATA_DIR", ".cache", "lmtutor")


def cache_dir() -> Path:
    """Folder for checkpoints the book trains: ``$LMTUTOR_CACHE_DIR`` or ``~/.cache/lmtutor/runs``."""
    return _folder("LMTUTOR_CACHE_DIR", ".cache", "lmtutor", "runs")


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C there: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale_temps(target: Path, suffix: str, max_age: float = 3600.0) -> list[Path]:
    """Delete temporaries ``<target>.<pid>.*<suffix>`` left by interrupted writes of ``target``.

    A temporary is stale when its writer (the pid in its name) is gone or is this process, or when it
    has not changed for ``max_age`` seconds; a live writer's fresh temporary is kept.
    """
    removed = []
    for tmp in target.parent.glob(f"{glob.escape(target.name)}.*{suffix}"):
        pid = tmp.name[len(target.name) + 1 :].split(".")[0]
        try:
            age = time.time() - tmp.stat().st_mtime
            writer_gone = pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid)))
            if writer_gone or age > max_age:
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()  # a folder: an interrupted model build
                removed.append(tmp)
        except OSError:
            pass  # removed meanwhile, or not ours to remove
    return removed


@contextlib.contextmanager
def atomic_file(
    path: str | Path, mode: str = "wb", suffix: str = ".tmp", fsync: bool = False, **kwargs
) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; it replaces ``path`` only if the block succeeds.

    The temporary is named ``<path>.<pid>.<random><suffix>`` so that ``clean_stale_temps`` can tell
    whose it is; its name is the file object's ``.name``. ``fsync=True`` flushes it to disk first;
    ``kwargs`` go to ``open`` (e.g. ``encoding="utf-8"`` in text mode).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_folder(final: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``final``; rename it to ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(final.parent / f".{final.name}", ".tmp")  # left by builds that were interrupted
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists():  # another process finished first: keep its folder
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
