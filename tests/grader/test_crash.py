"""A grader killed with SIGKILL in the middle of a parallel batch (two jobs), then a regrade: every grade exactly once,
never a point that was not earned, not even in the gradebook the killed grader left behind, no grading process left
running, and the submissions untouched. A third run grades nothing again."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.hidden import graded_test_cells
from grader.sandbox import bwrap_available

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"
STUDENT = REPO / "course" / AID / f"{AID}.ipynb"

pytestmark = pytest.mark.slow


def _trimmed(path: Path):
    """Without the slow cells a student may delete anyway (slider views, the training section)."""
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader") or c.cell_type != "code" or not any(
        w in c.source for w in ("show(", "train_logistic", "theta_digits"))]
    return nb


def _grade(subs: Path, out: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out),
                             "--cell-timeout", "30", "--notebook-timeout", "240", "--jobs", "2", "--no-progress"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _test_cell_scores(out: Path) -> dict[str, list[float | None]]:
    """student -> the auto scores of the auto-graded test cells, straight from the gradebook."""
    con = sqlite3.connect(out / "gradebook.db")
    rows = con.execute(
        "SELECT student.id, grade.auto_score FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN student ON submitted_assignment.student_id = student.id "
        "JOIN base_cell ON grade.cell_id = base_cell.id WHERE base_cell.name LIKE 'test_%'").fetchall()
    con.close()
    scores: dict[str, list] = {}
    for student, score in rows:
        scores.setdefault(student, []).append(score)
    return scores


def _sandboxes_of(out: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(out).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            todo += [c for c in children if c not in found]
            found.update(children)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if (Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]) != "Z":
                alive.add(pid)
        except OSError:
            pass
    return alive


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode() + (path.read_bytes() if path.is_file() else b"/"))
    return h.hexdigest()


def test_sigkill_mid_batch_then_regrade(tmp_path):
    if not bwrap_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("bubblewrap is required in CI (.ci/run installs it)")
        pytest.skip("bubblewrap (bwrap) is not installed")
    subs, out = tmp_path / "submitted", tmp_path / "out"
    stubs = {"bob", "carol"}
    for student in ("alice", "bob", "carol"):
        (subs / student / AID).mkdir(parents=True)
        nb = _trimmed(STUDENT if student in stubs else SOLUTION)
        nbformat.write(nb, str(subs / student / AID / f"{AID}.ipynb"))

    before = _tree_hash(subs)
    proc = _grade(subs, out)
    # The moment bob's verdicts are written (where the old grader had the kernel's score in the gradebook
    # and was about to overwrite it), kill the grader.
    report = out / "runs" / "bob" / AID / f"{AID}.json"
    deadline = time.monotonic() + 600
    while not report.exists():
        assert proc.poll() is None, "the grader ended before it could be killed: " + proc.stdout.read()
        assert time.monotonic() < deadline, "bob's notebook never ran"
        time.sleep(0.02)
    helpers = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    killed = _test_cell_scores(out)
    for student in stubs & set(killed):
        assert all(s in (None, 0) for s in killed[student]), f"{student} holds unearned points: {killed[student]}"
    for _ in range(50):   # the sandbox died with its grader (--die-with-parent)
        if not _sandboxes_of(out):
            break
        time.sleep(0.1)
    assert not _sandboxes_of(out), "a sandbox outlived the grader that started it"
    for _ in range(200):   # the pool's processes die with it too (PR_SET_PDEATHSIG), and so their kernels
        if not _alive(helpers):
            break
        time.sleep(0.1)
    assert not _alive(helpers), f"processes of the killed grader still run: {_alive(helpers)}"

    again = _grade(subs, out)
    log, _ = again.communicate(timeout=900)
    assert again.returncode == 0, log
    assert not re.search(r"Warning\b|WARNING", log), f"library warnings in the grader's log:\n{log}"

    points = sum(c["points"] for c in graded_test_cells(SOLUTION).values())
    final = _test_cell_scores(out)
    assert sorted(final) == ["alice", "bob", "carol"]
    assert all(sum(final[s]) == 0 for s in stubs) and sum(final["alice"]) == points
    grades = [r["student_id"] for r in csv.DictReader(open(out / "grades.csv"))]
    assert sorted(grades) == ["alice", "bob", "carol"], grades
    results = json.loads((out / "results.json").read_text())
    assert sorted((r["student"], r["assignment"]) for r in results) == [(s, AID) for s in ("alice", "bob", "carol")]
    cells = [(r["student_id"], r["cell"]) for r in csv.DictReader(open(out / "results.csv"))]
    assert len(cells) == len(set(cells)) == 3 * len(graded_test_cells(SOLUTION))
    con = sqlite3.connect(out / "gradebook.db")
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT student_id) FROM submitted_assignment").fetchone() == (3, 3)
    con.close()
    assert _tree_hash(subs) == before, "a submission was modified"

    third = _grade(subs, out)   # nothing changed: nothing is graded again
    log, _ = third.communicate(timeout=900)
    assert third.returncode == 0, log
    assert json.loads((out / "results.json").read_text()) == results
    assert final == _test_cell_scores(out)
