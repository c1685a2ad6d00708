"""grader.execute: the two autograde steps, without a kernel (the sandbox has its own tests)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dlcourse.checks import protocol
from dlcourse.reference import regression
from grader import course, execute, hidden, verdict
from grader.pipeline import Workspace, prepare

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"


def test_the_verdict_step_follows_execution_and_nbgraders_scoring_is_gone():
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    steps = course.autograde_preprocessors()
    i = steps.index(execute.SandboxedExecute)
    assert steps[i + 1] is execute.SaveVerdicts
    assert SaveAutoGrades not in steps and Execute not in steps
    config = course.nbgrader_config(Path("/tmp/x"), db_url="sqlite://")
    assert config.Autograde.autograde_preprocessors == steps
    assert config.SaveVerdicts.limits is config.SandboxedExecute.limits


def test_only_inert_outputs_come_back_as_encodable_text():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x"), nbformat.v4.new_markdown_cell("m")]
    executed = {"cells": [{"execution_count": 3, "outputs": [
        {"output_type": "stream", "name": "stdout", "text": ["a\udcff", "b"]},
        {"output_type": "stream", "name": "evil", "text": "c"},
        {"output_type": "display_data", "data": {"text/html": "<script>x</script>", "text/plain": "plain"}},
        {"output_type": "display_data", "data": {"application/javascript": "alert(1)"}},
        {"output_type": "error", "ename": "E\x00", "evalue": "v", "traceback": ["t", 5]},
        "not a dict"]}, {"outputs": [{"output_type": "stream", "text": "ignored: markdown"}]}]}
    execute._merge_outputs(nb, executed)
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ["stream", "stream", "display_data", "error"]
    assert outs[0].text == "a\\udcffb" and outs[1].name == "stdout"
    assert dict(outs[2].data) == {"text/plain": "plain"}
    assert outs[3].ename == "E\\x00" and outs[3].traceback == ["t", "5"]
    assert nb.cells[0].execution_count == 3 and "outputs" not in nb.cells[1]
    nbformat.validate(nb)
    json.dumps(nb).encode("utf-8")


def test_outputs_of_a_notebook_with_other_cells_are_ignored():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    execute._merge_outputs(nb, {"cells": []})
    execute._merge_outputs(nb, None)
    assert nb.cells[0].outputs == []


def test_attach_trims_tracebacks_and_adds_the_verdict_as_display_data():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("checks.hidden_test('a.b', f)")
    cell.metadata["nbgrader"] = {"grade_id": "t1"}
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                           traceback=["### BEGIN HIDDEN TESTS", "secret line"])]
    nb.cells = [cell]
    execute._attach(nb, "t1", "Grader: 0 / 1 points.")
    assert cell.outputs[0].traceback == ["ValueError: bad"]
    assert cell.outputs[1].output_type == "display_data"
    assert cell.outputs[1].data["text/plain"] == "Grader: 0 / 1 points."


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    ws = Workspace(root)
    prepare(ws, [AID])
    return ws


def _resources(ws, student: str, results: dict[str, bytes]) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(ws.db_url, course.COURSE_ID) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(AID, student)
    graded = hidden.graded_test_cells(ws.root / "source" / AID / f"{AID}.ipynb")
    cases = {n: verdict.hidden_cases(n, 1) for c in graded.values() for n in c["exercises"]}
    return {"nbgrader": {"student": student, "assignment": AID, "notebook": AID, "db_url": ws.db_url},
            "dlcourse": {"graded": graded, "cases": cases, "results": results(cases) if callable(results) else results,
                         "run": {"status": "ok", "detail": "", "seconds": 1.0, "sandbox": "bwrap", "recorded": []}}}


def _mse_results(cases):
    outs = [{"outputs": [np.asarray(regression.mse(*c["args"]))]}
            for c in map(protocol.decode, cases["regression.mse"])]
    data = json.dumps({"exercise": "regression.mse", "results": [protocol.encode(o) for o in outs]})
    return {verdict.results_file("regression.mse"): data.encode()}


def _grades(ws, student: str) -> dict[str, tuple]:
    from nbgrader.api import Gradebook

    with Gradebook(ws.db_url, course.COURSE_ID) as gb:
        nb = gb.find_submission_notebook(AID, AID, student)
        return {g.name: (g.auto_score, g.needs_manual_grade, g.cell.cell_type) for g in nb.grades}


def _step(ws):
    return execute.SaveVerdicts(grading_root=str(ws.root), limits=course.Limits())


def test_save_verdicts_writes_only_trusted_scores(gradebook):
    ws = gradebook
    # no error outputs anywhere: nbgrader's own rule would give every test cell full marks
    nb = nbformat.read(str(SOLUTION), as_version=4)
    nb, _ = _step(ws).preprocess(nb, _resources(ws, "alice", _mse_results))
    grades = _grades(ws, "alice")
    graded = hidden.graded_test_cells(SOLUTION)
    assert grades["test_mse"][0] == graded["test_mse"]["points"]
    for gid in graded:
        if gid != "test_mse":
            assert grades[gid][0] == 0, gid
    manual = [g for g in grades.values() if g[2] == "markdown"]
    assert manual and all(score is None and needs for score, needs, _ in manual)
    report = json.loads(execute.run_report_path(ws.root, "alice", AID, AID).read_text())
    assert {c["grade_id"]: c["score"] for c in report["cells"]}["test_mse"] == graded["test_mse"]["points"]
    shown = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "display_data"]
    assert len(shown) == len(graded) and shown[0].data["text/plain"].startswith("Grader:")


def test_save_verdicts_zeroes_an_exercise_that_calls_the_reference(gradebook):
    ws = gradebook
    nb = nbformat.read(str(SOLUTION), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mse":
            cell.source = "from dlcourse.reference.regression import mse"
    _step(ws).preprocess(nb, _resources(ws, "mallory", _mse_results))
    assert _grades(ws, "mallory")["test_mse"][0] == 0
    report = json.loads(execute.run_report_path(ws.root, "mallory", AID, AID).read_text())
    assert "uses dlcourse.reference" in " ".join(report["cells"][0]["reasons"])


def test_save_verdicts_needs_the_execution_step_before_it(gradebook):
    with pytest.raises(RuntimeError, match="must follow SandboxedExecute"):
        _step(gradebook).preprocess(nbformat.v4.new_notebook(), {"nbgrader": {
            "student": "x", "assignment": AID, "notebook": AID, "db_url": gradebook.db_url}})


def test_sandboxed_execute_refuses_to_run_without_bubblewrap_when_asked_for_it(monkeypatch):
    from grader import sandbox

    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(RuntimeError, match="not installed"):
        execute.SandboxedExecute(sandbox="bwrap")._use_bwrap()
    assert execute.SandboxedExecute(sandbox="none")._use_bwrap() is False


def test_rebuild_copies_plain_files_only(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "nb.ipynb").write_text("{}")
    (src / "link").symlink_to("/etc/passwd")
    (src / ".grading").mkdir()
    (src / ".grading" / "forged.json").write_text("{}")
    work = tmp_path / "work"
    (work / "old").mkdir(parents=True)
    execute._rebuild(work, src)
    assert sorted(p.name for p in work.iterdir()) == ["nb.ipynb"]
    shutil.rmtree(work)
