"""Grading as a pipeline of small named steps.

Once per batch, ``prepare`` copies the trusted source notebooks into the
grading folder and records them in the gradebook (nbgrader
generate_assignment). Then, for every submission, the steps of ``STEPS`` run
in order; a step that fails ends that submission with a status and a reason,
and the batch goes on. Last, ``export`` writes the grade tables.

The grading folder (``--out``) is an nbgrader course directory:

    source/<assignment>/            trusted copy of solutions/
    submitted/<student>/<assignment>/   the submissions, copied in
    autograded/, feedback/          written by nbgrader
    protocol/<student>/<assignment>/    hidden inputs, harvested results, run reports (never in a sandbox)
    sandbox/<student>/<assignment>/     the working copy a notebook runs in (rebuilt for every run)
    gradebook.db, grades.csv, results.csv, results.json, logs/
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from grader import hidden, static, verdict
from grader.course import COURSE_ID, SOLUTIONS, assignments, nbgrader_config

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class StepError(Exception):
    """A submission cannot go on; the message is the reason the student and instructor see."""


@dataclass
class Workspace:
    root: Path
    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 3072
    sandbox: str = "auto"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def secret(self) -> bytes:
        path = self.root / ".grader_secret"
        if not path.exists():
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        return path.read_bytes()

    def api(self):
        from nbgrader.apps import NbGraderAPI

        return NbGraderAPI(config=nbgrader_config(
            self.root, db_url=self.db_url, cell_timeout=self.cell_timeout, notebook_timeout=self.notebook_timeout,
            memory_mb=self.memory_mb, sandbox=self.sandbox))

    def source_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.root / "source" / assignment).glob("*.ipynb"))

    def protocol_dir(self, student: str, assignment: str) -> Path:
        return self.root / "protocol" / student / assignment

    def log(self, student: str, assignment: str, text: str) -> None:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        with open(logs / f"{student}__{assignment}.log", "a") as f:
            f.write(text.rstrip() + "\n")


@dataclass
class Submission:
    student: str
    assignment: str
    path: Path
    status: str = "pending"
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    cells: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    cases: dict[str, list[dict]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("cases")
        d["path"] = str(self.path)
        return d


# -- once per batch ------------------------------------------------------------

def prepare(ws: Workspace, assignment_ids: list[str], source: Path = SOLUTIONS) -> None:
    """Copy the trusted notebooks in and record their cells in the gradebook."""
    ws.root.mkdir(parents=True, exist_ok=True)
    api = ws.api()
    for aid in assignment_ids:
        src, dst = source / aid, ws.root / "source" / aid
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        result = api.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            details = result.get("log", "") + result.get("error", "")
            raise RuntimeError(f"could not record {aid} in the gradebook:\n{details}")


def discover(submissions: Path, known: list[str]) -> list[Submission]:
    """Every student_id/assignment folder under ``submissions``, known assignments only."""
    found = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for adir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            sub = Submission(student_dir.name, adir.name, adir)
            if adir.name not in known:
                sub.status, sub.reason = "skipped", f"unknown assignment {adir.name!r} (known: {', '.join(known)})"
            found.append(sub)
    return found


# -- the steps, in order -----------------------------------------------------------

def check_ids(ws: Workspace, sub: Submission) -> None:
    """Ids become folder names and database keys: allow only plain ones."""
    for what, value in (("student id", sub.student), ("assignment id", sub.assignment)):
        if not _ID.match(value):
            raise StepError(f"invalid {what} {value!r}: use letters, digits, '_', '-' and '.'")


MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_SUBMISSION_BYTES = 200 * 2**20


def stage(ws: Workspace, sub: Submission) -> None:
    """Copy the submission into submitted/: regular files and folders only (a symbolic
    link could point at the solutions or the gradebook), within size limits. A fresh copy
    each time, so regrading loses nothing."""
    dest = ws.root / "submitted" / sub.student / sub.assignment
    if dest.exists():
        shutil.rmtree(dest)
    notes = []
    dropped: list[str] = []
    total = 0
    for src in sorted(sub.path.rglob("*")):
        rel = src.relative_to(sub.path)
        if ".ipynb_checkpoints" in rel.parts:
            continue
        if src.is_symlink() or not (src.is_file() or src.is_dir()):
            dropped.append(str(rel))
            continue
        if src.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)
            continue
        size = src.stat().st_size
        total += size
        if src.suffix == ".ipynb" and size > MAX_NOTEBOOK_BYTES:
            raise StepError(f"{rel} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        if total > MAX_SUBMISSION_BYTES:
            raise StepError(f"the submission is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    if dropped:
        notes.append(f"ignored links and special files: {', '.join(dropped[:5])}")
    expected = {p.name for p in ws.source_notebooks(sub.assignment)}
    present = {p.name for p in dest.glob("*.ipynb")}
    for name in sorted(expected & present):
        try:
            nb = nbformat.read(str(dest / name), as_version=4)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("no cells")
        except Exception as exc:
            raise StepError(f"{name} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not expected & present:
        raise StepError(f"no notebook of {sub.assignment} in the submission (expected {', '.join(sorted(expected))})")
    missing = expected - present
    if missing:
        notes.append(f"missing notebook(s) scored 0: {', '.join(sorted(missing))}")
    sub.reason = "; ".join(notes)


def write_hidden_inputs(ws: Workspace, sub: Submission) -> None:
    """Draw this student's hidden cases (secret seed) and hand them to the kernel as data."""
    sub.cases = {}
    for nb in ws.source_notebooks(sub.assignment):
        for cell in hidden.graded_test_cells(nb).values():
            for name in cell["exercises"]:
                seed = verdict.seed_for(ws.secret, sub.assignment, sub.student, name)
                sub.cases[name] = verdict.hidden_cases(name, seed)
    verdict.write_inputs(ws.protocol_dir(sub.student, sub.assignment), sub.cases)


def autograde(ws: Workspace, sub: Submission) -> None:
    """nbgrader autograde: restore locked and test cells from source, execute the notebook."""
    result = ws.api().autograde(sub.assignment, sub.student, force=True, create=True)
    ws.log(sub.student, sub.assignment, result.get("log", ""))
    if not result["success"]:
        ws.log(sub.student, sub.assignment, result.get("error", ""))
        raise StepError(_explain(result.get("log", "") + result.get("error", "")))


def judge(ws: Workspace, sub: Submission) -> None:
    """Compare the recorded results with the reference here, and write the points."""
    from nbgrader.api import Gradebook

    pdir = ws.protocol_dir(sub.student, sub.assignment)
    notes = [sub.reason] if sub.reason else []
    for report in sorted(pdir.glob("run-*.json")):
        run = json.loads(report.read_text())
        sub.runs.append(run)
        if run["status"] != "ok":
            notes.append(f"{run['notebook']}: {run['detail']}")
        if run["sandbox"] == "none":
            notes.append("graded WITHOUT a sandbox (bubblewrap missing)")
    sub.reason = "; ".join(dict.fromkeys(notes))
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        for nb_path in ws.source_notebooks(sub.assignment):
            nb_id = nb_path.stem
            graded = hidden.graded_test_cells(nb_path)
            done = ws.root / "autograded" / sub.student / sub.assignment / nb_path.name
            nb = nbformat.read(str(done), as_version=4) if done.exists() else None
            functions = [n.split(".", 1)[1] for c in graded.values() for n in c["exercises"]]
            cheats = static.reference_users(nb, functions) if nb is not None else set()
            for grade_id, cell in graded.items():
                v = verdict.judge_cell(grade_id, cell["points"], cell["exercises"], sub.cases, pdir)
                for name in cell["exercises"]:
                    if name.split(".", 1)[1] in cheats:
                        v.score = 0.0
                        v.reasons.append(f"{name}: your function uses dlcourse.reference; it must compute "
                                         "its result itself, so it earns nothing")
                grade = gb.find_grade(grade_id, nb_id, sub.assignment, sub.student)
                grade.auto_score = v.score
                grade.needs_manual_grade = False
                sub.cells.append({"notebook": nb_id, "grade_id": grade_id, "score": v.score,
                                  "points": v.points, "reasons": v.reasons})
                if nb is not None:
                    _attach(nb, grade_id, v.text())
            gb.db.commit()
            if nb is not None:
                nbformat.write(nb, str(done))


def _attach(nb, grade_id: str, text: str) -> None:
    """Show the verdict under its test cell, so the feedback says why.

    A traceback quotes the cell's source around the failing line, hidden
    tests included: keep only its last line (the error itself).
    """
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            for out in cell.outputs:
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n" + text + "\n"))


def feedback(ws: Workspace, sub: Submission) -> None:
    result = ws.api().generate_feedback(sub.assignment, sub.student, force=True)
    if not result["success"]:
        ws.log(sub.student, sub.assignment, result.get("log", "") + result.get("error", ""))
        raise StepError("could not write the feedback: " + _last_line(result.get("log", "")))


_METADATA = re.compile(r"metadata may be corrupted|does not have a grade_id|schema version|find_graded_cell|"
                       r"MissingEntry|checksum|cell_type")


def _explain(log: str) -> str:
    """A reason a student can act on, from nbgrader's log of a failed autograde."""
    if _METADATA.search(log):
        return ("the notebook's nbgrader cell metadata was changed (grade ids, points, cell types or schema version), "
                "so it cannot be matched with the assignment; redo the exercises in a fresh copy of the notebook")
    errors = [ln.strip() for ln in log.splitlines() if re.search(r"\w(Error|Exception): ", ln)]
    return "nbgrader could not grade the notebook: " + (errors[-1][:300] if errors else _last_line(log))


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no details"


Step = Callable[[Workspace, Submission], None]
STEPS: list[Step] = [check_ids, stage, write_hidden_inputs, autograde, judge, feedback]


def grade_one(ws: Workspace, sub: Submission, steps: list[Step] = STEPS) -> Submission:
    """Run the steps; never raises for a bad submission."""
    if sub.status == "skipped":
        return sub
    for step in steps:
        try:
            step(ws, sub)
        except StepError as exc:
            sub.status, sub.reason = "error", f"{step.__name__}: {exc}"
            _zero(ws, sub)
            break
        except Exception as exc:  # a grader bug must not stop the batch either
            sub.status, sub.reason = "error", f"{step.__name__}: internal error {type(exc).__name__}: {exc}"
            ws.log(sub.student, sub.assignment, sub.reason)
            _zero(ws, sub)
            break
    else:
        sub.status = "graded"
    _totals(ws, sub)
    return sub


def _zero(ws: Workspace, sub: Submission) -> None:
    """A submission that could not be graded scores 0 in the gradebook (so export shows it)."""
    from nbgrader.api import Gradebook, MissingEntry

    if not _ID.match(sub.student):
        return
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        gb.update_or_create_student(sub.student)
        try:
            submission = gb.update_or_create_submission(sub.assignment, sub.student)
        except MissingEntry:
            return
        for nb in submission.notebooks:
            for grade in nb.grades:
                if grade.auto_score is None or grade.cell.cell_type == "code":
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


def _totals(ws: Workspace, sub: Submission) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(ws.db_url, COURSE_ID) as gb:
        try:
            s = gb.find_submission(sub.assignment, sub.student)
        except MissingEntry:
            return
        sub.score, sub.max_score = float(s.score), float(s.max_score)


def grade_batch(submissions: Path, out: Path, *, only: list[str] | None = None, cell_timeout: int = 120,
                notebook_timeout: int = 900, memory_mb: int = 3072, sandbox: str = "auto",
                source: Path = SOLUTIONS) -> list[Submission]:
    """Grade every submission under ``submissions`` into the grading folder ``out``."""
    from grader import report
    from grader.execute import WARNING
    from grader.sandbox import bwrap_available

    ws = Workspace(out.resolve(), cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                   memory_mb=memory_mb, sandbox=sandbox)
    if sandbox == "bwrap" and not bwrap_available():
        raise SystemExit("error: --sandbox bwrap, but bubblewrap (bwrap) is missing or cannot create namespaces here")
    if sandbox == "auto" and not bwrap_available():
        print("WARNING: " + WARNING, file=sys.stderr, flush=True)
    known = only or assignments(source)
    subs = discover(submissions, known)
    prepare(ws, sorted({s.assignment for s in subs if s.status != "skipped"}), source)
    for sub in subs:
        grade_one(ws, sub)
        print(f"{sub.student}/{sub.assignment}: {sub.status} {sub.score:g}/{sub.max_score:g}"
              + (f" ({sub.reason})" if sub.reason else ""), flush=True)
    report.export(ws, subs)
    return subs


def load_results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())
