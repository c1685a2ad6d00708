"""The two steps the grader adds to nbgrader's own autograde pipeline (configured in grader/course.py).

nbgrader's autograde pipeline, as the grader runs it: ``SandboxedExecute``
(in place of nbgrader's ``Execute``), ``SaveVerdicts`` right after it (in
place of nbgrader's ``SaveAutoGrades``, which scored the cells from what the
kernel printed), then nbgrader's own IgnorePattern, ClearMetadata,
LimitOutput, AssignLatePenalties and CheckCellMetadata.

``SandboxedExecute`` owns one run of a notebook: it draws this student's
hidden cases (secret seed) for the exercises of the notebook's graded cells,
read from the trusted source notebook; builds a fresh working copy (regular
files only) with those cases in ``.grading/inputs.json``; runs it in the
sandbox (grader/sandbox.py); removes the working copy; copies the outputs back
into nbgrader's notebook by position, keeping only inert output types (no HTML
or JavaScript from a student's kernel reaches the feedback); and hands the
cases, the recorded results and the run's status to the next step in
nbgrader's ``resources``, never through a folder.

``SaveVerdicts`` owns the scores: it judges every graded test cell in the
grader's process (grader/verdict.py), zeroes an exercise whose code uses the
reference (grader/static.py), shows each verdict under its cell, and writes
the score of every graded cell of the notebook to the gradebook in one
transaction. No score computed from the kernel's outputs is ever written.
Last, it writes the notebook's run report (``runs/<student>/<assignment>/``)
that the results tables are made from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Enum, Instance, Unicode

from grader import hidden, illustration, sandbox, static, text, verdict
from grader.settings import MB, SANDBOX_MODES, Limits

SAFE_MIME = ("text/plain", "image/png", "image/jpeg", "text/latex")
SECRET_FILE = ".grader_secret"


def run_report_path(root: Path, student: str, assignment: str, notebook: str) -> Path:
    return root / "runs" / student / assignment / f"{notebook}.json"


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook in the grading sandbox, with this student's hidden cases."""

    grading_root = Unicode("", help="the grading folder (--out)").tag(config=True)
    limits = Instance(Limits, args=(), help="grader.settings.Limits, from the command line").tag(config=True)
    sandbox = Enum(list(SANDBOX_MODES), "bwrap", help="bwrap: run in bubblewrap; none: limits and timeouts only"
                   ).tag(config=True)
    skip_illustration = Bool(False, help="skip the cells the source tags as illustration, where nothing graded "
                             "depends on them (grader/illustration.py)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, nb_id = info["student"], info["assignment"], info["notebook"]
        root = Path(self.grading_root)
        source = root / "source" / assignment / f"{nb_id}.ipynb"
        graded = hidden.graded_test_cells(source)
        secret = (root / SECRET_FILE).read_bytes()
        cases = {name: verdict.hidden_cases(name, verdict.seed_for(secret, assignment, student, name))
                 for cell in graded.values() for name in cell["exercises"]}
        use_bwrap = self._use_bwrap()
        work = root / "sandbox" / student / assignment
        try:
            _rebuild(work, Path(resources["metadata"]["path"]))
            source_nb = nbformat.read(str(source), as_version=4)
            # Decided by the trusted source notebook, never by the submission.
            without = sandbox.check_without(source_nb.metadata.get("dlcourse", {}).get("graded_without"))
            to_run = nb
            if self.skip_illustration:
                to_run = illustration.without_illustration(nb, source_nb)
            nbformat.write(to_run, str(work / f"{nb_id}.ipynb"))
            (work / sandbox.GRADING).mkdir()
            (work / sandbox.GRADING / verdict.INPUTS).write_text(verdict.inputs_json(cases), encoding="utf-8")
            result = sandbox.run_notebook(work, f"{nb_id}.ipynb", self.limits, use_bwrap=use_bwrap,
                                          blocker_dir=root / "sandbox" / ".blockers", without=without)
        finally:
            shutil.rmtree(work, ignore_errors=True)   # nothing of a run outlives its harvest
            for empty in (work.parent, work.parent.parent):
                try:
                    empty.rmdir()
                except OSError:
                    break
        _merge_outputs(nb, result.notebook)
        run = {"status": result.status, "detail": text.clean(result.detail), "seconds": round(result.seconds, 2),
               "sandbox": result.sandbox, "recorded": sorted(text.name(n) for n in result.results)}
        resources["dlcourse"] = {"graded": graded, "cases": cases, "results": result.results, "run": run}
        self.log.info("executed %s/%s/%s: %s", student, assignment, nb_id, run)
        return nb, resources

    def _use_bwrap(self) -> bool:
        if self.sandbox == "none":
            return False
        if not sandbox.bwrap_available():
            raise RuntimeError(sandbox.bwrap_problem())
        return True


class SaveVerdicts(NbGraderPreprocessor):
    """Judge every graded test cell here, and write every graded cell's score to the gradebook at once."""

    grading_root = Unicode("", help="the grading folder (--out)").tag(config=True)
    limits = Instance(Limits, args=(), help="grader.settings.Limits, from the command line").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, nb_id = info["student"], info["assignment"], info["notebook"]
        run = resources.get("dlcourse")
        if run is None:
            raise RuntimeError("SaveVerdicts must follow SandboxedExecute in the autograde pipeline")
        graded = run["graded"]
        functions = [n.split(".", 1)[1] for c in graded.values() for n in c["exercises"]]
        cheats = static.reference_users(nb, functions)
        verdicts = {}
        for grade_id, cell in graded.items():
            v = verdict.judge_cell(grade_id, cell["points"], cell["exercises"], run["cases"], run["results"],
                                   self.limits.max_result_mb * MB)
            for name in cell["exercises"]:
                if name.split(".", 1)[1] in cheats:
                    v.score = 0.0
                    v.passed[name] = False
                    v.reasons.append(f"{name}: your function uses dlcourse.reference; it must compute "
                                     "its result itself, so it earns nothing")
            v.reasons = [text.clean(r) for r in v.reasons]
            verdicts[grade_id] = v
        _explain(nb, verdicts)
        for grade_id, v in verdicts.items():
            _attach(nb, grade_id, v.text())
        self._save(nb, info, verdicts)
        report = {"notebook": nb_id, **run["run"],
                  "cells": [{"notebook": nb_id, "grade_id": g, "score": v.score, "points": v.points,
                             "reasons": v.reasons, "passed": v.passed,
                             "mistakes": {k: text.clean(m) for k, m in v.mistakes.items()}}
                            for g, v in verdicts.items()]}
        path = run_report_path(Path(self.grading_root), student, assignment, nb_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        text.write_text(path, json.dumps(report, indent=1))
        return nb, resources

    def _save(self, nb, info: dict, verdicts: dict[str, verdict.CellVerdict]) -> None:
        """The trusted score of each test cell; nbgrader's own rule for the cells graded by hand (written
        answers: their score waits for a person). One commit: all of the notebook's grades, or none."""
        student, assignment, nb_id = info["student"], info["assignment"], info["notebook"]
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade_id")}
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(nb_id, assignment, student)
            for grade in notebook.grades:
                gid = grade.name
                if gid in verdicts:
                    grade.auto_score = verdicts[gid].score
                else:
                    cell = cells.get(gid)
                    manual = cell is not None and nbutils.is_grade(cell) and not (
                        cell.cell_type == "code" and not nbutils.is_solution(cell))
                    grade.auto_score = nbutils.determine_grade(cell, self.log)[0] if manual else None
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                cell = cells.get(comment.name)
                unchanged = cell is not None and cell.metadata.nbgrader.get("checksum") == nbutils.compute_checksum(
                    cell) and not nbutils.is_task(cell)
                comment.auto_comment = "No response." if unchanged else None
            gb.db.commit()


def _attach(nb, grade_id: str, message: str) -> None:
    """Show the verdict under its test cell, so the feedback says why.

    A traceback quotes the cell's source around the failing line, hidden
    tests included: keep only its last line (the error itself). The verdict
    is display data, not a stream, so that nbgrader's LimitOutput (which
    trims long streams) never cuts it off.
    """
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id and cell.cell_type == "code":
            for out in cell.outputs:
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            cell.outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": message}))


def _rebuild(work: Path, source: Path) -> None:
    """A fresh working copy: the submission's regular files and folders, nothing else."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work, symlinks=True, ignore=_not_plain)
    for path in sorted(work.rglob("*"), reverse=True):  # links cannot come from the staged copy, but be sure
        if path.is_symlink():
            path.unlink()


def _not_plain(folder: str, names: list[str]) -> set[str]:
    base = Path(folder)
    skip = {sandbox.GRADING}
    return {n for n in names if n in skip or (base / n).is_symlink()
            or not ((base / n).is_file() or (base / n).is_dir())}


def _merge_outputs(nb, executed: dict | None) -> None:
    """Outputs of the executed copy, by cell position, inert types only, as encodable text."""
    cells = executed.get("cells") if isinstance(executed, dict) else None
    if not isinstance(cells, list) or len(cells) != len(nb.cells):
        return
    for cell, done in zip(nb.cells, cells, strict=True):
        if cell.cell_type != "code" or not isinstance(done, dict):
            continue
        outputs = []
        for out in done.get("outputs", []) if isinstance(done.get("outputs"), list) else []:
            kept = _clean_output(out)
            if kept is not None:
                outputs.append(kept)
        cell.outputs = outputs
        count = done.get("execution_count")
        cell.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None


def _clean_output(out) -> nbformat.NotebookNode | None:
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_joined(out.get("text", "")))
    if kind == "error":
        tb = out.get("traceback", [])
        tb = [text.clean(t) for t in tb] if isinstance(tb, list) else []
        return nbformat.v4.new_output("error", ename=text.clean(out.get("ename", "Error")),
                                      evalue=text.clean(out.get("evalue", "")), traceback=tb)
    if kind in ("display_data", "execute_result"):
        data = out.get("data", {})
        if not isinstance(data, dict):
            return None
        kept = {k: _joined(data[k]) for k in SAFE_MIME if k in data}
        if not kept:
            return None
        if kind == "execute_result":
            return nbformat.v4.new_output("execute_result", data=kept, execution_count=None)
        return nbformat.v4.new_output("display_data", data=kept)
    return None


def _joined(value) -> str:
    return text.clean("".join(map(str, value)) if isinstance(value, list) else value)


def _explain(nb, verdicts: dict[str, verdict.CellVerdict]) -> None:
    """Reasons that name the earlier cell that did not run, where that cost a test cell its results
    (``verdict.explain_failures``), so the autograded notebook (formgrader), the feedback page and the tables say
    the same. Untrusted outputs: an explanation that cannot be made leaves the reasons as they were."""
    cells = [{"grade_id": g, "reasons": v.reasons} for g, v in verdicts.items()]
    try:
        explained = verdict.explain_failures(nb, cells)
    except Exception:
        return
    for cell in explained:
        verdicts[cell["grade_id"]].reasons = [text.clean(r) for r in cell["reasons"]]
