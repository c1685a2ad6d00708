"""grader.parallel without a kernel: the fingerprint that decides what is graded again, the one writer that copies a
task's scores into the gradebook (keeping scores given by hand), and the engines."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nbgrader.api import Gradebook

from grader import parallel
from grader.pipeline import Submission, Workspace
from grader.settings import Limits

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"


def _ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "out")
    shutil.copytree(REPO / "solutions" / AID, ws.root / "source" / AID)
    return ws


def test_the_fingerprint_follows_what_grading_depends_on_and_nothing_else(tmp_path):
    ws = _ws(tmp_path)
    sub_dir = tmp_path / "a" / "alice" / AID
    sub_dir.mkdir(parents=True)
    (sub_dir / f"{AID}.ipynb").write_text("{}")
    sub = Submission("alice", AID, sub_dir)
    first = parallel.fingerprint(ws, sub)
    moved = tmp_path / "b" / "alice" / AID
    shutil.copytree(sub_dir, moved)
    assert parallel.fingerprint(ws, Submission("alice", AID, moved)) == first    # where it lies does not matter
    assert parallel.fingerprint(ws, Submission("bob", AID, sub_dir)) != first    # whose it is does
    (sub_dir / "data.csv").write_text("1")
    second = parallel.fingerprint(ws, sub)
    assert second != first
    (sub_dir / "data.csv").write_text("2")
    assert parallel.fingerprint(ws, sub) != second
    for other in (Workspace(ws.root, Limits(cell_timeout=7)), Workspace(ws.root, fast=True),
                  Workspace(ws.root, sandbox="none"), Workspace(ws.root, db="sqlite:////elsewhere.db")):
        assert parallel.fingerprint(other, sub) != parallel.fingerprint(ws, sub)
    os.symlink("/etc/passwd", sub_dir / "link")
    assert parallel.fingerprint(ws, sub) != parallel.fingerprint(Workspace(ws.root), Submission("alice", AID, moved))


def _book(url: str, *, auto: float | None = None, manual: float | None = None) -> None:
    with Gradebook(url, "dlcourse") as gb:
        gb.update_or_create_assignment("a1")
        gb.add_notebook("nb", "a1")
        gb.add_grade_cell("test_x", "nb", "a1", max_score=2, cell_type="code")
        gb.add_grade_cell("written", "nb", "a1", max_score=1, cell_type="markdown")
        gb.add_solution_cell("written", "nb", "a1")
        if auto is not None or manual is not None:
            gb.add_student("alice")
            sub = gb.add_submission("a1", "alice")
            for grade in sub.notebooks[0].grades:
                if grade.name == "test_x":
                    grade.auto_score = auto
                else:
                    grade.manual_score = manual
            gb.db.commit()


def _grades(url: str) -> dict:
    with Gradebook(url, "dlcourse") as gb:
        sub = gb.find_submission("a1", "alice")
        return {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in sub.notebooks[0].grades}


def test_transfer_copies_automatic_scores_and_keeps_those_given_by_hand(tmp_path):
    src, dst = f"sqlite:///{tmp_path / 'task.db'}", f"sqlite:///{tmp_path / 'main.db'}"
    _book(src, auto=2.0)
    _book(dst, auto=0.0, manual=1.0)   # graded before, and the written answer marked by hand since
    parallel.transfer(src, dst, "alice", "a1")
    assert _grades(dst) == {"test_x": (2.0, None, False), "written": (None, 1.0, True)}
    parallel.transfer(src, dst, "alice", "a1")   # twice: still one submission, the same scores
    with Gradebook(dst, "dlcourse") as gb:
        assert len(gb.find_assignment("a1").submissions) == 1


def test_transfer_creates_the_student_and_submission_in_a_fresh_gradebook(tmp_path):
    src, dst = f"sqlite:///{tmp_path / 'task.db'}", f"sqlite:///{tmp_path / 'main.db'}"
    _book(src, auto=1.0)
    _book(dst)
    parallel.transfer(src, dst, "alice", "a1")
    assert _grades(dst)["test_x"] == (1.0, None, False)
    parallel.transfer(src, dst, "nobody", "a1")   # nothing to copy: nothing happens
    with Gradebook(dst, "dlcourse") as gb:
        assert [s.id for s in gb.students] == ["alice"]


def _double(x: int) -> int:
    return 2 * x


def test_one_job_grades_here_and_more_use_a_process_pool(tmp_path):
    with parallel.executor(1, None) as pool:
        assert pool is None
    with parallel.executor(2, None) as pool:
        assert sorted(f.result(timeout=120) for f in [pool.submit(_double, i) for i in range(4)]) == [0, 2, 4, 6]
