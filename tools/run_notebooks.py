"""Execute chapter notebooks top to bottom and save them with their outputs.

    python tools/run_notebooks.py                         # every notebook, default mode, in place
    python tools/run_notebooks.py notebooks/05_*.ipynb    # some of them
    python tools/run_notebooks.py --fast --no-save        # fast mode, only report the times

Each notebook runs in a fresh kernel with the notebooks folder as working directory. The wall
time of every notebook is printed and, with ``--times FILE``, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path, fast: bool, timeout: int, save: bool) -> float:
    """Run one notebook in a fresh kernel; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ["LMTUTOR_FAST"] = "1" if fast else "0"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    if save:
        nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    p.add_argument("--fast", action="store_true", help="run with LMTUTOR_FAST=1")
    p.add_argument("--no-save", action="store_true", help="do not write outputs back")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    p.add_argument("--times", type=Path, help="write {notebook: seconds} as JSON here")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    times, failed = {}, []
    for path in paths:
        try:
            t = execute(path.resolve(), args.fast, args.timeout, save=not args.no_save)
            times[path.name] = round(t, 1)
            print(f"{path.name:40s} {t:7.1f} s", flush=True)
        except CellExecutionError as err:
            failed.append(path.name)
            print(f"{path.name:40s} FAILED\n{str(err)[-2000:]}", flush=True)
    if args.times:
        args.times.parent.mkdir(parents=True, exist_ok=True)
        args.times.write_text(json.dumps(times, indent=2) + "\n")
    print(f"total {sum(times.values()):.1f} s for {len(times)} notebooks" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
