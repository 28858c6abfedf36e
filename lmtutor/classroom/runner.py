"""Execute one submitted notebook for the grader, in a process of its own.

    python runner.py NOTEBOOK --result RESULT.json --executed OUT.ipynb --progress PROGRESS

The grader (``grade.py``) starts this file as a script, so it imports only nbclient and nbformat
(not torch): every submission pays for one kernel start, not for two torch imports. Errors in
cells do not stop the run (``allow_errors``), so one broken exercise does not zero the others.
PROGRESS receives ``cell <index>`` before each code cell, so that the grader can say where a
notebook stopped. No process id is written: the grader finds the processes to end by itself.
RESULT receives ``{"status": "ok" | "crashed", "stopped_at": index or null, "error": text}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Run as a script, Python puts this folder first on sys.path: keep its module names from shadowing others.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Execute one notebook for the lmtutor grader.")
    p.add_argument("notebook")
    p.add_argument("--result", required=True, help="where to write the run's status as JSON")
    p.add_argument("--executed", required=True, help="where to write the executed notebook")
    p.add_argument("--progress", required=True, help="appended: 'cell INDEX' before each cell")
    p.add_argument("--cwd", default=os.getcwd(), help="working directory of the kernel")
    p.add_argument("--cell-timeout", type=float, default=0, help="seconds per cell, 0 = no limit")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Execute the notebook; return the status written to ``--result``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.read(args.notebook, as_version=4)

    def note(line: str) -> None:
        with open(args.progress, "a", encoding="utf-8") as progress:
            progress.write(line + "\n")

    client = NotebookClient(
        nb,
        kernel_name="python3",  # whatever kernel the student used, grade with this Python
        timeout=args.cell_timeout or None,
        interrupt_on_timeout=bool(args.cell_timeout),
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": args.cwd}},
        on_cell_execute=lambda cell, cell_index: note(f"cell {cell_index}"),
    )
    status: dict = {"status": "ok", "stopped_at": None, "error": ""}
    try:
        client.execute()
    except DeadKernelError:
        died = "the kernel died (the code ended the Python process, e.g. os._exit, or it ran out of memory)"
        status = {"status": "crashed", "stopped_at": _last_cell(args.progress), "error": died}
    except Exception as err:  # anything else that stops nbclient: report it, never hide it
        status = {"status": "crashed", "stopped_at": _last_cell(args.progress), "error": f"{type(err).__name__}: {err}"}
    finally:
        nbformat.write(nb, args.executed)
    return status


def _last_cell(progress: str) -> int | None:
    """Index of the last cell that started, from the progress file."""
    if not os.path.exists(progress):
        return None
    with open(progress, encoding="utf-8") as f:
        cells = [line.split()[1] for line in f if line.startswith("cell ")]
    return int(cells[-1]) if cells else None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the script."""
    args = _parse(argv)
    status = run(args)
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(status, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
