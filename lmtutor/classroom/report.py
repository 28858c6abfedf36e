"""The grading report: report.csv (one row per student and exercise), report.json and a terminal summary.

Every cell of report.csv is safe to open in a spreadsheet: text a student controls (a file name, a
message quoting an error) that starts like a formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

from ..storage import atomic_file
from .grade import GradeOptions, NotebookGrade

__all__ = ["CSV_COLUMNS", "safe_cell", "write_report", "summary"]

CSV_COLUMNS = ["student", "notebook_status", "exercise", "status", "score", "points", "message"]


def _atomic_write(path: Path, text: str) -> None:
    with atomic_file(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ' before = + - @ tab CR (no formula injection)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_text(results: list[NotebookGrade]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for res in results:
        rows = [[res.student, res.status, "", "not_run", 0, 0, res.message]] if not res.exercises else []
        rows += [
            [res.student, res.status, ex.exercise, ex.status, f"{ex.score:g}", f"{ex.points:g}", ex.message]
            for ex in res.exercises
        ]  # an unreadable or non-notebook file without --source: still one row
        writer.writerows([[safe_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def _per_exercise(results: list[NotebookGrade]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {}
    for res in results:
        for ex in res.exercises:
            counts.setdefault(ex.exercise, Counter())[ex.status] += 1
    return {name: dict(sorted(c.items())) for name, c in counts.items()}


def write_report(results: list[NotebookGrade], output: str | Path, options: GradeOptions, source: str = "") -> Path:
    """Write report.csv and report.json into ``output``; return the folder."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    data = {
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "timeout_s": options.timeout,
            "cell_timeout_s": options.cell_timeout or None,
            "fast": options.fast,
            "source": source or None,
            "instructor_cases": str(options.cases_file) if options.cases_file else None,
        },
        "students": [r.to_dict() for r in results],
        "exercises": _per_exercise(results),
    }
    _atomic_write(output / "report.csv", _csv_text(results))
    _atomic_write(output / "report.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return output


def summary(results: list[NotebookGrade]) -> str:
    """A table for the terminal: one line per student, then the counts per notebook status."""
    width = max([len("student")] + [len(r.student) for r in results])
    lines = [f"{'student':{width}}  {'status':9}  {'score':>9}  {'time':>7}  note"]
    for r in results:
        note = r.message if r.status != "ok" else ""
        note = note if len(note) <= 90 else note[:87] + "..."
        score = f"{r.total:g}/{r.max_score:g}"
        lines.append(f"{r.student:{width}}  {r.status:9}  {score:>9}  {r.seconds:6.1f}s  {note}".rstrip())
    counts = Counter(r.status for r in results)
    lines.append(f"{len(results)} notebook(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)
