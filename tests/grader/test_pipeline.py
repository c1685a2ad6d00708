"""grader.pipeline: discovery, staging, the folder lock and failures, without running a kernel."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader import pipeline
from grader.pipeline import GradingRefusedError, StepError, Submission, Workspace
from grader.settings import Limits

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTIONS = REPO / "solutions"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    w = Workspace(tmp_path / "out")
    (w.root / "source").mkdir(parents=True)
    shutil.copytree(SOLUTIONS / AID, w.root / "source" / AID)
    return w


def _sub(tmp_path, student="alice", files=None) -> Submission:
    d = tmp_path / "subs" / student / AID
    d.mkdir(parents=True)
    for name, content in (files or {}).items():
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return Submission(student, AID, d)


def _notebook() -> bytes:
    return (REPO / "course" / AID / f"{AID}.ipynb").read_bytes()


def test_discover_refuses_unknown_assignments_and_leaves_out_those_not_asked_for(tmp_path):
    (tmp_path / "s" / "alice" / AID).mkdir(parents=True)
    (tmp_path / "s" / "alice" / "02_backprop").mkdir(parents=True)
    (tmp_path / "s" / "alice" / "99_nope").mkdir(parents=True)
    subs = pipeline.discover(tmp_path / "s", [AID, "02_backprop"], only=[AID])
    assert [(s.student, s.assignment, s.status) for s in subs] == [
        ("alice", AID, "pending"), ("alice", "99_nope", "refused")]
    assert "unknown assignment '99_nope'" in subs[1].reason


def test_discover_refuses_linked_folders_and_reads_nothing_through_them(tmp_path):
    subs = tmp_path / "s"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / AID).symlink_to(SOLUTIONS / AID)          # an assignment folder that is the solutions
    (subs / "mallory").symlink_to(SOLUTIONS)                     # a student folder that is a link
    found = {(s.student, s.assignment): s for s in pipeline.discover(subs, [AID])}
    assert set(found) == {("alice", AID), ("mallory", "")}
    for s in found.values():
        assert s.status == "refused" and "symbolic link: refused" in s.reason
    (tmp_path / "linked").symlink_to(subs)
    with pytest.raises(GradingRefusedError, match="symbolic link"):
        pipeline.discover(tmp_path / "linked", [AID])


@pytest.mark.parametrize("student", ["../x", "a b", "", "-rf", "e\udcff"])
def test_check_ids_refuses_odd_ids(ws, tmp_path, student):
    with pytest.raises(StepError, match="invalid student id") as info:
        pipeline.check_ids(ws, Submission(student, AID, tmp_path))
    str(info.value).encode("utf-8")


def test_stage_refuses_malformed_notebooks(ws, tmp_path):
    sub = _sub(tmp_path, files={f"{AID}.ipynb": "{ not json"})
    with pytest.raises(StepError, match="not a readable notebook") as info:
        pipeline.stage(ws, sub)
    assert info.value.status == "invalid notebook"


@pytest.mark.parametrize(("runs", "missing", "status"), [
    (["ok"], [], "graded"), (["ok", "timeout"], [], "timed out"), (["stalled"], [], "timed out"),
    (["ok", "kernel_died"], [], "crashed"), (["no_result"], [], "crashed"), (["ok"], ["x"], "missing notebook"),
])
def test_a_submission_whose_steps_ran_says_what_went_wrong(runs, missing, status):
    sub = Submission("alice", AID, Path("."), runs=[{"status": r} for r in runs], missing=missing)
    assert pipeline.outcome(sub) == status


def test_stage_refuses_a_submission_without_the_notebook(ws, tmp_path):
    sub = _sub(tmp_path, files={"notes.txt": "hello"})
    with pytest.raises(StepError, match="no notebook") as info:
        pipeline.stage(ws, sub)
    assert info.value.status == "missing notebook" and sub.missing == [f"{AID}.ipynb"]


def test_stage_refuses_links_special_files_and_names_that_are_not_utf8(ws, tmp_path):
    sub = _sub(tmp_path, files={f"{AID}.ipynb": _notebook(), "data.csv": "1,2"})
    (sub.path / "answers.ipynb").symlink_to(SOLUTIONS / AID / f"{AID}.ipynb")
    (sub.path / "linked_dir").symlink_to(SOLUTIONS)
    os.mkfifo(sub.path / "pipe")
    (sub.path / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")
    pipeline.stage(ws, sub)
    staged = ws.root / "submitted" / "alice" / AID
    assert sorted(p.name for p in staged.iterdir()) == [f"{AID}.ipynb", "data.csv"]
    assert "refused symbolic links: answers.ipynb, linked_dir" in sub.reason
    assert "refused special files: pipe" in sub.reason
    assert "refused names that are not UTF-8: caf\\udce9.txt" in sub.reason
    sub.reason.encode("utf-8")


def test_a_linked_notebook_is_refused_with_the_reason(ws, tmp_path):
    sub = _sub(tmp_path)
    (sub.path / f"{AID}.ipynb").symlink_to(SOLUTIONS / AID / f"{AID}.ipynb")
    with pytest.raises(StepError, match=f"no notebook .*refused symbolic links: {AID}.ipynb"):
        pipeline.stage(ws, sub)
    assert not any((ws.root / "submitted").rglob("*.ipynb")), "the solution was copied in"


def test_stage_enforces_the_size_limits(tmp_path):
    ws = Workspace(tmp_path / "out", Limits(max_submission_mb=1, max_staged_notebook_mb=1))
    shutil.copytree(SOLUTIONS / AID, ws.root / "source" / AID)
    sub = _sub(tmp_path, files={f"{AID}.ipynb": _notebook(), "big.bin": b"x" * (2 * 2**20)})
    with pytest.raises(StepError, match="larger than") as info:
        pipeline.stage(ws, sub)
    assert info.value.status == "refused"


def test_a_failing_step_ends_the_submission_with_a_reason(ws, tmp_path):
    sub = _sub(tmp_path)

    def boom(ws, sub):
        raise StepError("it broke")

    def never(ws, sub):
        raise AssertionError("must not run after a failed step")

    pipeline.grade_one(ws, sub, steps=[boom, never])
    assert sub.status == "crashed" and sub.reason == "boom: it broke"
    assert pipeline.result_path(ws, sub).exists()


def test_an_internal_error_does_not_escape(ws, tmp_path):
    sub = _sub(tmp_path)

    def bug(ws, sub):
        raise KeyError("grader bug")

    pipeline.grade_one(ws, sub, steps=[bug])
    assert sub.status == "crashed" and "internal error KeyError" in sub.reason


def test_a_full_disk_ends_one_submission_with_a_status_and_a_reason(ws, tmp_path, monkeypatch):
    sub = _sub(tmp_path)

    def full(ws, sub):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(ws.root / "autograded" / "x\udcff"))

    def db_full(ws, sub):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "_zero", db_full)       # even recording the zero fails
    monkeypatch.setattr(pipeline, "save_result", db_full)
    pipeline.grade_one(ws, sub, steps=[full])
    assert sub.status == "crashed"
    assert sub.reason.startswith("full: No space left on device (ENOSPC)") and "x\\udcff" in sub.reason
    assert "recording the score 0: No space left on device" in sub.reason
    assert "saving the result: No space left on device" in sub.reason


# -- the folder lock -----------------------------------------------------------------

def test_a_second_grader_on_the_same_folder_is_refused_with_a_reason(tmp_path):
    out = tmp_path / "out"
    with pipeline.folder_lock(out):
        code = ("import sys; from pathlib import Path; from grader import pipeline\n"
                "try:\n    with pipeline.folder_lock(Path(sys.argv[1])):\n        print('GOT IT')\n"
                "except pipeline.GradingRefusedError as e:\n    print('REFUSED', e)")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "lib"), str(REPO)])}
        other = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                               timeout=60)
        assert other.stdout.startswith("REFUSED another grader is already grading into"), other.stdout + other.stderr
        assert f"pid {os.getpid()}" in other.stdout and "--wait" in other.stdout
    with pipeline.folder_lock(out):   # released
        pass


def test_wait_waits_for_the_other_grader(tmp_path):
    out = tmp_path / "out"
    order = []

    def second():
        with pipeline.folder_lock(out, wait=True):
            order.append("second")

    with pipeline.folder_lock(out):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(timeout=10)
    assert order == ["first done", "second"]


def test_grade_batch_refuses_without_a_sandbox_unless_none_is_asked_for(tmp_path, monkeypatch):
    from grader import sandbox

    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    (tmp_path / "subs").mkdir()
    with pytest.raises(GradingRefusedError, match="Refusing to grade without a sandbox.*--sandbox none"):
        pipeline.grade_batch(tmp_path / "subs", tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing may be written before refusing"
    assert pipeline.grade_batch(tmp_path / "subs", tmp_path / "out", sandbox="none") == []


def test_stage_escapes_lone_surrogates_inside_a_notebook(ws, tmp_path):
    import json

    import nbformat

    nb = json.loads(_notebook())
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "lone \ud800 here", "id": "x1"})
    sub = _sub(tmp_path, files={f"{AID}.ipynb": json.dumps(nb).encode("ascii")})
    pipeline.stage(ws, sub)
    staged = ws.root / "submitted" / "alice" / AID / f"{AID}.ipynb"
    again = nbformat.read(str(staged), as_version=4)
    assert again.cells[0].source == "lone \\ud800 here"
    nbformat.writes(again).encode("utf-8")
    assert "text that cannot be encoded was escaped" in sub.reason
    sub.cells = [{"reasons": ["\udcff"]}]
    json.dumps(sub.summary(), ensure_ascii=False).encode("utf-8")


# -- the end of a batch: the summary table and the exit status --------------------------------------

def test_the_summary_table_and_the_exit_status(tmp_path, monkeypatch, capsys):
    from grader import cli

    done = [Submission("alice", AID, tmp_path, status="graded", score=19, max_score=19),
            Submission("bob", AID, tmp_path, status="timed out", reason="autograde: the notebook ran out of time"),
            Submission("e\udcff", AID, tmp_path, status="refused", reason="check_ids: invalid student id")]
    monkeypatch.setattr(pipeline, "grade_batch", lambda *a, **kw: done)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert re.search(r"graded\s+1\ntimed out\s+1\nrefused\s+1\n", out), out
    assert re.search(r"bob\s+01_regression\s+timed out\s+autograde: the notebook ran out of time", out), out
    assert "e\\udcff" in out and "alice  " not in out.split("reason")[-1]
    monkeypatch.setattr(pipeline, "grade_batch", lambda *a, **kw: done[:1])
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 0


def test_the_alembic_head_read_in_process_is_the_one_nbgrader_finds():
    """The gradebook's schema stamp comes from nbgrader's own migration scripts, read here instead of by the
    `alembic heads` command nbgrader would run: both give the same head."""
    import subprocess
    import sys

    import nbgrader.api
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        alembic = str(Path(sys.executable).with_name("alembic"))
        expected = subprocess.check_output([alembic, "-c", ini, "heads"], text=True).split()[0]
    original = nbgrader.api.get_alembic_version
    try:
        from grader import pipeline

        pipeline._in_process_alembic_head()
        assert getattr(nbgrader.api.get_alembic_version, "in_process", False)
        assert nbgrader.api.get_alembic_version() == expected
    finally:
        nbgrader.api.get_alembic_version = original
