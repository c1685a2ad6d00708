"""The nbgrader exchange, end to end, as README's instructor guide runs it on one machine.

Instructor: ``nbgrader release_assignment``; student: ``nbgrader fetch_assignment``, work, ``nbgrader submit``;
instructor: ``nbgrader collect``, then ``python -m grader grade`` on what was collected. A real exchange folder,
real nbgrader commands, our grader at the end: the student's solved notebook earns full marks.
"""

from __future__ import annotations

import csv
import getpass
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "01_regression"
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.MULTILINE)

CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.release_directory = "release"
c.Exchange.root = {exchange!r}
"""


def nbgrader(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JUPYTER_CONFIG_DIR", None)
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run


def solve(path: Path) -> None:
    """Paste the instructor's solutions into the student's notebook, as a student who finished would have it."""
    nb = nbformat.read(str(path), as_version=4)
    source = nbformat.read(str(REPO / "solutions" / ASSIGNMENT / path.name), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in answers:
            cell.source = _MARKER.sub("", answers[grade_id])
    nbformat.write(nb, str(path))


@pytest.mark.slow
def test_release_fetch_submit_collect_grade(tmp_path):
    instructor, student, exchange = tmp_path / "instructor", tmp_path / "student", tmp_path / "exchange"
    for folder in (instructor, student, exchange):
        folder.mkdir()
    exchange.chmod(0o777)  # a shared exchange is writable by every student (nbgrader checks it)
    (instructor / "nbgrader_config.py").write_text(CONFIG.format(root=str(instructor), exchange=str(exchange)))
    (student / "nbgrader_config.py").write_text(CONFIG.format(root=str(student), exchange=str(exchange)))
    # The released notebooks are course/ (make release), and the gradebook must know the assignment.
    shutil.copytree(REPO / "course" / ASSIGNMENT, instructor / "release" / ASSIGNMENT)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, instructor / "source" / ASSIGNMENT)
    nbgrader("db", "assignment", "add", ASSIGNMENT, cwd=instructor, home=tmp_path)

    nbgrader("release_assignment", ASSIGNMENT, cwd=instructor, home=tmp_path)
    nbgrader("fetch_assignment", ASSIGNMENT, cwd=student, home=tmp_path)
    fetched = student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert fetched.is_file()
    solve(fetched)
    nbgrader("submit", ASSIGNMENT, cwd=student, home=tmp_path)
    nbgrader("collect", ASSIGNMENT, cwd=instructor, home=tmp_path)

    student_id = getpass.getuser()  # the exchange knows students by their login
    collected = instructor / "submitted" / student_id / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert collected.is_file()
    # The grader's own intake (python -m grader grade --exchange) collects the same with nbgrader's collect.
    from grader import intake

    tree = intake.from_exchange(exchange, tmp_path / "intake", [ASSIGNMENT])
    assert (tree / student_id / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == collected.read_bytes()

    out = tmp_path / "grading"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(instructor / "submitted"), "--out", str(out),
                          "--assignment", ASSIGNMENT], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    cells = [r for r in csv.DictReader((out / "results.csv").open()) if r["student_id"] == student_id]
    assert cells and all(r["cell"] for r in cells), cells
    # Every auto-graded cell earned its points; the written answers (in max_score) wait for hand grading.
    assert all(float(r["cell_score"]) == float(r["cell_points"]) > 0 for r in cells), [
        (r["cell"], r["cell_score"], r["reason"]) for r in cells if float(r["cell_score"]) != float(r["cell_points"])]
    (row,) = [r for r in csv.DictReader((out / "grades.csv").open()) if r["student_id"] == student_id]
    assert float(row["raw_score"]) == sum(float(r["cell_points"]) for r in cells)
