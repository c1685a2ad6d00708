"""Grading a batch: one straight path per submission, under a lock on the grading folder.

This module owns the order of things. ``grade_batch`` takes the lock on the
grading folder (``--out``; a second grader waits or is refused), refuses to
start without a working sandbox unless ``--sandbox none`` was asked for,
finds the submissions (refusing symbolic links), records the trusted source
notebooks in the gradebook once (``prepare``), leaves out the submissions
graded before and unchanged since (grader/parallel.py's ``fingerprint``), runs
the steps of ``STEPS`` for every other submission, ``jobs`` at a time or on a
Dask cluster, each in a private folder whose result the grader process alone
brings in (grader/parallel.py), and last writes the tables (grader/report.py)
and the class report (grader/classreport.py).

The steps of one submission:

1. ``check_ids``: plain ids only (they become folder names and database keys).
2. ``stage``: a fresh copy into ``submitted/``: regular files only, read without
   following a link, within the size limits; links, special files and names
   that are not UTF-8 are refused, each with a reason.
3. ``autograde``: nbgrader autograde, whose pipeline the grader extends
   (grader/execute.py): sanitize, execute in the sandbox, judge and write the
   trusted scores, then nbgrader's own remaining steps.
4. ``collect``: the notebook run reports written during autograde become the
   submission's per-cell results.
5. ``feedback``: nbgrader generate_feedback with the grader's exporter (formulas
   as MathML, the final verdicts, tracebacks without library frames), then each
   page gets a summary at its top and is sanitized (grader/feedback.py).

A step that fails (a ``StepError``, an ``OSError`` such as a full disk, or a
bug) ends that submission with one of grader.settings.STATUSES (the
``StepError`` says which; anything else is ``crashed``) and a reason; its
auto-graded cells score 0, and the batch goes on. A submission whose steps all
ran can still be ``timed out``, ``crashed`` or ``missing notebook``
(``outcome``). Each submission's result is saved in
``runs/`` as soon as it is known, so the tables always cover every submission
ever graded into the folder, each exactly once.

The grading folder (``--out``) is an nbgrader course directory:

    source/<assignment>/                trusted copy of solutions/
    submitted/<student>/<assignment>/   the submissions, copied in
    autograded/, feedback/              written by nbgrader
    runs/<student>/<assignment>/        run reports and the submission's result (never in a sandbox)
    sandbox/                            working copies, removed after each run
    work/                               the tasks' private course folders (grader/parallel.py), removed
    gradebook.db, grades.csv, results.csv, results.json, class_report.html, class_report.csv, logs/,
    .grader_secret, .grader.lock, .template.db, .recorded.json
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import nbformat

from grader import hidden, text
from grader.course import COURSE_ID, SOLUTIONS, assignments, nbgrader_config
from grader.execute import SECRET_FILE, run_report_path
from grader.settings import GRADED, MB, Limits

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
LOCK_FILE = ".grader.lock"
RESULT_FILE = "result.json"
RECORDED_FILE = ".recorded.json"   # which source of each assignment is recorded in which gradebook


class StepError(Exception):
    """A submission cannot go on; the message is the reason the student and instructor see, ``status`` one of
    grader.settings.STATUSES."""

    def __init__(self, message: str, status: str = "crashed"):
        super().__init__(message)
        self.status = status


class GradingRefusedError(Exception):
    """The batch cannot start (no sandbox, a linked folder, another grader on the folder); the message says why."""


@dataclass
class Workspace:
    root: Path
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "bwrap"
    db: str | None = None          # any SQLAlchemy URL; None: gradebook.db (SQLite) in the folder
    fast: bool = False             # skip the cells tagged as illustration (grader/illustration.py)

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:///{self.root / 'gradebook.db'}"

    def has_gradebook(self) -> bool:
        return self.db is not None or (self.root / "gradebook.db").exists()

    @property
    def secret(self) -> bytes:
        path = self.root / SECRET_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        return path.read_bytes()

    def api(self):
        from nbgrader.apps import NbGraderAPI

        _in_process_alembic_head()
        return NbGraderAPI(config=nbgrader_config(self.root, db_url=self.db_url, limits=self.limits,
                                                  sandbox=self.sandbox, fast=self.fast))

    def source_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.root / "source" / assignment).glob("*.ipynb"))

    def runs_dir(self, student: str, assignment: str) -> Path:
        return self.root / "runs" / student / assignment

    def log(self, student: str, assignment: str, message: str) -> None:
        """Append to the submission's log; never raises (a full disk must not stop the batch here)."""
        try:
            logs = self.root / "logs"
            logs.mkdir(exist_ok=True)
            name = f"{student}__{assignment}" if _ID.match(student) and _ID.match(assignment) else "refused"
            with open(logs / f"{name}.log", "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text.clean(message).rstrip() + "\n")
        except OSError:
            pass


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
    missing: list[str] = field(default_factory=list)   # notebooks of the assignment not in the submission
    fingerprint: str = ""                               # what was graded (grader/parallel.py): same -> not again
    seconds: float = 0.0
    worker: str = ""                                    # where it was graded: host and process

    @classmethod
    def from_saved(cls, saved: dict) -> Submission:
        known = {f.name for f in fields(cls)}
        sub = cls(**{k: v for k, v in saved.items() if k in known})
        sub.path = Path(sub.path)
        return sub

    def summary(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return text.clean_data(json.loads(json.dumps(d, default=str)))  # plain, encodable data only

    def note(self, message: str) -> None:
        self.reason = "; ".join(m for m in (self.reason, message) if m)


# -- the folder lock -------------------------------------------------------------

@contextmanager
def folder_lock(out: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the grading folder for one grader. Another one waits (``wait``) or is refused with a reason.

    An advisory ``flock``: the kernel drops it when the holder exits, however it ends (SIGKILL included)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "backslashreplace").strip() or "another process"
            raise GradingRefusedError(
                f"another grader is already grading into {text.name(out)} ({holder}); wait for it to finish "
                "(or pass --wait), or grade into another --out folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)


# -- once per batch ------------------------------------------------------------

FORMGRADER_CONFIG = "nbgrader_config.py"


def write_formgrader_config(ws: Workspace) -> Path:
    """``nbgrader_config.py`` in the grading folder: nbgrader's formgrader, or any ``nbgrader`` command, started in
    that folder works on this grading run's gradebook (hand grading of the written answers; README, "Grading")."""
    path = ws.root / FORMGRADER_CONFIG
    text_ = (
        "# Written by `python -m grader grade`: start JupyterLab (or any nbgrader command) in this folder and\n"
        "# nbgrader's formgrader works on this grading run. After hand grading: python -m grader export --out .\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.CourseDirectory.root = {str(ws.root.resolve())!r}\n"
        f"c.CourseDirectory.db_url = {ws.db_url!r}\n"
    )
    if not path.exists() or path.read_text(encoding="utf-8") != text_:
        text.write_text(path, text_)
    return path


def prepare(ws: Workspace, assignment_ids: list[str], source: Path = SOLUTIONS, force: bool = False) -> None:
    """Copy the trusted notebooks in and record their cells in the gradebook, and in the template gradebook
    that every task's private one is copied from (grader/parallel.py). An assignment whose source has not
    changed since it was recorded in a gradebook is not recorded there again (unless ``force``)."""
    from grader.parallel import TEMPLATE_DB

    ws.secret  # noqa: B018 (created once, before any run needs it)
    write_formgrader_config(ws)
    template = ws.root / TEMPLATE_DB
    stamps_file = ws.root / RECORDED_FILE
    try:
        stamps = json.loads(stamps_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamps = {}
    main_key = hashlib.sha256(ws.db_url.encode()).hexdigest()[:16]
    books = {"template": ("template", replace(ws, db=f"sqlite:///{template}"), template.exists())}
    seed_main = ws.db is None and not ws.has_gradebook()   # a new SQLite gradebook starts as a copy of the template
    if not seed_main:
        books["main"] = (main_key, ws, True)
    apis: dict = {}
    for aid in assignment_ids:
        src, dst = source / aid, ws.root / "source" / aid
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        stamp = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(dst.glob("*.ipynb"))))
        for which, (key, book, exists) in books.items():
            if not force and exists and stamps.get(f"{key}/{aid}") == stamp.hexdigest():
                continue
            api = apis.setdefault(which, book.api())
            result = api.generate_assignment(aid, force=True, create=True)
            if not result["success"]:
                details = result.get("log", "") + result.get("error", "")
                raise RuntimeError(f"could not record {aid} in the gradebook:\n{details}")
            stamps[f"{key}/{aid}"] = stamp.hexdigest()
            text.write_text(stamps_file, json.dumps(stamps, indent=1))
    if seed_main and template.exists():
        shutil.copyfile(template, ws.root / "gradebook.db")
        stamps.update({f"{main_key}/{k.split('/', 1)[1]}": v for k, v in stamps.items() if k.startswith("template/")})
        text.write_text(stamps_file, json.dumps(stamps, indent=1))


def discover(submissions: Path, known: list[str], only: list[str] | None = None) -> list[Submission]:
    """Every student_id/assignment folder under ``submissions``: those of ``only`` (default: every assignment
    of ``known``); a folder that is no assignment of the course is ``refused`` with the reason.

    Links are never followed: a student or assignment folder that is a symbolic link is ``refused`` with the
    reason, so nothing outside ``submissions`` is read."""
    if submissions.is_symlink():
        raise GradingRefusedError(f"{text.name(submissions)} is a symbolic link: give the submissions folder itself")
    found = []
    for student_dir in sorted(os.scandir(submissions), key=lambda e: e.name):
        if student_dir.is_symlink():
            sub = Submission(student_dir.name, "", Path(student_dir.path), status="refused")
            sub.reason = (f"the student folder {text.name(student_dir.name)} is a symbolic link: refused "
                          "(nothing outside the submissions folder is read)")
            found.append(sub)
            continue
        if not student_dir.is_dir(follow_symlinks=False):
            continue
        for adir in sorted(os.scandir(student_dir.path), key=lambda e: e.name):
            sub = Submission(student_dir.name, adir.name, Path(adir.path))
            if only and adir.name in known and adir.name not in only:
                continue
            if adir.is_symlink():
                sub.status = "refused"
                sub.reason = (f"the assignment folder {text.name(adir.name)} is a symbolic link: refused "
                              "(nothing outside the submissions folder is read)")
            elif not adir.is_dir(follow_symlinks=False):
                continue
            elif adir.name not in known:
                sub.status = "refused"
                sub.reason = f"unknown assignment {text.name(adir.name)!r} (known: {', '.join(known)})"
            found.append(sub)
    return found


# -- the steps, in order -----------------------------------------------------------

def check_ids(ws: Workspace, sub: Submission) -> None:
    """Ids become folder names and database keys: allow only plain ones."""
    for what, value in (("student id", sub.student), ("assignment id", sub.assignment)):
        if not _ID.match(value):
            raise StepError(f"invalid {what} {text.name(value)!r}: use letters, digits, '_', '-' and '.'",
                            "refused")


def stage(ws: Workspace, sub: Submission) -> None:
    """Copy the submission into submitted/: regular files and folders only, never through a link (one could
    point at the solutions or the gradebook), within size limits. A fresh copy each time."""
    limits = ws.limits
    dest = ws.root / "submitted" / sub.student / sub.assignment
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    refused: dict[str, list[str]] = {"symbolic links": [], "special files": [], "names that are not UTF-8": []}
    total = 0
    for folder, dirs, files in os.walk(sub.path, followlinks=False):
        rel_dir = Path(folder).relative_to(sub.path)
        keep = []
        for d in sorted(dirs):
            rel = rel_dir / d
            if d == ".ipynb_checkpoints":
                continue
            if os.path.islink(os.path.join(folder, d)):
                refused["symbolic links"].append(text.name(rel))
            elif not text.is_utf8_name(d):
                refused["names that are not UTF-8"].append(text.name(rel))
            else:
                keep.append(d)
                (dest / rel).mkdir()
        dirs[:] = keep
        for name in sorted(files):
            rel = rel_dir / name
            if not text.is_utf8_name(name):
                refused["names that are not UTF-8"].append(text.name(rel))
                continue
            kind = _copy_plain_file(Path(folder) / name, dest / rel, limits.max_submission_mb * MB - total)
            if kind is not None:
                refused[kind].append(text.name(rel))
                continue
            size = (dest / rel).stat().st_size
            total += size
            if rel.suffix == ".ipynb" and size > limits.max_staged_notebook_mb * MB:
                raise StepError(f"{text.name(rel)} is larger than {limits.max_staged_notebook_mb} MB", "refused")
    notes = [f"refused {kind}: {', '.join(sorted(names)[:5])}" + (" ..." if len(names) > 5 else "")
             for kind, names in refused.items() if names]
    expected = {p.name for p in ws.source_notebooks(sub.assignment)}
    present = {p.name for p in dest.glob("*.ipynb")}
    for nb_name in sorted(expected & present):
        try:
            nb = nbformat.read(str(dest / nb_name), as_version=4)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("no cells")
        except Exception as exc:
            raise StepError(unreadable(nb_name, exc), "invalid notebook") from None
        cleaned = text.clean_data(nb)
        if cleaned != nb:   # lone surrogates (JSON escapes) in a cell: escaped, so that every later write works
            nbformat.write(nbformat.from_dict(cleaned), str(dest / nb_name))
            notes.append(f"{nb_name}: text that cannot be encoded was escaped")
    if not expected & present:
        sub.missing = sorted(expected)
        raise StepError(f"no notebook of {sub.assignment} in the submission (expected {', '.join(sorted(expected))})"
                        + (f"; {'; '.join(notes)}" if notes else ""), "missing notebook")
    missing = expected - present
    sub.missing = sorted(missing)
    if missing:
        notes.append(f"missing notebook(s) scored 0: {', '.join(sorted(missing))}")
    sub.note("; ".join(notes))


def _copy_plain_file(src: Path, dest: Path, budget: int) -> str | None:
    """Copy one regular file without following a link; returns why it was refused, or None."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic links"
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "special files"
        with open(dest, "wb") as out:
            while chunk := f.read(MB):
                budget -= len(chunk)
                if budget < 0:
                    raise StepError("the submission is larger than the limit for a whole submission", "refused")
                out.write(chunk)
    return None


def autograde(ws: Workspace, sub: Submission) -> None:
    """nbgrader autograde: restore locked and test cells from source, execute in the sandbox, write verdicts."""
    runs = ws.runs_dir(sub.student, sub.assignment)
    for stale in runs.glob("*.json") if runs.exists() else []:
        stale.unlink()
    result = ws.api().autograde(sub.assignment, sub.student, force=True, create=True)
    ws.log(sub.student, sub.assignment, result.get("log", ""))
    if not result["success"]:
        ws.log(sub.student, sub.assignment, result.get("error", ""))
        reason = _explain(result.get("log", "") + result.get("error", ""))
        raise StepError(reason, "invalid notebook" if reason.startswith(_CHANGED) else "crashed")


def collect(ws: Workspace, sub: Submission) -> None:
    """The run reports SaveVerdicts wrote, as the submission's cells; a notebook that was not run scores 0."""
    for nb_path in ws.source_notebooks(sub.assignment):
        report = run_report_path(ws.root, sub.student, sub.assignment, nb_path.stem)
        if report.exists():
            run = json.loads(report.read_text(encoding="utf-8"))
            sub.cells += run.pop("cells")   # reasons already name a cell that did not run (grader/execute.py)
            sub.runs.append(run)
            if run["status"] != "ok":
                sub.note(f"{run['notebook']}: {run['detail']}")
            if run["sandbox"] == "none":
                sub.note("graded WITHOUT a sandbox (--sandbox none)")
            continue
        for grade_id, cell in hidden.graded_test_cells(nb_path).items():
            sub.cells.append({"notebook": nb_path.stem, "grade_id": grade_id, "score": 0.0,
                              "points": cell["points"], "reasons": [f"{nb_path.name} was not submitted"]})
    sub.reason = "; ".join(dict.fromkeys(r for r in sub.reason.split("; ") if r))


def feedback(ws: Workspace, sub: Submission) -> None:
    """nbgrader generate_feedback with the grader's exporter (grader/feedback.py: formulas as MathML, the final
    verdict under each test cell, tracebacks without library frames), then each page gets its summary at the top
    and is sanitized."""
    from grader import feedback as fb

    api = ws.api()
    verdicts = {f"{c['notebook']}/{c['grade_id']}": _verdict_text(c) for c in sub.cells}
    api.update_config(fb.exporter_config(api.config.GenerateFeedback.get("preprocessors"), verdicts))
    result = api.generate_feedback(sub.assignment, sub.student, force=True)
    if not result["success"]:
        ws.log(sub.student, sub.assignment, result.get("log", "") + result.get("error", ""))
        raise StepError("could not write the feedback: " + _last_line(result.get("log", "")))
    for page in sorted((ws.root / "feedback" / sub.student / sub.assignment).rglob("*.html")):
        source = ws.root / "source" / sub.assignment / f"{page.stem}.ipynb"
        summary = None
        if source.exists():
            cells = [c for c in sub.cells if c.get("notebook") == page.stem]
            summary = fb.summary_html(fb.summary_rows(nbformat.read(str(source), as_version=4), cells))
        fb.finish_page(page, summary)


def _verdict_text(cell: dict) -> str:
    """The verdict shown under a test cell, in the form SaveVerdicts writes it (grader/verdict.py)."""
    from grader.verdict import CellVerdict

    return CellVerdict(cell["grade_id"], cell["points"], cell["score"], list(cell.get("reasons", []))).text()


def unreadable(nb_name: str, exc: Exception) -> str:
    """Why a submitted notebook cannot be read, in words a student can act on (where JSON says it: the line and
    column)."""
    cause = exc if isinstance(exc, json.JSONDecodeError) else exc.__cause__ or exc.__context__
    fix = "redo the work in a fresh copy of the notebook"
    if isinstance(cause, json.JSONDecodeError) and cause.doc.strip():
        what = f"it is not valid JSON: {cause.msg.removesuffix(' at')} at line {cause.lineno}, column {cause.colno}"
        fix = f"open it in a text editor at line {cause.lineno}, column {cause.colno} and mend it, or {fix}"
    elif isinstance(cause, json.JSONDecodeError):
        what = "the file is empty"
    elif isinstance(exc, UnicodeDecodeError):
        what = f"it is not UTF-8 text ({exc.reason} at byte {exc.start})"
    elif type(exc).__name__ == "ValidationError":
        what = f"it is JSON but not a notebook: {getattr(exc, 'message', exc)}"
    else:
        what = f"it is JSON but not a notebook ({type(exc).__name__}: {exc})"
    return text.clean(f"{nb_name} is not a readable notebook: {' '.join(what.split())[:300]}; so it was not graded "
                      f"and every exercise in it scores 0: {fix}")


_METADATA = re.compile(r"metadata may be corrupted|does not have a grade_id|schema version|find_graded_cell|"
                       r"MissingEntry|checksum|cell_type")


_CHANGED = "the notebook's nbgrader cell metadata was changed"


def _explain(log: str) -> str:
    """A reason a student can act on, from nbgrader's log of a failed autograde."""
    if _METADATA.search(log):
        return (f"{_CHANGED} (grade ids, points, cell types or schema version), so it cannot be matched with the "
                "assignment; redo the exercises in a fresh copy of the notebook")
    errors = [ln.strip() for ln in log.splitlines() if re.search(r"\w(Error|Exception): ", ln)]
    return "nbgrader could not grade the notebook: " + text.clean(errors[-1][:300] if errors else _last_line(log))


def _last_line(log: str) -> str:
    lines = [ln for ln in log.strip().splitlines() if ln.strip()]
    return text.clean(lines[-1][:300]) if lines else "no details"


def _os_reason(exc: OSError) -> str:
    code = errno.errorcode.get(exc.errno or 0, "")
    where = f": {text.name(exc.filename)}" if exc.filename else ""
    return f"{exc.strerror or type(exc).__name__}{f' ({code})' if code else ''}{where}"


Step = Callable[[Workspace, Submission], None]
STEPS: list[Step] = [check_ids, stage, autograde, collect, feedback]


def grade_one(ws: Workspace, sub: Submission, steps: list[Step] = STEPS) -> Submission:
    """Run the steps; never raises for a bad submission, a full disk or a grader bug. The submission ends with
    one of grader.settings.STATUSES and, unless it was graded in full, a reason."""
    start = time.monotonic()
    broke = sub.status != "pending"
    if sub.status == "pending":
        for step in steps:
            try:
                step(ws, sub)
            except StepError as exc:
                sub.status, sub.reason = exc.status, f"{step.__name__}: {text.clean(exc)}"
            except OSError as exc:
                sub.status, sub.reason = "crashed", f"{step.__name__}: {_os_reason(exc)}"
            except Exception as exc:  # a grader bug must not stop the batch either
                sub.status = "crashed"
                sub.reason = f"{step.__name__}: internal error {type(exc).__name__}: {text.clean(exc)}"
            else:
                continue
            broke = True
            break
        else:
            sub.status = outcome(sub)
    if broke:
        ws.log(sub.student, sub.assignment, sub.reason)
        _guarded(ws, sub, "listing the exercises", _not_graded)
        _guarded(ws, sub, "recording the score 0", _zero)
    _guarded(ws, sub, "reading the totals", _totals)
    sub.seconds = round(time.monotonic() - start, 2)
    _guarded(ws, sub, "saving the result", save_result)
    return sub


def outcome(sub: Submission) -> str:
    """The status of a submission whose steps all ran: a notebook that ran out of time or whose kernel died, or
    one that is missing, says so (the rest of the submission is graded all the same)."""
    runs = [r.get("status") for r in sub.runs]
    if any(r in ("timeout", "stalled") for r in runs):
        return "timed out"
    if any(r != "ok" for r in runs):
        return "crashed"
    if sub.missing:
        return "missing notebook"
    return GRADED


def _guarded(ws: Workspace, sub: Submission, what: str, action: Callable[[Workspace, Submission], None]) -> None:
    try:
        action(ws, sub)
    except Exception as exc:  # the disk or the database failed: say so, and go on with the batch
        sub.status = "crashed"
        why = _os_reason(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {text.clean(exc)[:300]}"
        sub.note(f"{what}: {why}")


def _not_graded(ws: Workspace, sub: Submission) -> None:
    """A submission whose notebook could not be read or matched with the assignment (``invalid notebook``) lists
    every exercise of the assignment at 0 with the reason, and gets a feedback page that says why
    (grader/feedback.py)."""
    from grader import feedback as fb

    if sub.status != "invalid notebook" or sub.cells or not (_ID.match(sub.student) and _ID.match(sub.assignment)):
        return
    for nb_path in ws.source_notebooks(sub.assignment):
        cells = [{"notebook": nb_path.stem, "grade_id": grade_id, "score": 0.0, "points": cell["points"],
                  "reasons": [sub.reason]} for grade_id, cell in hidden.graded_test_cells(nb_path).items()]
        sub.cells += cells
        page = ws.root / "feedback" / sub.student / sub.assignment / f"{nb_path.stem}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        rows = fb.summary_rows(nbformat.read(str(nb_path), as_version=4), cells)
        text.write_text(page, fb.failure_page(nb_path.stem, sub.reason, rows))
        fb.finish_page(page)


def _zero(ws: Workspace, sub: Submission) -> None:
    """A submission that could not be graded scores 0 in the gradebook (so export shows it)."""
    from nbgrader.api import Gradebook, MissingEntry

    if not (_ID.match(sub.student) and _ID.match(sub.assignment)) or not ws.has_gradebook():
        return
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        try:
            gb.find_assignment(sub.assignment)
        except MissingEntry:
            return
        gb.update_or_create_student(sub.student)
        submission = gb.update_or_create_submission(sub.assignment, sub.student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                if grade.auto_score is None or grade.cell.cell_type == "code":
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()
    sub.cells = [{**c, "score": 0.0} for c in sub.cells]


def _totals(ws: Workspace, sub: Submission) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    if not (_ID.match(sub.student) and _ID.match(sub.assignment)) or not ws.has_gradebook():
        return
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        try:
            s = gb.find_submission(sub.assignment, sub.student)
        except MissingEntry:
            return
        sub.score, sub.max_score = float(s.score), float(s.max_score)


def result_path(ws: Workspace, sub: Submission) -> Path:
    """Where the submission's result is kept: by id, or (ids that cannot be folder names) by a hash of them."""
    if _ID.match(sub.student) and _ID.match(sub.assignment):
        return ws.runs_dir(sub.student, sub.assignment) / RESULT_FILE
    key = hashlib.sha256(repr((sub.student, sub.assignment)).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return ws.root / "runs" / ".refused" / f"{key}.json"


def _in_process_alembic_head() -> None:
    """nbgrader stamps every new gradebook with its schema's alembic head, which it finds by running the
    ``alembic heads`` command in a new Python process (about 2.5 s of a batch, once per new gradebook). The
    head is a fixed property of the installed nbgrader: read it once, in this process, from the same migration
    scripts (a test compares the two)."""
    import nbgrader.api

    if getattr(nbgrader.api.get_alembic_version, "in_process", False):
        return

    @functools.cache
    def head() -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import ALEMBIC_DIR

        config = Config()
        config.set_main_option("script_location", str(ALEMBIC_DIR))
        return ScriptDirectory.from_config(config).get_current_head()

    head.in_process = True
    nbgrader.api.get_alembic_version = head


def save_result(ws: Workspace, sub: Submission) -> None:
    path = result_path(ws, sub)
    path.parent.mkdir(parents=True, exist_ok=True)
    text.write_text(path, json.dumps(sub.summary(), indent=1))


def grade_batch(submissions: Path, out: Path, *, only: list[str] | None = None, limits: Limits | None = None,
                sandbox: str = "bwrap", source: Path = SOLUTIONS, wait: bool = False, jobs: int = 1,
                scheduler: str | None = None, db: str | None = None, force: bool = False, fast: bool = False,
                progress: bool = False, timings: dict[str, float] | None = None) -> list[Submission]:
    """Grade every submission under ``submissions`` into the grading folder ``out``.

    ``jobs`` submissions at a time in local processes, or on the Dask cluster at ``scheduler`` ("local": a
    local one); the gradebook at ``db`` (a SQLAlchemy URL; default: SQLite in ``out``). A submission graded
    before and unchanged since keeps its result unless ``force``. ``fast`` skips the cells tagged as
    illustration (grader/illustration.py). ``timings``, when given, receives the seconds spent recording the
    assignments, grading and writing the tables.

    Raises GradingRefusedError (nothing graded, nothing written) when the sandbox is missing and ``sandbox`` is not
    "none", when a folder given is a symbolic link, or when another grader holds ``out``."""
    from grader import classreport, parallel, report
    from grader.sandbox import bwrap_available, bwrap_problem

    if sandbox not in ("bwrap", "none"):
        raise ValueError(f"sandbox must be 'bwrap' or 'none', got {sandbox!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive whole number, got {jobs!r}")
    if sandbox == "bwrap" and not bwrap_available():
        raise GradingRefusedError(
            f"{bwrap_problem()}. Refusing to grade without a sandbox: install bubblewrap, or pass "
            "--sandbox none to grade without one (README says what that gives up)")
    for what, folder in (("submissions folder", submissions), ("grading folder", out)):
        if folder.is_symlink():
            raise GradingRefusedError(f"the {what} {text.name(folder)} is a symbolic link: give the folder itself")
    if not submissions.is_dir():
        raise GradingRefusedError(f"{text.name(submissions)} is not a folder of student_id/assignment/ submissions")
    ws = Workspace(out.resolve(), limits or Limits(), sandbox, db=db, fast=fast)
    parallel.quiet()
    with folder_lock(ws.root, wait=wait):
        if sandbox == "none":
            print("WARNING: grading WITHOUT a sandbox (--sandbox none): submissions run as this user and can read "
                  "what it can read. See README.", file=sys.stderr, flush=True)
        shutil.rmtree(ws.root / parallel.WORK, ignore_errors=True)   # what a killed grader's tasks left
        clock = time.monotonic()
        subs = discover(submissions, assignments(source), only)
        prepare(ws, sorted({s.assignment for s in subs if s.status == "pending"}), source, force=force)
        spent = {"prepare": time.monotonic() - clock}
        tasks = []
        for i, sub in enumerate(subs):
            if sub.status != "pending":
                grade_one(ws, sub)
                continue
            sub.fingerprint = parallel.fingerprint(ws, sub)
            saved = _saved(ws, sub)
            if not force and saved and saved.get("fingerprint") == sub.fingerprint and saved["status"] != "crashed":
                subs[i] = Submission.from_saved(saved)   # graded before and unchanged since: its result stands
                continue
            tasks.append((sub, parallel.make_task(ws, sub)))
        clock = time.monotonic()
        _run(ws, tasks, jobs, scheduler, progress)
        spent["grading"] = time.monotonic() - clock
        shutil.rmtree(ws.root / parallel.WORK, ignore_errors=True)
        report.export(ws)
        classreport.write(ws)
        spent["tables"] = time.monotonic() - clock - spent["grading"]
        if timings is not None:
            timings.update({k: round(v, 2) for k, v in spent.items()})
    return subs


def _saved(ws: Workspace, sub: Submission) -> dict | None:
    try:
        return json.loads(result_path(ws, sub).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run(ws: Workspace, tasks: list, jobs: int, scheduler: str | None, progress: bool) -> None:
    """Grade the tasks where asked, merging each result as it arrives; a progress bar says how far it is."""
    from tqdm import tqdm

    from grader import parallel

    failed = 0
    with tqdm(total=len(tasks), unit="submission", file=sys.stderr, disable=not progress or not tasks,
              mininterval=0.5, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}") as bar:
        bar.set_postfix_str("failed 0")
        with parallel.executor(jobs, scheduler) as pool:
            for sub, done, error in parallel.completed(pool, tasks):
                broke = error is not None
                if error is not None:
                    sub.status = "crashed"
                    sub.reason = f"the grading worker failed: {type(error).__name__}: {text.clean(error)[:300]}"
                else:
                    try:
                        parallel.merge(ws, sub, done)
                    except Exception as exc:   # the disk or the database failed: this one says so
                        broke, sub.status = True, "crashed"
                        why = _os_reason(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
                        sub.note(f"bringing the result in: {text.clean(why)[:300]}")
                if broke:
                    _guarded(ws, sub, "recording the score 0", _zero)
                _guarded(ws, sub, "reading the totals", _totals)
                _guarded(ws, sub, "saving the result", save_result)
                failed += sub.status != GRADED
                bar.set_postfix_str(f"failed {failed}")
                bar.update()
                tqdm.write(text.clean(f"{sub.student}/{sub.assignment}: {sub.status} {sub.score:g}/{sub.max_score:g}"
                                      + (f" ({sub.reason})" if sub.reason else "")), file=sys.stdout)


def load_results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))
