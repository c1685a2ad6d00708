"""grader.pipeline: each step on its own, without running a kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import pipeline
from grader.pipeline import StepError, Submission, Workspace

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    w = Workspace(tmp_path / "out")
    (w.root / "source").mkdir(parents=True)
    shutil.copytree(REPO / "solutions" / AID, w.root / "source" / AID)
    return w


def _sub(tmp_path, student="alice", files=None) -> Submission:
    d = tmp_path / "subs" / student / AID
    d.mkdir(parents=True)
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return Submission(student, AID, d)


def test_discover_skips_unknown_assignments(tmp_path):
    (tmp_path / "s" / "alice" / AID).mkdir(parents=True)
    (tmp_path / "s" / "alice" / "99_nope").mkdir(parents=True)
    subs = pipeline.discover(tmp_path / "s", [AID])
    assert [(s.student, s.assignment, s.status) for s in subs] == [
        ("alice", AID, "pending"), ("alice", "99_nope", "skipped")]


@pytest.mark.parametrize("student", ["../x", "a b", "", "-rf"])
def test_check_ids_refuses_odd_ids(ws, tmp_path, student):
    with pytest.raises(StepError, match="invalid student id"):
        pipeline.check_ids(ws, Submission(student, AID, tmp_path))


def test_stage_refuses_malformed_notebooks(ws, tmp_path):
    sub = _sub(tmp_path, files={f"{AID}.ipynb": "{ not json"})
    with pytest.raises(StepError, match="not a readable notebook"):
        pipeline.stage(ws, sub)


def test_stage_refuses_a_submission_without_the_notebook(ws, tmp_path):
    sub = _sub(tmp_path, files={"notes.txt": "hello"})
    with pytest.raises(StepError, match="no notebook"):
        pipeline.stage(ws, sub)


def test_write_hidden_inputs_covers_every_exercise(ws, tmp_path):
    sub = _sub(tmp_path)
    pipeline.write_hidden_inputs(ws, sub)
    assert "regression.mse" in sub.cases and all(sub.cases.values())
    assert (ws.protocol_dir("alice", AID) / "inputs.json").exists()
    again = _sub(tmp_path, student="bob")
    pipeline.write_hidden_inputs(ws, again)
    assert sub.cases["regression.mse"][0]["args"] != again.cases["regression.mse"][0]["args"]


def test_a_failing_step_ends_the_submission_with_a_reason(ws, tmp_path):
    sub = _sub(tmp_path)

    def boom(ws, sub):
        raise StepError("it broke")

    def never(ws, sub):
        raise AssertionError("must not run after a failed step")

    pipeline.grade_one(ws, sub, steps=[boom, never])
    assert sub.status == "error" and sub.reason == "boom: it broke"


def test_an_internal_error_does_not_escape(ws, tmp_path):
    sub = _sub(tmp_path)

    def bug(ws, sub):
        raise KeyError("grader bug")

    pipeline.grade_one(ws, sub, steps=[bug])
    assert sub.status == "error" and "internal error KeyError" in sub.reason
