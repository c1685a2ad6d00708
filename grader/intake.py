"""Intake: turn what an instructor actually receives into the ``student_id/assignment/notebook.ipynb`` tree.

Three sources, each ending as that tree (which grader/pipeline.py grades):

* a folder tree already in that layout (nbgrader's ``submitted/``): used as is;
* nbgrader's exchange (``from_exchange``): nbgrader's own ``collect`` of every
  assignment, into a course folder of its own;
* an archive exported by a learning-management system (``from_archive``):
  a zip of files whose names carry the student's id, read with nbgrader's
  ``zip_collect`` conventions: nbgrader's ``FileNameCollectorPlugin`` matches
  each file's path inside the archive with a regular expression with the named
  groups ``student_id`` and ``file_id`` (``--name-pattern``; the default takes
  ``<student>_<notebook>.ipynb`` or ``<student>/<notebook>.ipynb``, and a
  browser's duplicate suffix ``01_regression (1).ipynb``). The notebook's name
  gives the assignment. Ids that are no plain ids (an e-mail address, an LMS
  login) are mapped through a roster CSV whose first column is the grading id
  and whose other columns are other names of the same student.

The archive is read member by member: no absolute path, no ``..``, no link,
and at most ``Limits.max_submission_mb`` a member. Duplicates of one notebook
of one student keep the newest (the archive's time, then the highest copy
number) and say so. A file that cannot be mapped to a student or an assignment
is an ``IntakeProblem`` with the reason; the others are graded all the same.
"""

from __future__ import annotations

import csv
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader import text
from grader.settings import MB, Limits

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass
class IntakeProblem:
    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def notebook_assignments(source: Path) -> dict[str, str]:
    """notebook name (without .ipynb) -> assignment id, from the source folder."""
    found: dict[str, str] = {}
    for nb in sorted(source.glob("*/*.ipynb")):
        if not nb.parent.name.startswith("."):
            found[nb.stem] = nb.parent.name
    return found


def default_pattern(notebooks: list[str] | None = None) -> str:
    """``<student>_<notebook>.ipynb`` or ``<student>/<notebook>.ipynb`` (in any folder), with an optional duplicate
    suffix `` (1)``. With ``notebooks``, the notebook part is one of them (so a student id may hold '_')."""
    names = "|".join(re.escape(n) for n in sorted(notebooks or [], key=len, reverse=True)) or r"[^/]+?"
    return rf"^(?:.*/)?(?P<student_id>[^/]+?)[_/](?P<file_id>{names})(?: ?\((?P<copy>\d+)\))?\.ipynb$"


def read_roster(path: Path) -> dict[str, str]:
    """Every name of a student (any column, compared without case) -> the grading id (the first column)."""
    ids: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"the roster {text.name(path)} is empty")
    for row in rows[1:]:   # the first row names the columns
        cells = [c.strip() for c in row]
        if not cells or not cells[0]:
            continue
        if not _PLAIN_ID.match(cells[0]):
            raise ValueError(f"the roster's id {text.name(cells[0])!r} is not a plain id (letters, digits, "
                             "'_', '-', '.')")
        for alias in cells:
            if alias:
                ids[alias.lower()] = cells[0]
    return ids


def from_archive(archive: Path, dest: Path, source: Path, *, roster: Path | None = None,
                 pattern: str | None = None, limits: Limits | None = None) -> list[IntakeProblem]:
    """Unpack an LMS export into ``dest/student/assignment/notebook.ipynb``; returns the files it could not map."""
    from nbgrader.plugins import FileNameCollectorPlugin

    limits = limits or Limits()
    books = notebook_assignments(source)
    collectors = [FileNameCollectorPlugin(named_regexp=pattern or default_pattern(list(books)),
                                          valid_ext=[".ipynb"])]
    if pattern is None:   # a name that is no known notebook: read it anyway, to say which notebook is unknown
        collectors.append(FileNameCollectorPlugin(named_regexp=default_pattern(), valid_ext=[".ipynb"]))
    names = read_roster(roster) if roster else {}
    problems: list[IntakeProblem] = []
    chosen: dict[tuple[str, str], tuple[tuple, zipfile.ZipInfo, str]] = {}
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{text.name(archive)} is not a readable zip archive ({exc})") from None
    with zf:
        for info in zf.infolist():
            name = text.clean(info.filename)
            if info.is_dir() or "__MACOSX" in name or PurePosixPath(name).name.startswith("."):
                continue
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts or stat.S_ISLNK(info.external_attr >> 16):
                problems.append(IntakeProblem(name, "refused: an absolute path, a '..' or a link in the archive"))
                continue
            if not name.endswith(".ipynb"):
                continue
            found = next((f for f in (c.collect(info.filename) for c in collectors) if f), None)
            if not found or not found.get("student_id") or not found.get("file_id"):
                problems.append(IntakeProblem(name, "cannot be mapped to a student and a notebook: its name does "
                                                    "not match the pattern (see --name-pattern)"))
                continue
            raw, file_id = found["student_id"], PurePosixPath(found["file_id"]).stem
            student = names.get(raw.strip().lower()) or (raw if not roster and _PLAIN_ID.match(raw) else None)
            why = []
            if student is None:
                who = "is not in the roster" if roster else "is no plain id: pass a roster (--roster) to map it"
                why.append(f"cannot be mapped to a student: {text.name(raw)!r} {who}")
            if file_id not in books:
                why.append(f"cannot be mapped to an assignment: no assignment has a notebook {text.name(file_id)!r}")
            if why:
                problems.append(IntakeProblem(name, "; ".join(why)))
                continue
            if info.file_size > limits.max_staged_notebook_mb * MB:
                problems.append(IntakeProblem(name, f"larger than {limits.max_staged_notebook_mb} MB"))
                continue
            rank = (info.date_time, int(found.get("copy") or 0), info.filename)
            key = (student, file_id)
            if key in chosen:
                older = min(chosen[key][0], rank)
                problems_note = f"a duplicate of {student}'s {file_id}.ipynb; the newest one is graded"
                problems.append(IntakeProblem(text.clean(older[2]), problems_note))
                if rank < chosen[key][0]:
                    continue
            chosen[key] = (rank, info, name)
        for (student, file_id), (_, info, _) in sorted(chosen.items()):
            target = dest / student / books[file_id] / f"{file_id}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, MB)
    return problems


def from_exchange(exchange: Path, dest: Path, assignment_ids: list[str]) -> Path:
    """nbgrader collect of every assignment from the exchange ``exchange`` into the course folder ``dest``;
    returns its ``submitted/`` folder."""
    from nbgrader.apps import NbGraderAPI

    from grader.course import nbgrader_config

    dest.mkdir(parents=True, exist_ok=True)
    config = nbgrader_config(dest, db_url=f"sqlite:///{dest / 'intake.db'}")
    config.Exchange.root = str(exchange)
    api = NbGraderAPI(config=config)
    for aid in assignment_ids:
        result = api.collect(aid, update=True)
        if not result["success"]:
            raise ValueError(f"nbgrader collect of {aid} from {text.name(exchange)} failed: "
                             f"{text.clean(result.get('error', '') or result.get('log', ''))[-500:]}")
    (dest / "submitted").mkdir(exist_ok=True)
    return dest / "submitted"
