"""End to end through `python -m grader grade`: real nbgrader, real kernels, real gradebook."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"
STUDENT = REPO / "course" / AID / f"{AID}.ipynb"

pytestmark = pytest.mark.slow


def _solution_sources() -> dict[str, str]:
    """grade_id -> the instructor's solution code, without the nbgrader markers."""
    nb = nbformat.read(str(SOLUTION), as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            out[meta["grade_id"]] = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.MULTILINE)
    return out


def _student_notebook(solved: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given solution cells filled in, as a student would."""
    nb = nbformat.read(str(STUDENT), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solved:
            cell.source = solved[gid]
    return nb


WARNING_SIGMOID = '''
def sigmoid(z):
    import warnings
    warnings.warn("a harmless warning on stderr")
    return 1 / (1 + np.exp(-z))  # overflows for z = -800: RuntimeWarning, but right values
'''

WARNING_MSE = '''
def mse(y_hat, y):
    import sys
    print("a line of the student's own on stderr", file=sys.stderr)
    np.log(np.zeros(1))  # RuntimeWarning: divide by zero (01 is graded without torch, so no PyTorch warning here)
    return float(np.mean((y_hat - y) ** 2))
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submitted"
    sources = _solution_sources()
    half = {k: v for k, v in sources.items() if k in ("mse", "normal_equations", "mse_gradient")}
    noisy = {**sources, "sigmoid": WARNING_SIGMOID, "mse": WARNING_MSE}
    notebooks = {
        "alice": nbformat.read(str(SOLUTION), as_version=4),   # the solution, submitted as is
        "bob": _student_notebook({}),                           # the untouched student version
        "carol": _student_notebook(half),                       # three of seven exercises done
        "dave": _student_notebook(noisy),                       # right answers that warn on stderr
    }
    for student, nb in notebooks.items():
        d = subs / student / AID
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / f"{AID}.ipynb"))
    out = root / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _results(out: Path) -> dict[str, dict]:
    return {r["student"]: r for r in json.loads((out / "results.json").read_text())}


def _auto_points() -> float:
    from grader.hidden import graded_test_cells

    return sum(c["points"] for c in graded_test_cells(SOLUTION).values())


def test_solution_scores_full_marks(graded):
    r = _results(graded)["alice"]
    assert r["status"] == "graded", r["reason"]
    assert all(c["score"] == c["points"] for c in r["cells"]), r["cells"]
    assert r["score"] >= _auto_points()


def test_untouched_notebook_scores_zero_and_finishes(graded):
    r = _results(graded)["bob"]
    assert r["status"] == "graded", r["reason"]
    assert r["cells"] and all(c["score"] == 0 for c in r["cells"])
    assert r["score"] == 0
    assert any("not implemented yet" in " ".join(c["reasons"]) for c in r["cells"])


def test_half_solved_notebook_gets_partial_credit(graded):
    r = _results(graded)["carol"]
    scores = {c["grade_id"]: c["score"] for c in r["cells"]}
    assert scores["test_mse"] > 0 and scores["test_normal_equations"] > 0 and scores["test_mse_gradient"] > 0
    assert scores["test_gradient_descent"] == 0 and scores["test_sigmoid"] == 0
    assert 0 < r["score"] < _auto_points()


def test_warnings_on_stderr_do_not_cost_points(graded):
    r = _results(graded)["dave"]
    scores = {c["grade_id"]: (c["score"], c["points"]) for c in r["cells"]}
    assert scores["test_sigmoid"][0] == scores["test_sigmoid"][1] > 0
    assert scores["test_mse"][0] == scores["test_mse"][1] > 0
    # and the warnings really were printed on stderr in the executed notebook
    done = nbformat.read(str(graded / "autograded" / "dave" / AID / f"{AID}.ipynb"), as_version=4)
    stderr = [o for c in done.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert stderr, "the warning variant should have written to stderr"


def test_grades_csv_has_every_student(graded):
    rows = list(csv.DictReader(open(graded / "grades.csv")))
    by_student = {r["student_id"]: r for r in rows}
    assert set(by_student) == {"alice", "bob", "carol", "dave"}
    assert float(by_student["bob"]["raw_score"]) == 0
    assert float(by_student["alice"]["raw_score"]) >= _auto_points()
    results = list(csv.DictReader(open(graded / "results.csv")))
    assert {r["student_id"] for r in results} == {"alice", "bob", "carol", "dave"}
    assert all(r["reason"] for r in results)


def test_feedback_html_per_student_explains_without_revealing_hidden_tests(graded):
    for student in ("alice", "bob", "carol", "dave"):
        html = graded / "feedback" / student / AID / f"{AID}.html"
        assert html.exists(), f"no feedback for {student}"
        text = html.read_text()
        assert "Grader:" in text
        assert "BEGIN HIDDEN TESTS" not in text and "hidden_test(" not in text
    assert "not implemented yet" in (graded / "feedback" / "bob" / AID / f"{AID}.html").read_text()


def test_regrading_is_idempotent_and_loses_nothing(graded, tmp_path):
    before = _results(graded)["carol"]
    again = tmp_path / "again"
    (again / "carol").mkdir(parents=True)
    import shutil

    shutil.copytree(graded.parent / "submitted" / "carol" / AID, again / "carol" / AID)
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(again), "--out", str(graded)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    after = _results(graded)["carol"]
    assert [c["score"] for c in before["cells"]] == [c["score"] for c in after["cells"]]
    assert before["score"] == after["score"]
    # the other students' grades are still in the gradebook and the export
    rows = {r["student_id"] for r in csv.DictReader(open(graded / "grades.csv"))}
    assert rows == {"alice", "bob", "carol", "dave"}


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "grader", "grade", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_without_bubblewrap_the_grader_refuses_unless_told_none(tmp_path):
    (tmp_path / "subs").mkdir()
    proc = _cli(str(tmp_path / "subs"), "--out", str(tmp_path / "out"), env={"PATH": "/nonexistent"})
    assert proc.returncode == 2
    assert "bubblewrap (bwrap) is not installed" in proc.stderr and "--sandbox none" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_second_grader_on_the_same_out_is_refused(tmp_path):
    from grader.pipeline import folder_lock

    (tmp_path / "subs").mkdir()
    with folder_lock(tmp_path / "out"):
        proc = _cli(str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--sandbox", "none")
    assert proc.returncode == 2
    assert "another grader is already grading into" in proc.stderr and "--wait" in proc.stderr


def test_hand_grading_in_the_grading_folder_then_export(graded):
    """The grading folder is an nbgrader course folder: its nbgrader_config.py points formgrader (and any nbgrader
    command) at this run's gradebook; a score given by hand there reaches grades.csv after `grader export`."""
    from nbgrader.api import Gradebook

    from grader.course import COURSE_ID

    config = (graded / "nbgrader_config.py").read_text()
    assert f"c.CourseDirectory.root = {str(graded.resolve())!r}" in config and "gradebook.db" in config
    before = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(open(graded / "grades.csv"))}
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}", COURSE_ID) as gb:
        submission = gb.find_submission(AID, "alice")
        written = [g for nb in submission.notebooks for g in nb.grades if not g.auto_score and g.max_score]
        assert written, "the notebook's written answers wait for hand grading"
        written[0].manual_score = written[0].max_score
        gb.db.commit()
        given = written[0].max_score
    run = subprocess.run([sys.executable, "-m", "grader", "export", "--out", str(graded)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    after = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(open(graded / "grades.csv"))}
    assert after["alice"] == before["alice"] + given
    assert {s: v for s, v in after.items() if s != "alice"} == {s: v for s, v in before.items() if s != "alice"}


def test_export_refuses_a_folder_without_a_gradebook(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "export", "--out", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no gradebook" in run.stderr
