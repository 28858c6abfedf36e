"""Grading: run every submission in its own private folder and session; judge its functions in the grader.

For each exercise, the grader inserts after the cell that checks it a cell of its own
(``harvest.py``): it runs the learner's function on the grader's inputs and saves the outputs as
data. After the run (and after every process of the submission has been ended), the grader
judges those outputs against the reference in its own process (``verdict.py``), so nothing the
notebook does to ``check``, to the cases or to a log changes a mark. Every submission is read into
memory before the first one runs, so no submission can rewrite another before it is graded. A
notebook that is malformed, crashes or runs past the time limit gets a clear notebook-level status
(``malformed`` / ``crashed`` / ``timeout``, ``errors`` when cells raised but the run reached the
end, else ``ok``) and never stops the grading of the others.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .execute import run_isolated
from .inject import GRADER_TAG, add_harvest_cells, show_verdicts
from .notebooks import NotebookError, expected_exercises, read_notebook, short_source
from .sandbox import become_subreaper, now_ticks
from .submissions import Submission, collect_submissions
from .verdict import grading_cases, load_instructor_file, verdict

__all__ = ["GradeOptions", "ExerciseGrade", "NotebookGrade", "grade_notebook", "grade_folder"]

CHECK_STATUSES = ("passed", "failed", "error", "not_attempted")


@dataclass
class GradeOptions:
    """How to run each submission."""

    timeout: float = 600.0  # wall-clock seconds per notebook, kernel start included
    cell_timeout: float = 0.0  # seconds per cell before it is interrupted (0: no per-cell limit)
    fast: bool = True  # LMTUTOR_FAST=1: tiny configs; the checks do not depend on it
    expected: list[str] | None = None  # the exercises to grade (from the instructor's notebook)
    executed_dir: Path | None = None  # where to keep the executed notebooks (feedback for students)
    cases_file: Path | None = None  # instructor's exercises and instructor-only cases (grader only)


@dataclass
class ExerciseGrade:
    """One exercise of one student."""

    exercise: str
    status: str  # passed | failed | error | not_attempted | missing | not_run | unknown
    score: float
    points: float
    message: str


@dataclass
class NotebookGrade:
    """One submitted file: its run and its exercises."""

    student: str
    notebook: str
    status: str  # ok | errors | crashed | timeout | malformed | not_a_notebook
    message: str
    seconds: float
    exercises: list[ExerciseGrade] = field(default_factory=list)
    executed: NotebookNode | None = field(default=None, repr=False)  # feedback notebook, written at the end

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
        data.pop("executed")
        data.update(total=self.total, max=self.max_score, seconds=round(self.seconds, 1))
        return data


def _is_grader(cell: NotebookNode) -> bool:
    return GRADER_TAG in cell.get("metadata", {}).get("tags", [])


def _cell(nb: NotebookNode, index: int | None) -> str:
    """How a teacher finds a cell: its number in the submitted notebook (the grader's cells not counted)."""
    if index is None or not 0 <= index < len(nb.cells):
        return "before the first cell"
    before = index - sum(map(_is_grader, nb.cells[:index]))
    if not _is_grader(nb.cells[index]):
        return f"cell {before + 1} `{short_source(nb.cells[index])}`"
    checked = max(i for i in range(index) if not _is_grader(nb.cells[i]))
    return f"the grader's run of the function checked in cell {before} `{short_source(nb.cells[checked])}`"


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


def _not_graded(name: str, points: float, status: str, text: str) -> ExerciseGrade:
    return ExerciseGrade(name, status, 0.0, points, text)


def _why_not_run(run_status: str, cell_error: str) -> str:
    why = {"timeout": "the notebook was stopped (time limit) before", "crashed": "the notebook crashed before"}
    if run_status in why:
        return f"the check did not complete: {why[run_status]} this check finished"
    if cell_error:
        return f"the check did not complete: its cell raised {cell_error}"
    return "the check did not complete: the grader's cell for it recorded nothing"


def _grade_one(name: str, plan: dict, work: Path, run_status: str, errors: dict[int, str]) -> ExerciseGrade:
    """The grade of one expected exercise from the outputs its grader cell saved (or why there are none)."""
    known = grading_cases(name)
    if known is None:
        text = f"exercise {name!r} is not registered in the grader (give its file with --cases)"
        return _not_graded(name, 1.0, "unknown", text)
    points = float(known[0].points)
    if name not in plan:
        return _not_graded(name, points, "missing", "the notebook has no check for this exercise (deleted?)")
    index, outputs = plan[name]
    if not (work / outputs).is_file():
        return _not_graded(name, points, "not_run", _why_not_run(run_status, errors.get(index, "")))
    res = verdict(name, work / outputs)
    return ExerciseGrade(name, res.status, float(res.score), points, res.message)


def _unreadable(sub: Submission, status: str, message: str, options: GradeOptions, start: float) -> NotebookGrade:
    """A file that could not be run: every expected exercise gets a row with 0 points."""
    grades = []
    for ex in options.expected or []:
        known = grading_cases(ex)
        points = float(known[0].points) if known else 1.0
        why = "the notebook could not be read" if status == "malformed" else "the file is not a notebook"
        grades.append(_not_graded(ex, points, "not_run", f"not graded: {why}"))
    return NotebookGrade(sub.student, sub.name, status, message, time.monotonic() - start, grades)


def grade_notebook(sub: Submission, options: GradeOptions, since: int | None = None) -> NotebookGrade:
    """Grade one submitted notebook (its bytes as read before grading began); never raises for its content.

    ``since``: when grading began (clock ticks since boot); processes re-parented to the grader and
    started after it are the submission's. Defaults to now.
    """
    start, since = time.monotonic(), now_ticks() if since is None else since
    with tempfile.TemporaryDirectory(prefix="lmtutor-grade-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "submitted.ipynb").write_bytes(sub.data)
        try:
            nb = read_notebook(work / "submitted.ipynb")
        except NotebookError as err:
            return _unreadable(sub, "malformed", str(err).split(": ", 1)[-1], options, start)
        expected = options.expected or expected_exercises(nb)
        runnable = [n for n in expected if grading_cases(n) is not None]
        run_nb, plan = add_harvest_cells(nb, runnable, work, grading_cases)
        nbformat.write(run_nb, work / "run.ipynb")
        run = run_isolated(work / "run.ipynb", work, options, since)
        executed = _executed(work / "out.ipynb")
        status, message = _run_status(run, executed or run_nb, options)
        errors = _errors(executed or run_nb)
        grades = [_grade_one(n, plan, work, status, errors) for n in expected]
    if run.get("swept"):
        message += f"; {run['swept']} leftover process(es) of this notebook were ended"
    if executed is not None:
        show_verdicts(executed, plan, grades)
    return NotebookGrade(sub.student, sub.name, status, message, time.monotonic() - start, grades, executed)


def _executed(path: Path) -> NotebookNode | None:
    """The executed notebook the runner wrote, None when there is none (or it is unreadable)."""
    try:
        return read_notebook(path) if path.exists() else None
    except NotebookError:
        return None


def _grade_safely(sub: Submission, options: GradeOptions, since: int) -> NotebookGrade:
    """``grade_notebook``, turning a failure of the grader itself into a report entry."""
    if sub.problem:
        return _unreadable(sub, "not_a_notebook", sub.problem, options, time.monotonic())
    try:
        return grade_notebook(sub, options, since)
    except Exception as err:
        message = f"the grader could not run this notebook ({type(err).__name__}: {err})"
        return NotebookGrade(sub.student, sub.name, "crashed", message, 0.0, [])


def grade_folder(
    submissions: str | Path,
    options: GradeOptions | None = None,
    jobs: int = 1,
    exclude: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[NotebookGrade]:
    """Grade every file in a folder (or one notebook); results sorted by student.

    ``jobs > 1`` grades several notebooks at the same time: faster, but a hostile notebook could
    then reach one that runs beside it (see the instructor page); ``jobs=1`` isolates them in time.
    """
    options = options or GradeOptions()
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    subs = collect_submissions(Path(submissions), exclude)  # every file read now, before anything runs
    if options.cases_file:
        load_instructor_file(options.cases_file)
    grading_cases("")  # import the exercise registry once, before the worker threads use it
    reaper, since = become_subreaper(True), now_ticks()
    results = []
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_grade_safely, s, options, since) for s in subs]
            for future in as_completed(futures):
                res = future.result()
                echo(f"  {res.student}: {res.status} ({res.seconds:.1f} s)")
                results.append(res)
    finally:
        if reaper:
            become_subreaper(False)
    _fill_points(results)
    _write_feedback(results, options.executed_dir)
    return sorted(results, key=lambda r: r.student)


def _write_feedback(results: list[NotebookGrade], folder: Path | None) -> None:
    """The executed notebooks, written only once every submission has been ended."""
    if folder is None:
        return
    for res in results:
        if res.executed is not None and res.status not in ("timeout", "malformed", "not_a_notebook"):
            target = folder / f"{res.student}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(res.executed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


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
