"""The book itself: run time of every notebook (default and fast mode), the nbval run, the site build.

    python bench/book.py                 # everything (default mode of all notebooks takes long)
    python bench/book.py --fast-only     # only the fast-mode run of every notebook
    python bench/book.py --build-only    # only the website build from the committed outputs
    python bench/book.py --only nbval --only build
    python bench/book.py notebooks/09_loss_and_training.ipynb --only fast

Parts: ``default`` and ``fast`` execute each notebook in a fresh kernel without saving
(``tools/run_notebooks.py --no-save``); ``nbval`` is CI's notebook test
(``LMTUTOR_FAST=1 pytest --nbval-lax``) timed as a whole; ``build`` is
``jupyter-book build -W -n --keep-going`` into a temporary folder. A run of some parts keeps the
other parts of an earlier ``bench/results/book.json``. Targets: CI's notebook run <= 10 minutes,
site build <= 60 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, ROOT, run_and_write, table  # bench/common.py, next to this script

PARTS = ("default", "fast", "nbval", "build")
TARGETS = {"nbval_s": 600, "build_s": 60}


def _env(fast: bool | None = None) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if fast is not None:
        env["LMTUTOR_FAST"] = "1" if fast else "0"
    return env


def _clean(text: str) -> str:
    """Output without colour codes and with paths relative to the repository."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace(str(ROOT) + "/", "")


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command in the repository root; (seconds, exit status, last lines of its output)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = "\n".join(_clean(proc.stdout + proc.stderr).strip().splitlines()[-5:])
    return round(time.perf_counter() - t0, 1), proc.returncode, tail


def notebook_times(notebooks: list[str], fast: bool) -> dict:
    """Seconds per notebook in one mode, through tools/run_notebooks.py (nothing is saved)."""
    with tempfile.TemporaryDirectory() as tmp:
        times_file = Path(tmp) / "times.json"
        cmd = [sys.executable, "tools/run_notebooks.py", "--no-save", "--times", str(times_file), *notebooks]
        seconds, rc, tail = _timed(cmd + (["--fast"] if fast else []), _env(fast))
        times = json.loads(times_file.read_text()) if times_file.exists() else {}
    return {"per_notebook_s": times, "total_s": round(sum(times.values()), 1), "wall_s": seconds, "ok": rc == 0}


def nbval_time(notebooks: list[str]) -> dict:
    """CI's notebook test, timed as a whole."""
    cmd = [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider"]
    seconds, rc, tail = _timed(cmd + (notebooks or ["notebooks"]), _env(fast=True))
    return {"wall_s": seconds, "ok": rc == 0, "summary": tail.splitlines()[-1] if tail else ""}


def build_time() -> dict:
    """Website build from the committed outputs (nothing is executed), into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["jupyter-book", "build", ".", "-W", "-n", "--keep-going", "--path-output", tmp]
        seconds, rc, tail = _timed(cmd, _env())
    warnings = tail.count("WARNING")
    return {"wall_s": seconds, "ok": rc == 0, "flags": "-W -n --keep-going", "summary": "" if rc == 0 else tail,
            "warnings_in_tail": warnings}  # fmt: skip


def previous(out: str | None) -> dict:
    """The parts of an earlier run, kept when only some parts run now."""
    path = Path(out or RESULTS) / "book.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: data[k] for k in PARTS if k in data}


def run(args: argparse.Namespace) -> dict:
    """Measure the chosen parts and merge them with the earlier ones."""
    notebooks = [str(Path(n)) for n in args.notebooks]
    if not notebooks and not list((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        raise SystemExit("no chapter notebooks found in notebooks/")
    result = previous(args.out)
    measure = {
        "default": lambda: notebook_times(notebooks, fast=False),
        "fast": lambda: notebook_times(notebooks, fast=True),
        "nbval": lambda: nbval_time(notebooks),
        "build": build_time,
    }
    for part in args.only:
        print(f"== {part}", flush=True)
        result[part] = measure[part]()
    checks = {}
    if "nbval" in result:
        checks["nbval_within_10_min"] = result["nbval"]["wall_s"] <= TARGETS["nbval_s"]
    if "build" in result:
        checks["build_within_60_s"] = result["build"]["wall_s"] <= TARGETS["build_s"]
    return {**result, "targets_s": TARGETS, "meets_targets": checks}


def notebook_rows(result: dict) -> list[list]:
    """[notebook, default seconds, fast seconds] for every notebook measured in either mode."""
    times = {part: result.get(part, {}).get("per_notebook_s", {}) for part in ("default", "fast")}
    names = sorted(set(times["default"]) | set(times["fast"]))
    return [[n, times["default"].get(n, "-"), times["fast"].get(n, "-")] for n in names]


def report(result: dict) -> str:
    """Per-notebook table and the totals."""
    rows = notebook_rows(result)
    lines = [table(rows, ["notebook", "default s", "fast s"])] if rows else []
    for part in ("default", "fast"):
        if part in result:
            lines.append(f"{part} mode: total {result[part]['total_s']} s, ok={result[part]['ok']}")
    if "nbval" in result:
        lines.append(f"nbval (fast mode, CI): {result['nbval']['wall_s']} s, ok={result['nbval']['ok']}")
    if "build" in result:
        lines.append(f"site build: {result['build']['wall_s']} s, ok={result['build']['ok']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", help="default: every notebooks/[0-9]*.ipynb")
    p.add_argument("--only", action="append", choices=PARTS, help="measure only these parts (repeatable)")
    p.add_argument("--fast-only", action="store_true", help="same as --only fast")
    p.add_argument("--build-only", action="store_true", help="same as --only build")
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    args = p.parse_args(argv)
    chosen = list(args.only or [])
    chosen += ["fast"] * args.fast_only + ["build"] * args.build_only
    args.only = [part for part in PARTS if part in chosen] or list(PARTS)
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the chosen parts, print the table, write the JSON."""
    return run_and_write("book", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
