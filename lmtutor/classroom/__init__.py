"""Classroom tools: student notebooks, grading of submitted notebooks, export to nbgrader.

The ``lmtutor`` command (``lmtutor/cli.py``) wraps these functions; the instructor page of the
book (``book/instructors.md``) explains the workflow.
"""

from .grade import ExerciseGrade, GradeOptions, NotebookGrade, grade_folder, grade_notebook
from .notebooks import NotebookError, expected_exercises, read_notebook, write_notebook
from .report import summary, write_report
from .student import build_student, make_student_notebook, strip_solution

__all__ = [
    "ExerciseGrade",
    "GradeOptions",
    "NotebookError",
    "NotebookGrade",
    "build_student",
    "expected_exercises",
    "grade_folder",
    "grade_notebook",
    "make_student_notebook",
    "read_notebook",
    "strip_solution",
    "summary",
    "write_notebook",
    "write_report",
]
