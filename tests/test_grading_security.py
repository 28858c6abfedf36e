"""Grading a teacher can trust: a folder of hostile submissions graded together with honest ones.

Every submission is generated here from one correct notebook (two of chapter 5's exercises, so a
run is one kernel start). The attacks: a replaced ``check``, emptied cases, forged "passed" log
lines, the reference passed as the answer or fetched through the registry, a lookup table of the
public cases, a forged grader cell, a detached process that keeps writing into other submissions'
files, a submission that rewrites the others on disk, one that writes the grader's pid into its
progress file and runs past the time limit, formula injection in names, and files handed in with
the wrong extension. Each must be reported as what its code does, and no other score may change.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from lmtutor.classroom import GradeOptions, grade_folder, write_report
from lmtutor.classroom.report import safe_cell
from lmtutor.classroom.verdict import COPY_FLAG
from lmtutor.exercises import REGISTRY, judge, load_all, run_case
from lmtutor.exercises._data import plain, unplain

NAMES = ["attention.scaled_dot_product", "attention.causal_softmax"]
SOLUTIONS = {
    NAMES[0]: "def sdpa(q, k, v):\n    w = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)\n"
    "    return w @ v, w",
    NAMES[1]: "def causal(scores):\n    T = scores.shape[-1]\n    keep = torch.ones(T, T, dtype=torch.bool).tril()\n"
    "    return scores.masked_fill(~keep, float('-inf')).softmax(dim=-1)",
}
STUBS = {
    NAMES[0]: "def sdpa(q, k, v):\n    raise NotImplementedError()",
    NAMES[1]: "def causal(scores):\n    raise NotImplementedError()",
}
FUNCTIONS = {NAMES[0]: "sdpa", NAMES[1]: "causal"}
SECRET = "instructor-only case 7f3a"
INSTRUCTOR_FILE = f"""
import torch
from lmtutor.exercises import Case, add_instructor_cases

g = torch.Generator().manual_seed(99)
add_instructor_cases("attention.scaled_dot_product", [
    Case("{SECRET}", (torch.randn(3, 5, generator=g), torch.randn(7, 5, generator=g), torch.randn(7, 2, generator=g))),
    Case("{SECRET}: very large scores", (1e4 * torch.randn(2, 4, generator=g), torch.randn(3, 4, generator=g),
                                         torch.randn(3, 2, generator=g))),
])
add_instructor_cases("attention.causal_softmax", [Case("{SECRET}", (torch.randn(2, 7, 7, generator=g),))])
"""


def notebook(body: dict[str, str], before: str = "", after: str = "") -> nbformat.NotebookNode:
    """A submission: setup, optional attack cells, each exercise's function and its check cell."""
    cells = [new_code_cell("import torch\n\nimport lmtutor as lt")]
    cells += [new_code_cell(before)] if before else []
    for name in NAMES:
        cells.append(new_code_cell(body[name], metadata={"tags": ["solution"]}))
        cells.append(new_code_cell(f'lt.check("{name}", {FUNCTIONS[name]})', metadata={"tags": ["check"]}))
    cells += [new_code_cell(after)] if after else []
    nb = new_notebook(cells=cells)
    nb.metadata["lmtutor"] = {"exercises": NAMES}
    return nb


MONKEYPATCH = """
import lmtutor.exercises as E, lmtutor.exercises.core as C
def fake(name, fn):
    return C.CheckResult(name, "passed", 1, 1, "✓ all cases pass.")
E.check = C.check = lt.check = fake
"""
EMPTY_CASES = """
import lmtutor.exercises.attention as A
for ex in (A.scaled_dot_product, A.causal_softmax):
    ex.cases = []
    ex.reference = lambda *a, **k: None
"""
FORGED_LOG = """
import glob, json, os
line = json.dumps({"name": "%s", "status": "passed", "score": 1, "points": 1, "message": "✓"})
for path in [os.environ.get("LMTUTOR_GRADE_LOG") or "../checks.jsonl", *glob.glob("/tmp/lmtutor-grade-*/*.jsonl")]:
    with open(path, "a") as f:
        f.write(line + "\\n")
"""
REFERENCE = {
    NAMES[0]: "import lmtutor.exercises.attention as A\n\nsdpa = A._sdpa",
    NAMES[1]: "import inspect\n\ntry:\n    lt.exercises.get('attention.causal_softmax')\n"
    "except KeyError as err:\n    print('no registry while grading:', err)\n"
    "exec(inspect.getsource(A._causal).replace('def _causal', 'def causal'))",
}
FORGED_HARVEST = """
import torch, lmtutor.classroom.harvest as H
def forged(name, get_fn, inputs, outputs):
    torch.save({"name": name, "problem": "", "outcomes": [{"status": "passed"}]}, outputs)
H.harvest = forged
"""
DETACHED = """
import glob, os, subprocess, sys, time
mine = os.path.dirname(os.getcwd())
code = '''
import glob, os, time
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
os.chdir("/")
mine = MINE
open({spy!r} + "/detached.pid", "w").write(str(os.getpid()))
while True:
    for path in glob.glob({tmp!r} + "/lmtutor-grade-*/*.pt") + glob.glob({subs!r} + "/*.ipynb"):
        if "a_detached" not in path and not path.startswith(mine):
            try:
                open(path, "wb").write(b"garbage")
            except OSError:
                pass
    open({spy!r} + "/detached.alive", "a").write(str(time.time()) + chr(10))
    time.sleep(0.1)
'''.replace("MINE", repr(mine))
subprocess.Popen([sys.executable, "-c", code], env={{}}, cwd="/", start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
"""
REWRITER = """
import glob
for path in glob.glob({subs!r} + "/*.ipynb"):
    if "a_rewriter" not in path:
        text = open(path).read().replace("return w @ v, w", "return v, w").replace(".softmax(dim=-1)", "")
        open(path, "w").write(text)
"""
PIDFILE = """
import os, subprocess, sys
pid, ancestors = os.getpid(), []
while pid > 1:
    ancestors.append(pid)
    pid = int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
for path in ["../progress", "progress"]:
    with open(path, "a") as f:
        f.write("".join(f"kernel {{p}}\\n" for p in ancestors[1:]))
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)"], start_new_session=True)
open({spy!r} + "/pidfile_child.pid", "w").write(str(child.pid))
while True:
    pass
"""
LOOKUP = """
import glob, torch
secret, seen = ({head!r} + {tail!r}).encode(), []
for path in glob.glob("../*") + glob.glob("../*/*"):
    try:
        if secret in open(path, "rb").read():
            seen.append(path)
    except OSError:
        pass
open({spy!r} + "/lookup_seen.txt", "w").write(repr(seen))
TABLE = torch.load({table!r})
def lookup(*args):
    for inputs, outputs in TABLE:
        if len(inputs) == len(args) and all(torch.equal(a, b) for a, b in zip(inputs, args)):
            return outputs
    return TABLE[0][1]
sdpa = lookup
"""


def _public_table(path: Path) -> Path:
    """What a student could collect from printed expected values: every public case with its output."""
    load_all()
    ex = REGISTRY[NAMES[0]]
    torch.save([(c.args, ex.reference(*c.args)) for c in ex.get_cases()], path)
    return path


def _write(folder: Path, name: str, nb: nbformat.NotebookNode) -> None:
    nbformat.write(nb, folder / name)


def _class(folder: Path, spy: Path) -> None:
    """The submissions folder: honest, partly wrong and hostile notebooks, and files that are not notebooks."""
    fmt = {"spy": str(spy), "subs": str(folder), "tmp": tempfile.gettempdir(), "head": SECRET[:9], "tail": SECRET[9:]}
    fmt["table"] = str(_public_table(spy / "table.pt"))
    wrong = {NAMES[0]: SOLUTIONS[NAMES[0]].replace("/ q.shape[-1] ** 0.5", ""), NAMES[1]: SOLUTIONS[NAMES[1]]}
    stubs = dict(STUBS)
    plans = {
        "a_detached": notebook(SOLUTIONS, DETACHED.format(**fmt)),
        "a_rewriter": notebook(stubs, REWRITER.format(**fmt)),
        "a_pidfile": notebook(stubs, after=PIDFILE.format(**fmt)),
        "b_honest": notebook(SOLUTIONS),
        "c_partly_wrong": notebook(wrong),
        "d_monkeypatched_check": notebook(stubs, MONKEYPATCH),
        "d_emptied_cases": notebook(stubs, EMPTY_CASES),
        "d_forged_log": notebook(stubs, after=FORGED_LOG % NAMES[0]),
        "d_reference": notebook(REFERENCE),
        "d_lookup_table": notebook({NAMES[0]: LOOKUP.format(**fmt), NAMES[1]: "causal = lookup"}),
        "d_forged_harvest": notebook(stubs, FORGED_HARVEST),
        "=1+2": notebook(SOLUTIONS),
        "z_honest": notebook(SOLUTIONS),
    }
    for name, nb in plans.items():
        _write(folder, f"{name}.ipynb", nb)
    _write(folder, "carl.IPYNB", notebook(SOLUTIONS))
    (folder / "dana.ipynb.json").write_text(json.dumps(notebook(SOLUTIONS)), encoding="utf-8")
    (folder / "eve.py").write_text(SOLUTIONS[NAMES[0]], encoding="utf-8")
    (folder / "frank.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "@SUM(A1).txt").write_text("notes", encoding="utf-8")


# student -> (notebook status, score per exercise); 2 points in all
EXPECTED = {
    "a_detached": ("ok", [1, 1]),
    "a_rewriter": ("ok", [0, 0]),
    "a_pidfile": ("timeout", [0, 0]),
    "b_honest": ("ok", [1, 1]),
    "c_partly_wrong": ("ok", [0, 1]),
    "d_monkeypatched_check": ("ok", [0, 0]),
    "d_emptied_cases": ("ok", [0, 0]),
    "d_forged_log": ("ok", [0, 0]),
    "d_reference": ("ok", [0, 1]),  # 5.2 is a run-time copy of the reference: it works, and is flagged
    "d_lookup_table": ("ok", [0, 0]),
    "d_forged_harvest": ("ok", [0, 0]),
    "'=1+2": ("ok", [1, 1]),
    "z_honest": ("ok", [1, 1]),
    "carl.IPYNB": ("not_a_notebook", [0, 0]),
    "dana.ipynb.json": ("not_a_notebook", [0, 0]),
    "eve.py": ("not_a_notebook", [0, 0]),
    "frank": ("malformed", [0, 0]),
    "'@SUM(A1).txt": ("not_a_notebook", [0, 0]),
}


def _alive(pid_file: Path) -> bool:
    if not pid_file.exists():
        return False
    try:
        state = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the hostile class once, one notebook at a time; return (rows per student, report, spy folder)."""
    root = tmp_path_factory.mktemp("class")
    folder, spy, out = root / "submissions", root / "spy", root / "report"
    folder.mkdir()
    spy.mkdir()
    _class(folder, spy)
    (root / "cases.py").write_text(textwrap.dedent(INSTRUCTOR_FILE), encoding="utf-8")
    options = GradeOptions(timeout=40, expected=NAMES, executed_dir=out / "notebooks", cases_file=root / "cases.py")
    start = time.monotonic()
    results = grade_folder(folder, options, jobs=1, exclude=out)
    print(f"\n{len(results)} submissions graded in {time.monotonic() - start:.0f} s")
    write_report(results, out, options)
    with open(out / "report.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return rows, report, spy, folder


def test_every_submission_is_reported_as_what_its_code_does(graded):
    rows, report, _, _ = graded
    by: dict[str, list[dict]] = {}
    for row in rows:
        by.setdefault(row["student"], []).append(row)
    assert sorted(by) == sorted(EXPECTED), "every file handed in has rows"
    for student, (status, scores) in EXPECTED.items():
        got = by[student]
        assert {r["notebook_status"] for r in got} == {status}, (student, got)
        assert [r["exercise"] for r in got] == NAMES
        assert [float(r["score"]) for r in got] == scores, (student, [r["message"] for r in got])
        assert [float(r["points"]) for r in got] == [1, 1]


def test_attack_messages_say_what_happened(graded):
    rows, report, _, _ = graded
    msg = {(r["student"], r["exercise"]): r["message"] for r in rows}
    status = {(r["student"], r["exercise"]): r["status"] for r in rows}
    for student in ("d_monkeypatched_check", "d_emptied_cases", "d_forged_log", "a_rewriter"):
        assert status[student, NAMES[0]] == "not_attempted", msg[student, NAMES[0]]
    assert "comes from the lmtutor package" in msg["d_reference", NAMES[0]]
    assert msg["d_reference", NAMES[1]].startswith(COPY_FLAG), "a run-time copy of the reference is flagged"
    assert not any(m.startswith(COPY_FLAG) for (s, _), m in msg.items() if s != "d_reference")
    assert "a case only the grader has" in msg["d_lookup_table", NAMES[0]]
    assert "not in the grader's format" in msg["d_forged_harvest", NAMES[0]]
    assert all("expected:" not in m for m in msg.values()), "no expected values are printed when grading"
    notes = {s["student"]: s["message"] for s in report["students"]}
    assert "rename it to end in .ipynb" in notes["carl.IPYNB"] and "rename it" in notes["dana.ipynb.json"]
    assert "Python file" in notes["eve.py"] and "invalid JSON" in notes["frank"]
    assert "time limit of 40 s" in notes["a_pidfile"] and "leftover process" in notes["a_pidfile"]
    assert "leftover process" in notes["a_detached"]


def test_instructor_cases_never_reach_the_kernel(graded):
    _, _, spy, _ = graded
    assert (spy / "lookup_seen.txt").read_text() == "[]", "the instructor case's label is in no file the kernel reads"


def test_detached_processes_are_ended_with_their_submission(graded):
    _, _, spy, folder = graded
    for pid_file in ("detached.pid", "pidfile_child.pid"):
        assert (spy / pid_file).exists(), f"the attack did not start ({pid_file})"
        assert not _alive(spy / pid_file), f"{pid_file}: a process of a graded submission is still running"
    beats = (spy / "detached.alive").read_text().split()
    time.sleep(0.5)
    assert (spy / "detached.alive").read_text().split() == beats, "the detached writer still writes"
    assert "garbage" in (folder / "z_honest.ipynb").read_text(errors="replace"), "the attack reached the folder"


def test_csv_cells_cannot_be_formulas(graded):
    rows, _, _, _ = graded
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("-2") == "'-2" and safe_cell("ok") == "ok"


def test_a_rerun_of_the_honest_notebook_alone_gives_the_same_marks(graded, tmp_path):
    """No other student's score changed: the honest notebook graded on its own scores what it scored in the class."""
    rows, _, _, _ = graded
    nbformat.write(notebook(SOLUTIONS), tmp_path / "alone.ipynb")
    (res,) = grade_folder(tmp_path / "alone.ipynb", GradeOptions(timeout=40, expected=NAMES), echo=lambda _: None)
    in_class = [float(r["score"]) for r in rows if r["student"] == "z_honest"]
    assert [e.score for e in res.exercises] == in_class == [1, 1]


# --- the grading path for every registered exercise (no kernel: the same data path) -------------


def _through_the_file(outcome: dict, tmp: Path) -> dict:
    """An outcome as the grader reads it: plain data saved by torch, loaded with weights_only=True."""
    if outcome["status"] == "ok":
        outcome = dict(outcome, value=plain(outcome["value"]))
    torch.save({"outcomes": [outcome]}, tmp)
    back = torch.load(tmp, weights_only=True)["outcomes"][0]
    if back["status"] == "ok":
        back["value"] = unplain(back["value"])
    return back


@pytest.mark.parametrize("name", sorted(n for n in load_all() if not n.startswith("_")))
def test_grading_mode_passes_the_reference_and_rejects_every_mistake(name, tmp_path):
    ex = REGISTRY[name]
    cases = ex.get_cases()

    def grade(fn):
        outcomes = [_through_the_file(run_case(fn, c), tmp_path / "o.pt") for c in cases]
        return judge(ex, cases, outcomes, grading=True)

    assert grade(ex.reference).passed, grade(ex.reference).message
    for mistake in ex.mistakes:
        res = grade(mistake.fn)
        assert res.status in ("failed", "error"), f"{name}: mistake {mistake.hint!r} passes when graded"
        assert "expected:" not in res.message
        if res.status == "failed":
            assert mistake.hint in res.message, res.message


# --- the pieces, without a kernel -----------------------------------------------------------------


class _Payload:
    """An object whose unpickling would create a file: what a forged outputs file could carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_an_outputs_file_cannot_run_code_in_the_grader(tmp_path):
    from lmtutor.classroom.verdict import read_outcomes

    marker = tmp_path / "pwned"
    torch.save({"outcomes": [{"status": "ok", "value": _Payload(marker)}]}, tmp_path / "o.pt")
    outcomes, problem, _ = read_outcomes(tmp_path / "o.pt", 1)
    assert outcomes == [] and "could not be read" in problem and not marker.exists()
    torch.save({"outcomes": [{"status": "passed"}]}, tmp_path / "forged.pt")
    assert "not in the grader's format" in read_outcomes(tmp_path / "forged.pt", 1)[1]


DOUBLE_FORK = """
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
os.chdir("/")
os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)"], {})
"""


def test_the_sweep_ends_a_process_that_detached_itself(tmp_path):
    """A grandchild that left the session, the folder and the environment is still found and ended."""
    from lmtutor.classroom.sandbox import become_subreaper, now_ticks, start, sweep

    if not Path("/proc").is_dir():
        pytest.skip("the sweep reads /proc (Linux)")
    reaper, since = become_subreaper(True), now_ticks()
    try:
        env = {"LMTUTOR_SUBMISSION_TOKEN": "t0k3n", "PATH": "/usr/bin"}
        with start([sys.executable, "-c", DOUBLE_FORK], env=env, cwd=tmp_path) as proc:
            proc.wait(timeout=30)
            time.sleep(0.5)
            mine = [p for p in _children() if p != proc.pid]
            assert mine, "the detached process should have been re-parented to this process"
            assert sweep("t0k3n", tmp_path, proc.pid, since) >= 1
        time.sleep(0.2)
        assert not [p for p in mine if Path(f"/proc/{p}").exists()], "the detached process survived"
    finally:
        if reaper:
            become_subreaper(False)


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                found.append(int(d.name))
    return found


def test_every_file_handed_in_is_collected_with_a_reason(tmp_path):
    from lmtutor.classroom.submissions import collect_submissions

    nbformat.write(notebook(SOLUTIONS), tmp_path / "ann.ipynb")
    (tmp_path / "bob.IPYNB").write_text(json.dumps(notebook(SOLUTIONS)), encoding="utf-8")
    (tmp_path / "carl.py").write_text("x = 1", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dora.ipynb").write_text("{", encoding="utf-8")
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "ann.ipynb")
    subs = {s.student: s for s in collect_submissions(tmp_path)}
    assert sorted(subs) == ["ann", "bob.IPYNB", "carl.py", "link", "sub/dora"]
    assert subs["ann"].problem == "" and subs["sub/dora"].problem == "", "a broken .ipynb is graded (as malformed)"
    assert "rename it to end in .ipynb" in subs["bob.IPYNB"].problem
    assert "Python file" in subs["carl.py"].problem and "a link" in subs["link"].problem
    with pytest.raises(FileNotFoundError, match="no such folder"):
        collect_submissions(tmp_path / "nowhere")


def test_a_bad_instructor_file_is_refused_with_a_clear_message(tmp_path):
    from lmtutor.classroom import NotebookError
    from lmtutor.classroom.verdict import load_instructor_file

    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch\nfrom lmtutor.exercises import Case, add_instructor_cases\n"
        "args = (torch.ones(2, 3), torch.ones(4, 5), torch.ones(4, 2))\n"
        "add_instructor_cases('attention.scaled_dot_product', [Case('wrong widths', args)])\n",
        encoding="utf-8",
    )
    with pytest.raises(NotebookError, match="the reference of 'attention.scaled_dot_product' fails on the case"):
        load_instructor_file(bad)
    bad.write_text("add_instructor_cases('x', [])\n", encoding="utf-8")
    with pytest.raises(NotebookError, match="the instructor cases file failed: NameError"):
        load_instructor_file(bad)
    with pytest.raises(NotebookError, match="no such instructor cases file"):
        load_instructor_file(tmp_path / "missing.py")
