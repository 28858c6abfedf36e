"""The lmtutor command: training runs and classroom tools for the book's chapter notebooks.

    lmtutor train --preset cpu                                # the chapter-9 run (torchrun -m lmtutor train: DDP)
    lmtutor student notebooks/ -o student/                    # student notebooks (solutions removed)
    lmtutor grade submissions/ -o report/ --source notebooks/05_self_attention.ipynb [--cases extra_cases.py]
    lmtutor exercises --notebooks notebooks/ --markdown       # the exercises per chapter
    lmtutor export-nbgrader notebooks/05_self_attention.ipynb -o course/source/ch05/

Also runnable as `python -m lmtutor ...`. Run `lmtutor COMMAND --help` for the options.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .runs import add_train_parser

__all__ = ["main"]


def _student(args: argparse.Namespace) -> int:
    from .classroom.student import build_student

    written = build_student(args.sources, args.output)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} student notebook(s) in {args.output}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .classroom.grade import GradeOptions, grade_folder
    from .classroom.notebooks import NotebookError, expected_exercises, read_notebook
    from .classroom.report import summary, write_report

    output, submissions = Path(args.output), Path(args.submissions)
    if output.resolve() == submissions.resolve():
        raise NotebookError(f"{output}: the report folder must not be the submissions folder; use e.g. -o report/.")
    expected = None
    if args.source:
        expected = expected_exercises(read_notebook(args.source))
        if not expected:
            raise NotebookError(f"{args.source}: no check cells (tagged 'check') found; is this a chapter notebook?")
    options = GradeOptions(args.timeout, args.cell_timeout, not args.full, expected, output / "notebooks", args.cases)
    print(f"grading {submissions} ({'fast' if options.fast else 'default'} mode, {args.timeout:g} s per notebook)")
    start = time.monotonic()
    results = grade_folder(submissions, options, jobs=args.jobs, exclude=output)
    write_report(results, output, options, source=str(args.source or ""))
    print(summary(results))
    print(f"graded in {time.monotonic() - start:.0f} s; report: {output / 'report.csv'}, {output / 'report.json'}")
    return 0


def _exercises(args: argparse.Namespace) -> int:
    from .classroom.listing import exercise_listing, update_markdown_block

    if args.update:
        changed = update_markdown_block(Path(args.update), exercise_listing(args.notebooks, markdown=True))
        print(f"{args.update}: {'updated' if changed else 'already up to date'}")
    else:
        print(exercise_listing(args.notebooks, markdown=args.markdown))
    return 0


def _export_nbgrader(args: argparse.Namespace) -> int:
    from .classroom.nbgrader_export import export_nbgrader

    for path in export_nbgrader(args.sources, args.output):
        print(f"wrote {path}")
    print("next: nbgrader generate_assignment <assignment> (in the course folder); see the instructor page")
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lmtutor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("student", help="build student notebooks: solutions replaced by stubs")
    s.add_argument("sources", nargs="+", type=Path, help="chapter notebooks or folders of them")
    s.add_argument("-o", "--output", type=Path, required=True, help="output folder (or .ipynb file for one notebook)")
    s.set_defaults(run=_student)
    g = sub.add_parser("grade", help="run submitted notebooks and write report.csv / report.json")
    g.add_argument("submissions", type=Path, help="folder of submitted notebooks (searched recursively), or one")
    g.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    g.add_argument(
        "--source", type=Path, help="the instructor's chapter notebook: the exercises every student is graded on"
    )
    g.add_argument("--timeout", type=_positive, default=600, help="seconds per notebook (default 600)")
    g.add_argument("--cell-timeout", type=_positive, default=0, help="interrupt a cell after this many seconds")
    g.add_argument(
        "--cases", type=Path, help="instructor file (.py) of exercises and instructor-only cases, kept from students"
    )
    g.add_argument(
        "--jobs", type=int, default=1, help="notebooks graded in parallel (default 1: one at a time, fully isolated)"
    )
    g.add_argument("--full", action="store_true", help="run in default mode instead of fast mode (LMTUTOR_FAST=1)")
    g.set_defaults(run=_grade)
    e = sub.add_parser("exercises", help="list the exercises (per chapter with --notebooks)")
    e.add_argument("--notebooks", type=Path, help="folder of chapter notebooks: group the exercises by chapter")
    e.add_argument("--markdown", action="store_true", help="print Markdown (for the instructor page)")
    e.add_argument("--update", type=Path, help="rewrite the generated list inside this Markdown file")
    e.set_defaults(run=_exercises)
    x = sub.add_parser("export-nbgrader", help="write an nbgrader source assignment")
    x.add_argument("sources", nargs="+", type=Path, help="chapter notebooks or folders of them")
    x.add_argument("-o", "--output", type=Path, required=True, help="e.g. course/source/ch05/")
    x.set_defaults(run=_export_nbgrader)
    add_train_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``lmtutor`` command; bad input prints one clear line and returns 2."""
    from .checkpoint import CheckpointError
    from .data import DataError
    from .distributed import DistributedError

    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError, KeyError, CheckpointError, DataError, DistributedError) as err:
        rank = os.environ.get("RANK") if os.environ.get("WORLD_SIZE", "1") != "1" else None
        where = f" (rank {rank})" if rank is not None else ""  # under torchrun every process reports its own error
        sys.stderr.write(f"lmtutor {args.command}{where}: error: {err}\n")  # one write: whole lines from each rank
        sys.stderr.flush()
        return 2


if __name__ == "__main__":
    sys.exit(main())
