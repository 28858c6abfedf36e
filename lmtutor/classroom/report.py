"""The grading report: report.csv (one row per student and exercise), report.json and a terminal summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

from .grade import GradeOptions, NotebookGrade

__all__ = ["CSV_COLUMNS", "write_report", "summary"]

CSV_COLUMNS = ["student", "notebook_status", "exercise", "status", "score", "points", "message"]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_text(results: list[NotebookGrade]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for res in results:
        if not res.exercises:  # nothing to grade (unreadable notebook and no --source): still one row
            writer.writerow([res.student, res.status, "", "not_run", 0, 0, res.message])
        for ex in res.exercises:
            writer.writerow(
                [res.student, res.status, ex.exercise, ex.status, f"{ex.score:g}", f"{ex.points:g}", ex.message]
            )
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
