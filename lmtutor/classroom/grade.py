"""Grading: run every submitted notebook in its own process with a time limit and collect its checks.

Each notebook runs in a fresh kernel (``runner.py``) with ``LMTUTOR_GRADE_LOG`` pointing at a
file of its own, so every ``lt.check`` records its result there. The last result of each
exercise counts. A notebook that is malformed, crashes or runs past the time limit gets a clear
notebook-level status (``malformed`` / ``crashed`` / ``timeout``, ``errors`` when cells raised but
the run reached the end, else ``ok``) and never stops the grading of the others.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from .execute import run_isolated
from .notebooks import NotebookError, check_names, expected_exercises, find_notebooks, read_notebook, short_source

__all__ = ["GradeOptions", "ExerciseGrade", "NotebookGrade", "grade_notebook", "grade_folder", "read_check_log"]

CHECK_STATUSES = ("passed", "failed", "error", "not_attempted")


@dataclass
class GradeOptions:
    """How to run each submission."""

    timeout: float = 600.0  # wall-clock seconds per notebook, kernel start included
    cell_timeout: float = 0.0  # seconds per cell before it is interrupted (0: no per-cell limit)
    fast: bool = True  # LMTUTOR_FAST=1: tiny configs; the checks do not depend on it
    expected: list[str] | None = None  # the exercises to grade (from the instructor's notebook)
    executed_dir: Path | None = None  # where to keep the executed notebooks (feedback for students)


@dataclass
class ExerciseGrade:
    """One exercise of one student."""

    exercise: str
    status: str  # passed | failed | error | not_attempted | missing | not_run
    score: float
    points: float
    message: str


@dataclass
class NotebookGrade:
    """One submitted notebook: its run and its exercises."""

    student: str
    notebook: str
    status: str  # ok | errors | crashed | timeout | malformed
    message: str
    seconds: float
    exercises: list[ExerciseGrade] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Points scored."""
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        """Points available."""
        return sum(e.points for e in self.exercises)

    def to_dict(self) -> dict:
        """Plain data for report.json."""
        data = asdict(self)
        data.update(total=self.total, max=self.max_score, seconds=round(self.seconds, 1))
        return data


def read_check_log(path: Path) -> tuple[dict[str, dict], int]:
    """The last valid record per exercise in a grade log, and how many lines were unreadable."""
    records: dict[str, dict] = {}
    bad = 0
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        valid = isinstance(rec, dict) and isinstance(rec.get("name"), str) and rec.get("status") in CHECK_STATUSES
        if valid and isinstance(rec.get("points", 1), (int, float)) and isinstance(rec.get("message", ""), str):
            records[rec["name"]] = rec
        else:
            bad += 1
    return records, bad


def _registered_points(name: str) -> float | None:
    """Points of a registered exercise (the grader trusts the registry over the log), None if unknown."""
    try:
        from lmtutor.exercises import get

        return float(get(name).points)
    except Exception:  # not registered here (e.g. defined inside the notebook), or a topic module fails to import
        return None


def _cell(nb: NotebookNode, index: int | None) -> str:
    if index is None or not 0 <= index < len(nb.cells):
        return "before the first cell"
    return f"cell {index + 1} `{short_source(nb.cells[index])}`"


def _errors(nb: NotebookNode) -> dict[int, str]:
    """What each cell with an error output raised, by cell index."""
    found: dict[int, str] = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and i not in found:
                found[i] = f"{out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:120]}".rstrip(": ")
                if out.get("ename") == "KeyboardInterrupt":
                    found[i] = "KeyboardInterrupt (stopped by the time limit per cell)"
    return found


def _run_status(run: dict, executed: NotebookNode, options: GradeOptions) -> tuple[str, str]:
    """Notebook-level status and its message from the runner's result."""
    where = _cell(executed, run.get("stopped_at"))
    if run["status"] == "timeout":
        return "timeout", (
            f"stopped after the time limit of {options.timeout:g} s while running {where} "
            "(an endless loop, or too slow); the cells after it did not run"
        )
    if run["status"] == "crashed":
        return "crashed", f"crashed in {where}: {run.get('error') or 'unknown error'}; the cells after it did not run"
    errors = [f"{_cell(executed, i)} raised {what}" for i, what in _errors(executed).items()]
    if not errors:
        return "ok", "ran to the end"
    more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
    return "errors", f"ran to the end; {len(errors)} cell(s) raised an error: " + "; ".join(errors[:3]) + more


def _exercise(name: str, record: dict | None, present: bool, run_status: str, cell_error: str = "") -> ExerciseGrade:
    """The grade of one expected exercise from its last check record (or why there is none)."""
    points = _registered_points(name)
    if points is None:
        points = max(0.0, float((record or {}).get("points", 1)))
    if record:
        score = points if record["status"] == "passed" else 0.0
        return ExerciseGrade(name, record["status"], score, points, record.get("message", ""))
    if run_status == "malformed":
        return ExerciseGrade(name, "not_run", 0.0, points, "not graded: the notebook could not be read")
    if not present:
        return ExerciseGrade(name, "missing", 0.0, points, "the notebook has no check for this exercise (deleted?)")
    why = {"timeout": "the notebook was stopped (time limit) before", "crashed": "the notebook crashed before"}
    if run_status in why:
        text = f"{why[run_status]} this check finished"
    elif cell_error:
        text = f"its cell raised {cell_error}"
    else:
        text = "its cell ran but recorded no result (was it edited?)"
    return ExerciseGrade(name, "not_run", 0.0, points, f"the check did not complete: {text}")


def _executed(path: Path, submitted: NotebookNode) -> NotebookNode:
    """The executed notebook the runner wrote, or the submitted one when there is none (or it is unreadable)."""
    try:
        return read_notebook(path) if path.exists() else submitted
    except NotebookError:
        return submitted


def grade_notebook(path: Path, student: str, options: GradeOptions) -> NotebookGrade:
    """Grade one submitted notebook; never raises for anything the notebook contains."""
    start = time.monotonic()
    try:
        nb = read_notebook(path)
    except NotebookError as err:
        expected = options.expected or []
        grades = [_exercise(name, None, False, "malformed") for name in expected]
        message = str(err).removeprefix(f"{path}: ")
        return NotebookGrade(student, path.name, "malformed", message, time.monotonic() - start, grades)
    expected = options.expected or expected_exercises(nb)
    present = {n for cell in nb.cells if cell.cell_type == "code" for n in check_names(cell.source)}
    with tempfile.TemporaryDirectory(prefix="lmtutor-grade-") as tmp:
        work = Path(tmp)
        run = run_isolated(path, work, options.timeout, options.cell_timeout, options.fast)
        executed = _executed(work / "out.ipynb", nb)
        status, message = _run_status(run, executed, options)
        records, bad = read_check_log(work / "checks.jsonl")
        if options.executed_dir and (work / "out.ipynb").exists():
            target = options.executed_dir / f"{student}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / "out.ipynb", target)
    if bad:
        message += f"; {bad} unreadable line(s) in the check log were ignored"
    failed = {n: what for i, what in _errors(executed).items() for n in check_names(executed.cells[i].source)}
    grades = [_exercise(n, records.get(n), n in present, status, failed.get(n, "")) for n in expected]
    return NotebookGrade(student, path.name, status, message, time.monotonic() - start, grades)


def _grade_safely(path: Path, student: str, options: GradeOptions) -> NotebookGrade:
    """``grade_notebook``, turning a failure of the grader itself into a report entry."""
    try:
        return grade_notebook(path, student, options)
    except Exception as err:
        grades = [_exercise(name, None, True, "crashed") for name in options.expected or []]
        message = f"the grader could not run this notebook ({type(err).__name__}: {err})"
        return NotebookGrade(student, path.name, "crashed", message, 0.0, grades)


def _student_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix() if root.is_dir() else path.stem


def grade_folder(
    submissions: str | Path,
    options: GradeOptions | None = None,
    jobs: int = 1,
    exclude: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[NotebookGrade]:
    """Grade every notebook in a folder (or one notebook); results sorted by student."""
    options = options or GradeOptions()
    root = Path(submissions)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder or notebook. Give the folder of submitted notebooks.")
    paths = find_notebooks(root, exclude) if root.is_dir() else [root]
    if not paths:
        raise FileNotFoundError(f"{root}: no .ipynb files found in this folder.")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    _registered_points("")  # import the exercise registry once, before the worker threads use it
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_grade_safely, p, _student_id(p, root), options) for p in paths]
        for future in as_completed(futures):
            res = future.result()
            echo(f"  {res.student}: {res.status} ({res.seconds:.1f} s)")
            results.append(res)
    _fill_points(results)
    return sorted(results, key=lambda r: r.student)


def _fill_points(results: list[NotebookGrade]) -> None:
    """Exercises that did not run in one notebook take their points from the notebooks where they ran."""
    known: dict[str, float] = {}
    for res in results:
        for ex in res.exercises:
            if ex.status in CHECK_STATUSES:
                known[ex.exercise] = max(known.get(ex.exercise, 0.0), ex.points)
    for res in results:
        for ex in res.exercises:
            if ex.status not in CHECK_STATUSES and ex.exercise in known:
                ex.points = known[ex.exercise]
