"""Time to grade a class: 30 generated submissions of two chapter-5 exercises, one at a time.

    python bench/grading.py                   # 30 submissions, --jobs 1 (the isolated default)
    python bench/grading.py --students 6 --jobs 2 --out /tmp/grading.json   # a quick run

The class mixes what a teacher gets: correct notebooks, partly wrong ones, unattempted ones and a
few hostile ones (a replaced ``check``, forged log lines), all built by the hostile-submission test
(``tests/test_grading_security.py``). No notebook loops, so the time is the grading itself: one
fresh kernel per notebook (it imports PyTorch and lmtutor), the learner's functions run on the
grader's cases, and the verdicts computed in the grader. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, machine_info  # bench/common.py, next to this script; puts the clone on sys.path

from lmtutor.classroom import GradeOptions, grade_folder


def make_class(folder: Path, students: int) -> None:
    """``students`` notebooks: 6 of every 10 correct, 2 partly wrong, 1 unattempted, 1 hostile."""
    import nbformat

    from tests.test_grading_security import FORGED_LOG, MONKEYPATCH, NAMES, SOLUTIONS, STUBS, notebook

    wrong = dict(SOLUTIONS, **{NAMES[0]: SOLUTIONS[NAMES[0]].replace("/ q.shape[-1] ** 0.5", "")})
    kinds = [notebook(SOLUTIONS)] * 6 + [notebook(wrong)] * 2 + [notebook(STUBS)]
    kinds += [notebook(STUBS, MONKEYPATCH) if students % 2 else notebook(STUBS, after=FORGED_LOG % NAMES[0])]
    for i in range(students):
        nbformat.write(kinds[i % len(kinds)], folder / f"student_{i:02d}.ipynb")


def main(argv: list[str] | None = None) -> dict:
    """Grade the generated class; print and return the times."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_class(folder, args.students)
        start = time.monotonic()
        results = grade_folder(folder, GradeOptions(timeout=args.timeout), jobs=args.jobs, echo=lambda _: None)
        total = time.monotonic() - start
    per = [r.seconds for r in results]
    data = {
        "students": args.students,
        "jobs": args.jobs,
        "total_s": round(total, 1),
        "per_notebook_median_s": round(statistics.median(per), 1),
        "statuses": sorted({r.status for r in results}),
        "machine": machine_info(),
    }
    print(
        f"{args.students} submissions, --jobs {args.jobs}: {total:.0f} s in all, "
        f"{data['per_notebook_median_s']} s per notebook (median)"
    )
    if args.out:
        args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


if __name__ == "__main__":
    assert ROOT.is_dir()
    main()
