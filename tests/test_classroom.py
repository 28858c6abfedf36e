"""Classroom tools: the student build, grading a folder of submissions, the nbgrader export, the exercise list.

The fixture chapter ``tests/fixtures/classroom/00_tiny_chapter.ipynb`` registers its own three
exercises in its first code cell, so these tests depend on no chapter. Its ``submissions/`` folder
holds a correct, a partly wrong, a crashing (``os._exit``), an endless-loop and a messy notebook
(a cell raising, ``sys.exit(1)``, a deleted check cell, an exercise raising); the tests add a
corrupted one (cut-off JSON, which no linter could read in the repository).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lmtutor.classroom import (
    GradeOptions,
    NotebookError,
    build_student,
    expected_exercises,
    grade_notebook,
    read_notebook,
    strip_solution,
)
from lmtutor.classroom.listing import BEGIN_MARK, END_MARK, exercise_listing, update_markdown_block
from lmtutor.classroom.nbgrader_export import export_nbgrader, nbgrader_id
from lmtutor.classroom.report import CSV_COLUMNS
from lmtutor.classroom.student import STUB
from lmtutor.classroom.submissions import collect_submissions
from lmtutor.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "classroom"
CHAPTER = FIXTURES / "00_tiny_chapter.ipynb"
SUBMISSIONS = FIXTURES / "submissions"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
NAMES = ["_fixture.scaled_scores", "_fixture.row_softmax", "_fixture.shift_targets"]


def corrupt(target: Path) -> Path:
    """Write a submission cut off in the middle (invalid JSON), as a broken upload looks."""
    text = (SUBMISSIONS / "correct.ipynb").read_text(encoding="utf-8")
    target.write_text(text[: len(text) // 2], encoding="utf-8")
    return target


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def outputs_text(cell) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))


def cases_file(folder: Path) -> Path:
    """The fixture chapter's exercises as an instructor file for ``lmtutor grade --cases`` (the grader's copy)."""
    setup = next(c for c in read_notebook(CHAPTER).cells if "def fresh(" in c.source)
    path = folder / "fixture_cases.py"
    path.write_text(setup.source, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fixture_exercises():
    """Register the fixture chapter's exercises in this process too (as its first code cell does in a kernel)."""
    setup = next(c for c in read_notebook(CHAPTER).cells if "def fresh(" in c.source)
    exec(compile(setup.source, str(CHAPTER), "exec"), {})
    return NAMES


# --- the student build -------------------------------------------------------------------------


def test_strip_solution_keeps_signature_docstring_and_indentation():
    src = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n'
    assert strip_solution(src) == f'def f(x):\n    """Doc."""\n    {STUB}\n'
    two = "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\nif a:\n"
    two += "        ### BEGIN SOLUTION\n        c\n        ### END SOLUTION"
    assert strip_solution(two) == f"a = 1\n{STUB}\nif a:\n        {STUB}"


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    return 1", "has no '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "a second '### BEGIN SOLUTION' at line 2"),
    ],
)
def test_strip_solution_rejects_bad_markers(source, message):
    with pytest.raises(NotebookError, match=message.replace("(", r"\(")):
        strip_solution(source, "05.ipynb, cell 7")


def test_student_build_of_the_fixture_chapter(tmp_path):
    before = CHAPTER.read_bytes()
    (path,) = build_student([CHAPTER], tmp_path / "student")
    assert CHAPTER.read_bytes() == before, "the source notebook must not change"
    src, out = read_notebook(CHAPTER), read_notebook(path)
    assert len(out.cells) == len(src.cells)
    for s, o in zip(src.cells, out.cells, strict=True):
        if "solution" in tags(s):
            assert "### BEGIN SOLUTION" not in o.source and STUB in o.source
            assert o.source.startswith(s.source.split("### BEGIN SOLUTION")[0].rstrip()), "signature and docstring"
            assert "hide-input" not in tags(o) and "solution" in tags(o)
            assert "source_hidden" not in o.metadata.get("jupyter", {})
            assert o.metadata["nbgrader"]["solution"] is True and o.outputs == []
        elif "check" in tags(s):
            assert o.source == s.source and o.outputs == [] and "✓" in outputs_text(s)
        else:
            assert o.source == s.source and outputs_text(o) == outputs_text(s), "other cells stay as they are"
        if o.cell_type == "code":
            assert o.execution_count is None
            assert all(x.get("execution_count") is None for x in o.outputs)
    for line in ("d_k = k.shape[-1]", "x.max(dim=-1, keepdim=True)", "return ids[:-1], ids[1:]"):
        assert line not in path.read_text(), f"the solution line {line!r} leaked into the student notebook"
    assert "3 exercises registered" in outputs_text(out.cells[2]) and "15.0" in outputs_text(out.cells[4])
    assert out.metadata["lmtutor"]["exercises"] == NAMES


def test_student_build_refuses_to_overwrite_sources_or_leak_solutions(tmp_path, capsys):
    with pytest.raises(NotebookError, match="refusing to write the student version next to its source"):
        build_student([CHAPTER], FIXTURES)
    nb = read_notebook(CHAPTER)
    unmarked = next(c for c in nb.cells if "solution" in tags(c))
    unmarked.metadata["tags"] = []
    del unmarked.metadata["nbgrader"]
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    with pytest.raises(NotebookError, match="contains solution markers but is not tagged 'solution'"):
        build_student([tmp_path / "untagged.ipynb"], tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when a notebook fails"
    assert main(["student", str(tmp_path / "missing.ipynb"), "-o", str(tmp_path / "out")]) == 2
    assert "not a notebook (.ipynb) or a folder" in capsys.readouterr().err
    assert main(["student", str(CHAPTER), str(tmp_path / "untagged.ipynb"), "-o", str(tmp_path / "x.ipynb")]) == 2
    assert "a file name, but there are 2 notebooks; give a folder" in capsys.readouterr().err


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_student_build_of_a_chapter_keeps_everything_else(chapter, tmp_path):
    before = chapter.read_bytes()
    (path,) = build_student([chapter], tmp_path)
    assert chapter.read_bytes() == before
    src, out = read_notebook(chapter), read_notebook(path)
    assert sum(STUB in c.source for c in out.cells if "solution" in tags(c)) >= 3
    for s, o in zip(src.cells, out.cells, strict=True):
        if not {"solution", "check"} & set(tags(s)):
            assert o.source == s.source and outputs_text(o) == outputs_text(s)


_RUN = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


def _execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run the notebook in its own client process, as a learner's Jupyter would: the state of the
    test process (earlier tests' threads, servers and event loops) cannot reach the kernel's messages."""
    out = path.with_name(path.stem + ".executed.ipynb")
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), str(cwd), str(out)], capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, f"{path.name} failed to run:\n{proc.stderr[-4000:]}"
    return read_notebook(out)


@pytest.mark.parametrize("chapter", [CHAPTER, *CHAPTERS], ids=lambda p: p.name)
def test_student_notebook_runs_top_to_bottom(chapter, tmp_path, monkeypatch):
    """Slow (one kernel per chapter, fast mode): unattempted exercises never break later cells."""
    monkeypatch.setenv("LMTUTOR_FAST", "1")
    monkeypatch.delenv("LMTUTOR_GRADE_LOG", raising=False)
    (path,) = build_student([chapter], tmp_path)
    nb = _execute(path, chapter.parent)  # the chapter's folder, as when it is run in place
    errors = [str(c.outputs) for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert not errors, errors
    checks = [c for c in nb.cells if "check" in tags(c)]
    assert len(checks) >= 3
    for cell in checks:
        assert "not attempted yet" in outputs_text(cell), outputs_text(cell)
    assert "BEGIN SOLUTION" not in json.dumps(nb.cells)


# --- grading -------------------------------------------------------------------------------------

# student -> notebook status, total, max, status of each exercise (in NAMES order)
EXPECTED = {
    "correct": ("ok", 4, 4, ["passed", "passed", "passed"]),
    "corrupted": ("malformed", 0, 4, ["not_run", "not_run", "not_run"]),
    "crashing": ("crashed", 1, 4, ["passed", "not_run", "not_run"]),
    "endless_loop": ("timeout", 1, 4, ["passed", "not_run", "not_run"]),
    "messy": ("errors", 1, 4, ["passed", "missing", "error"]),
    "partly_wrong": ("ok", 1, 4, ["passed", "failed", "not_attempted"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the fixture submissions once through the command line (2 notebooks at a time, 40 s each)."""
    folder = tmp_path_factory.mktemp("submissions")
    shutil.copytree(SUBMISSIONS, folder, dirs_exist_ok=True)
    corrupt(folder / "corrupted.ipynb")
    out = tmp_path_factory.mktemp("report")
    cases = cases_file(tmp_path_factory.mktemp("instructor"))
    args = ["grade", str(folder), "-o", str(out), "--source", str(CHAPTER), "--timeout", "40", "--jobs", "2"]
    args += ["--cases", str(cases)]
    assert main(args) == 0
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_grading_report_statuses_and_scores(graded):
    _, report = graded
    students = {s["student"]: s for s in report["students"]}
    assert sorted(students) == sorted(EXPECTED)
    for name, (status, total, top, statuses) in EXPECTED.items():
        s = students[name]
        assert (s["status"], s["total"], s["max"]) == (status, total, top), (name, s["status"], s["message"])
        assert [e["exercise"] for e in s["exercises"]] == NAMES
        assert [e["status"] for e in s["exercises"]] == statuses, (name, s["exercises"])
        assert [e["points"] for e in s["exercises"]] == [1, 1, 2], "points of exercises that did not run too"
    assert students["endless_loop"]["seconds"] < 40 + 20, "the endless loop was killed at the time limit"
    assert report["settings"]["timeout_s"] == 40 and report["settings"]["fast"] is True


def test_grading_report_messages_explain_each_case(graded):
    _, report = graded
    by = {s["student"]: s for s in report["students"]}
    msg = {(s, e["exercise"]): e["message"] for s in by for e in by[s]["exercises"]}
    assert "✓ Scaled attention scores: all 3 cases pass." == msg["correct", NAMES[0]]
    wrong = msg["partly_wrong", NAMES[1]]
    assert "case 1/3 (a 2x3 matrix)" in wrong and "expected:" not in wrong, "no expected values when grading"
    assert "Normalise over the last axis (dim=-1)" in wrong, "the typical mistake gets its own hint"
    assert "not attempted yet" in msg["partly_wrong", NAMES[2]]
    assert "RuntimeError: The size of tensor a (4) must match" in msg["messy", NAMES[2]]
    assert "deleted" in msg["messy", NAMES[1]]
    assert "crashed before this check finished" in msg["crashing", NAMES[1]]
    assert "stopped (time limit)" in msg["endless_loop", NAMES[1]]
    assert "invalid JSON at line" in by["corrupted"]["message"]
    assert "kernel died" in by["crashing"]["message"] and "cell 9 `import os`" in by["crashing"]["message"]
    assert "time limit of 40 s" in by["endless_loop"]["message"]
    assert 'lt.check("_fixture.row_softmax"' in by["endless_loop"]["message"], "names the cell that hung"
    messy = by["messy"]["message"]
    assert "ValueError: a scratch cell left broken" in messy and "SystemExit: 1" in messy


def test_grading_report_csv_and_executed_notebooks(graded):
    out, report = graded
    with open(out / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == CSV_COLUMNS and len(rows) == 6 * 3
    total = {s: sum(float(r["score"]) for r in rows if r["student"] == s) for s in EXPECTED}
    assert total == {s: float(v[1]) for s, v in EXPECTED.items()}
    assert {r["notebook_status"] for r in rows if r["student"] == "endless_loop"} == {"timeout"}
    executed = sorted(p.stem for p in (out / "notebooks").glob("*.ipynb"))
    assert executed == ["correct", "crashing", "messy", "partly_wrong"], "no executed copy of a killed/unreadable one"
    assert "all 3 cases pass" in (out / "notebooks" / "correct.ipynb").read_text(encoding="utf-8")
    assert report["exercises"][NAMES[1]] == {"failed": 1, "missing": 1, "not_run": 3, "passed": 1}


def test_cell_timeout_interrupts_only_the_stuck_cell(tmp_path, fixture_exercises):
    """With a per-cell limit, the endless loop costs one exercise and the rest of the notebook still runs."""
    options = GradeOptions(timeout=180, cell_timeout=20, expected=NAMES)  # 20 s: room for a slow import
    (sub,) = collect_submissions(SUBMISSIONS / "endless_loop.ipynb")
    res = grade_notebook(sub, options)
    assert res.status == "errors" and "stopped by the time limit per cell" in res.message, res.message
    assert [e.status for e in res.exercises] == ["passed", "not_run", "passed"]
    assert "its cell raised KeyboardInterrupt" in res.exercises[1].message
    assert (res.total, res.max_score) == (3, 4)


def test_unreadable_notebook_without_source_gets_one_row(tmp_path):
    corrupt(tmp_path / "bob.ipynb")
    (tmp_path / "eve.ipynb").write_text('{"not": "a notebook"}', encoding="utf-8")
    assert main(["grade", str(tmp_path), "-o", str(tmp_path / "report"), "--timeout", "30"]) == 0
    with open(tmp_path / "report" / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student"], r["notebook_status"], r["exercise"], r["points"]) for r in rows] == [
        ("bob", "malformed", "", "0"),
        ("eve", "malformed", "", "0"),
    ]
    assert "not a Jupyter notebook" in rows[1]["message"]


def test_expected_exercises_survive_a_deleted_check_cell():
    messy = read_notebook(SUBMISSIONS / "messy.ipynb")
    assert sum("check" in tags(c) for c in messy.cells) == 2
    assert expected_exercises(messy) == NAMES, "the student build recorded the exercises in the metadata"


def test_grade_command_rejects_bad_input(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r")]) == 2
    assert "no such folder or notebook" in capsys.readouterr().err
    assert main(["grade", str(SUBMISSIONS), "-o", str(SUBMISSIONS)]) == 2
    assert "must not be the submissions folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "-o", str(tmp_path / "r")]) == 2
    assert "no .ipynb files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grade", str(SUBMISSIONS), "-o", str(tmp_path / "r"), "--timeout", "-5"])
    assert "must be a positive number of seconds" in capsys.readouterr().err


# --- nbgrader -------------------------------------------------------------------------------------


def test_export_nbgrader_metadata(tmp_path, fixture_exercises):
    (path,) = export_nbgrader([CHAPTER], tmp_path / "source" / "ch00")
    nb = read_notebook(path)
    graded = [c for c in nb.cells if "nbgrader" in c.metadata]
    ids = [c.metadata.nbgrader.grade_id for c in graded]
    assert len(ids) == len(set(ids)) == 6
    for cell in graded:
        meta = cell.metadata.nbgrader
        assert meta.schema_version == 3 and set(meta) >= {"grade", "solution", "locked", "grade_id"}
        assert all(ch.isalnum() or ch in "_-" for ch in meta.grade_id), meta.grade_id
        if meta.solution:
            assert (meta.grade, meta.locked) == (False, False) and "### BEGIN SOLUTION" in cell.source
            assert "hide-input" not in tags(cell) and "source_hidden" not in cell.metadata.get("jupyter", {})
        else:
            assert (meta.grade, meta.locked) == (True, True)
            assert "assert _check.passed" in cell.source and "NBVAL" not in cell.source
        assert cell.outputs == [], "no instructor output in exercise cells"
    assert "3 exercises registered" in outputs_text(nb.cells[2]), "other cells keep their outputs"
    points = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.get("points") for c in graded}
    assert points[nbgrader_id(NAMES[2], "-check")] == 2 and points[nbgrader_id(NAMES[0], "-check")] == 1
    assert nbgrader_id("attention.scaled_dot_product") == "attention-scaled_dot_product"


def test_nbgrader_generates_and_autogrades_the_export(tmp_path, fixture_exercises):
    """nbgrader itself accepts the export: generate_assignment, then autograde a half-right submission."""
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (optional: pip install nbgrader)")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    export_nbgrader([CHAPTER], course / "source" / "ch00")
    config = 'c = get_config()\nc.CourseDirectory.course_id = "demo"\nc.ClearOutput.enabled = False\n'
    (course / "nbgrader_config.py").write_text(config)
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", "ch00", "--force"], cwd=course, check=True, capture_output=True)
    release = read_notebook(course / "release" / "ch00" / CHAPTER.name)
    stubs = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == 3 and all("raise NotImplementedError()" in c.source for c in stubs)
    assert "15.0" in outputs_text(release.cells[4]) and "✓" not in json.dumps(release.cells), "figures stay, ✓ not"
    stubs[0].source = stubs[0].source.replace(
        "# YOUR CODE HERE\n    raise NotImplementedError()", "return q @ k.T / k.shape[-1] ** 0.5"
    )
    stubs[1].source = stubs[1].source.replace(
        "# YOUR CODE HERE\n    raise NotImplementedError()", "return x.softmax(0)"
    )
    submitted = course / "submitted" / "ann" / "ch00"
    submitted.mkdir(parents=True)
    nbformat.write(release, submitted / CHAPTER.name)
    subprocess.run([*nbgrader, "autograde", "ch00"], cwd=course, check=True, capture_output=True)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(CHAPTER.stem, "ch00", "ann")
        scores = {g.name: g.score for g in sub.grades}
    assert scores == {
        nbgrader_id(NAMES[0], "-check"): 1,
        nbgrader_id(NAMES[1], "-check"): 0,
        nbgrader_id(NAMES[2], "-check"): 0,
    }


# --- the list of exercises ------------------------------------------------------------------------


def test_exercise_listing_per_chapter(tmp_path, fixture_exercises, capsys):
    text = exercise_listing(FIXTURES, markdown=True)
    assert "### 0. A tiny chapter (`00_tiny_chapter.ipynb`)" in text
    assert "- **Softmax over each row** (`_fixture.row_softmax`, 1 point). Cases: a 2x3 matrix;" in text
    assert "  - Normalise over the last axis (dim=-1): every row must sum to 1." in text
    assert "(`_fixture.shift_targets`, 2 points)" in text
    page = tmp_path / "page.md"
    page.write_text(f"# Page\n\n{BEGIN_MARK}\nold list\n{END_MARK}\n\nAfter.\n", encoding="utf-8")
    assert update_markdown_block(page, text) is True and update_markdown_block(page, text) is False
    assert text in page.read_text() and "old list" not in page.read_text() and page.read_text().endswith("After.\n")
    page.write_text("# No markers\n", encoding="utf-8")
    with pytest.raises(NotebookError, match="add the two marker lines"):
        update_markdown_block(page, text)
    assert main(["exercises", "--notebooks", str(FIXTURES)]) == 0
    assert "_fixture.scaled_scores" in capsys.readouterr().out


def test_instructor_page_lists_the_current_exercises():
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    assert BEGIN_MARK in page and END_MARK in page
    block = page.split(BEGIN_MARK)[1].split(END_MARK)[0].strip()
    expected = exercise_listing(ROOT / "notebooks", markdown=True).strip()
    fix = "lmtutor exercises --notebooks notebooks --update book/instructors.md"
    assert block == expected, f"the list of exercises on the instructor page is stale: run `{fix}`"


def test_python_dash_m_runs_the_command():
    out = subprocess.run([sys.executable, "-m", "lmtutor", "--help"], capture_output=True, text=True, check=True)
    for command in ("student", "grade", "exercises", "export-nbgrader"):
        assert command in out.stdout
