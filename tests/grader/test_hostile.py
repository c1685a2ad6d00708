"""A battery of hostile and broken submissions, graded in one batch through the real CLI.

Each is checked for: no points that were not earned, a clear status and
reason, the rest of the batch graded, the gradebook intact. Most start from
the untouched student notebook (every exercise a stub, so ANY point is a
breach); a few start from the solution, to show that one hostile cell does not
cost the rest of the notebook its points.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from grader.sandbox import bwrap_available
from grader.settings import STATUSES

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"
STUDENT = REPO / "course" / AID / f"{AID}.ipynb"
SECRET = "### BEGIN SOLUTION"  # appears in every instructor notebook, never in a student's

pytestmark = pytest.mark.slow


def in_ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _trim(nb):
    """Drop the slow cells a student may delete anyway (slider views, the training section)."""
    keep = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta and ("show(" in cell.source or "train_logistic" in cell.source
                                                      or "theta_digits" in cell.source):
            continue
        keep.append(cell)
    nb.cells = keep
    return nb


def _base(kind: str):
    nb = nbformat.read(str(SOLUTION if kind == "solution" else STUDENT), as_version=4)
    return _trim(nb)


def _with_cell(kind: str, source: str, after: str = "setup"):
    nb = _base(kind)
    idx = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(source))
    return nb


def _solved(kind_fn) -> nbformat.NotebookNode:
    """The student notebook with every exercise replaced by ``kind_fn(name)``."""
    nb = _base("student")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            cell.source = kind_fn(meta["grade_id"], cell.source)
    return nb


def _wrong(name: str, source: str) -> str:
    """Every function returns 0.0: wrong everywhere."""
    return source.split("raise NotImplementedError")[0] + "return 0.0\n"


class Listener:
    """A TCP server on the host's loopback that records any connection from a sandbox."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()


def _submissions(listener: Listener, out: Path) -> dict[str, object]:
    """student id -> notebook (NotebookNode), raw bytes, or a callable writing the folder."""
    s: dict[str, object] = {}
    s["honest"] = _base("solution")  # the baseline: must keep full marks despite its neighbours
    s["infinite_loop"] = _with_cell("solution", "while True:\n    pass")
    s["long_sleep"] = _with_cell("student", "import time\ntime.sleep(10**6)")
    s["os_exit"] = _with_cell("student", "import os\nos._exit(0)")
    s["segfault"] = _with_cell("student", "import ctypes\nctypes.string_at(0)")
    s["memory_bomb"] = _with_cell("student", "hog = []\nwhile True:\n    hog.append(bytearray(50 * 2**20))")
    s["fork_bomb"] = _with_cell("student", (
        "import os, time\nkids = 0\nfor _ in range(400):\n    try:\n        pid = os.fork()\n    except OSError:\n"
        "        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    kids += 1\n"
        "print('forked', kids)"))
    s["huge_output"] = _with_cell("student", "for _ in range(3000):\n    print('x' * 1_000_000)")
    s["much_output"] = _with_cell("solution", "for _ in range(60):\n    print('x' * 1_000_000)")
    nb = _base("student")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution"):
            cell.source = "print('all tests passed')"
    s["edited_tests"] = nb
    nb = _base("student")
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader", {}).get("grade")
                                            and c.cell_type == "code")]
    s["deleted_tests"] = nb
    nb = _base("student")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 100
        if meta.get("solution") and cell.cell_type == "code":
            meta["grade"], meta["points"] = True, 50
    s["changed_points"] = nb
    nb = _base("student")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id", "").startswith("test_"):
            meta["grade_id"] = meta["grade_id"] + "_mine"
    s["changed_grade_ids"] = nb
    nb = _base("student")
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["schema_version"] = 99
    s["changed_schema"] = nb
    patched = _solved(_wrong)
    patched.cells.insert(2, nbformat.v4.new_code_cell(
        "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\nimport dlcourse.checks.compare as c\n"
        "c.compare = lambda *a, **k: c.Comparison(True)"))
    s["patched_numpy"] = patched
    s["always_equal"] = _solved(lambda name, src: src.split("raise NotImplementedError")[0] + (
        "class Yes:\n        __eq__ = lambda self, other: True\n        __ne__ = lambda self, other: False\n"
        "        __array_priority__ = 1000\n    return Yes()\n"))
    s["fake_recorder"] = _with_cell("student", (
        "import json, os, numpy as np\nfrom dlcourse import graded\nfrom dlcourse.checks import protocol\n"
        "def fake(name, fn, **kw):\n    cases = protocol.read_cases(name) or []\n"
        "    protocol.write_results(name, [{'outputs': [np.zeros(1)]} for _ in cases])\n"
        "graded.hidden_test = fake"))
    s["ipython_hook"] = _with_cell("student", (
        "ip = get_ipython()\nip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])"))
    targets = [str(SOLUTION), str(out / "gradebook.db"), str(out / ".grader_secret"), str(out / "protocol"),
               str(REPO / "tests"), "/etc/shadow", "/root"]
    s["snooping"] = _with_cell("student", (
        "import glob, itertools, os\n"
        "try:\n    import dlcourse.reference.regression\n    print('REFERENCE IMPORTED')\nexcept ImportError as e:\n"
        "    print('reference blocked:', e)\nprint('ENV', sorted(os.environ))\nfound = []\n"
        "for pattern in ['/work/**/*.ipynb', '/root/*', '/tmp/**', '/submission/**']:\n"
        "    found += list(itertools.islice(glob.iglob(pattern, recursive=True), 50))\n"
        f"found += [t for t in {targets!r} if os.path.exists(t)]\n"
        "print('FOUND', found)\n"
        "for f in found:\n    try:\n        print(open(f, errors='replace').read()[:2000])\n    except Exception:\n"
        "        pass\n"))
    s["gradebook_writer"] = _with_cell("student", (
        "import glob, sqlite3\n"
        f"dbs = [{str(out / 'gradebook.db')!r}] + glob.glob('/work/**/*.db', recursive=True)\n"
        "dbs += glob.glob('/tmp/**/*.db', recursive=True)\nfor db in dbs:\n    try:\n"
        "        con = sqlite3.connect(db)\n        con.execute('UPDATE grade SET auto_score = 1000')\n"
        "        con.commit()\n        print('WROTE', db)\n    except Exception as e:\n        print(db, e)"))
    s["network"] = _with_cell("student", (
        "import socket\nfor host in ['127.0.0.1', '10.0.0.1']:\n    try:\n"
        f"        socket.create_connection((host, {listener.port}), timeout=2).sendall(b'PWNED')\n"
        "        print('CONNECTED', host)\n    except OSError as e:\n        print('no network:', e)"))
    s["reference_caller"] = _solved(lambda name, src: (
        f"from dlcourse.reference import regression as _r\n{name} = _r.{name}\n"))
    nb = _base("solution")
    nb.metadata["kernelspec"] = {"name": "evil-kernel", "display_name": "evil", "language": "python"}
    s["wrong_kernel"] = nb
    s["malformed_json"] = b'{"cells": [ this is not json'
    s["empty_file"] = b""
    s["not_a_notebook"] = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    nb = _base("student")
    nb.cells.append(nbformat.v4.new_code_cell("# " + "y" * (60 * 2**20)))
    s["huge_notebook"] = nb
    s["shadowing_files"] = ("solution", {
        "numpy.py": "raise SystemExit('shadowed numpy imported')\n",
        "dlcourse/__init__.py": "raise SystemExit('shadowed dlcourse imported')\n",
        "dlcourse/checks.py": "def hidden_test(*a, **k):\n    pass\n",
        "dlcourse/graded.py": "def hidden_test(*a, **k):\n    pass\n",
    })
    s["symlinks"] = ("student", {"@answers.ipynb": str(SOLUTION), "@gradebook.db": "/etc/shadow"})
    # an assignment folder, or a whole student folder, that is a link (to the solutions)
    s["linked_assignment"] = lambda folder: folder.symlink_to(SOLUTION.parent)
    s["linked_student"] = _linked_student
    s["unencodable"] = _unencodable
    s["full_quota"] = _with_cell("student", (
        "import os\nfor where in ['/submission', '/tmp']:\n    n = 0\n    try:\n        while True:\n"
        "            open(f'{where}/fill{n}', 'wb').write(b'x' * 2**24); n += 1\n    except OSError as e:\n"
        "        print('quota', where, n, e.errno)"))
    s["ptrace_init"] = _with_cell("student", (
        "import ctypes, os, signal\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n"           # PTRACE_ATTACH: stops pid 1
        "print('ptrace', libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())\n"
        "print('userns', libc.unshare(0x10000000), ctypes.get_errno())"))
    nb = _base("student")
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(MARKDOWN_ATTACK))
    s["script_markdown"] = nb
    return s


MARKDOWN_ATTACK = (
    "Nice notebook <script>document.title='PWNED'</script> <img src=x onerror=\"alert('PWNED')\">\n\n"
    "![tracker](https://evil.example/pixel.png) <iframe src=\"https://evil.example/\"></iframe>\n\n"
    "<a href=\"javascript:alert('PWNED')\">click</a> <div style=\"background:url(https://evil.example/b.png)\">x</div>")


def _linked_student(folder: Path) -> None:
    """The student folder itself is a link to a folder outside SUBMISSIONS holding the solution."""
    elsewhere = folder.parents[2] / "elsewhere" / folder.parent.name
    (elsewhere / AID).mkdir(parents=True)
    (elsewhere / AID / f"{AID}.ipynb").write_bytes(SOLUTION.read_bytes())
    folder.parent.symlink_to(elsewhere)


def _unencodable(folder: Path) -> None:
    """Lone surrogates in outputs and errors, a file name that is not UTF-8, a newline in a file name."""
    folder.mkdir(parents=True)
    nb = _with_cell("solution", (
        "print('lone \\udcff surrogate and NUL \\x00')\n"
        "raise ValueError('bad \\ud800 text')"))
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("a lone surrogate \ud83d in markdown"))
    (folder / f"{AID}.ipynb").write_text(json.dumps(nb), encoding="ascii")   # JSON escapes carry the surrogate
    (folder / os.fsdecode(b"r\xe9sum\xe9.txt")).write_text("latin-1 name")
    (folder / "two\nlines.txt").write_text("x")


def _write(folder: Path, item) -> None:
    if callable(item):
        folder.parent.parent.mkdir(parents=True, exist_ok=True)
        if item is not _linked_student:
            folder.parent.mkdir(exist_ok=True)
        item(folder)
        return
    folder.mkdir(parents=True)
    target = folder / f"{AID}.ipynb"
    if isinstance(item, bytes):
        target.write_bytes(item)
    elif isinstance(item, tuple):
        kind, files = item
        nbformat.write(_base(kind), str(target))
        for name, content in files.items():
            if name.startswith("@"):
                (folder / name[1:]).symlink_to(content)
            else:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(content)
    else:
        nbformat.write(item, str(target))


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    if not bwrap_available():
        if in_ci():
            pytest.fail("bubblewrap is required in CI (.ci/run installs it)")
        pytest.skip("bubblewrap (bwrap) is not installed: the sandbox cannot be tested")
    root = tmp_path_factory.mktemp("hostile")
    listener = Listener()
    out = root / "out"
    subs = _submissions(listener, out)
    for student, item in subs.items():
        _write(root / "submitted" / student / AID, item)
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(root / "submitted"), "--out", str(out),
         "--cell-timeout", "8", "--notebook-timeout", "90", "--memory-mb", "1024", "--scratch-mb", "128",
         "--sandbox", "bwrap"],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )
    listener.close()
    # Some could not be graded (refused, crashed, ...): the batch went on, and the exit status says so.
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "status            submissions" in proc.stdout, proc.stdout[-3000:]
    results = {r["student"]: r for r in json.loads((out / "results.json").read_text())}
    return {"out": out, "results": results, "students": list(subs), "listener": listener, "log": proc.stdout}


def _auto_points() -> float:
    from grader.hidden import graded_test_cells

    return sum(c["points"] for c in graded_test_cells(SOLUTION).values())


def _auto_score(r: dict) -> float:
    return sum(c["score"] for c in r["cells"])


def test_every_submission_ends_with_a_status_and_a_reason(battery):
    assert set(battery["results"]) == set(battery["students"]), "a submission is missing from the results"
    for student, r in battery["results"].items():
        assert r["status"] in STATUSES, (student, r["status"])
        explained = r["reason"] or all(c["reasons"] for c in r["cells"])
        assert explained, f"{student}: no reason given"


STUBS = ["long_sleep", "os_exit", "segfault", "memory_bomb", "fork_bomb", "huge_output", "edited_tests",
         "deleted_tests",
         "changed_points", "changed_grade_ids", "changed_schema", "patched_numpy", "always_equal", "fake_recorder",
         "ipython_hook", "snooping", "gradebook_writer", "network", "reference_caller", "malformed_json",
         "empty_file", "not_a_notebook", "huge_notebook", "symlinks", "linked_assignment", "linked_student",
         "full_quota", "ptrace_init", "script_markdown"]


@pytest.mark.parametrize("student", STUBS)
def test_no_unearned_points(battery, student):
    r = battery["results"][student]
    assert _auto_score(r) == 0, f"{student} got points it did not earn: {r['cells']}"
    assert r["score"] == 0, f"{student}: total {r['score']}"


@pytest.mark.parametrize("student", ["honest", "infinite_loop", "much_output", "wrong_kernel", "shadowing_files",
                                     "unencodable"])
def test_real_work_keeps_its_points_next_to_hostile_cells(battery, student):
    r = battery["results"][student]
    assert r["status"] == "graded", r["reason"]
    assert _auto_score(r) == _auto_points(), f"{student}: {[(c['grade_id'], c['reasons']) for c in r['cells']]}"


@pytest.mark.parametrize(("student", "words"), [
    ("long_sleep", "CellTimeoutError: the cell ran longer than 8 s"), ("os_exit", "kernel died|no results"),
    ("segfault", "kernel died|no results"), ("memory_bomb", "memory limit"),
    ("changed_grade_ids", "metadata was changed"), ("changed_schema", "metadata was changed"),
    ("malformed_json", "not a readable notebook"), ("empty_file", "not a readable notebook"),
    ("not_a_notebook", "not a readable notebook"), ("huge_notebook", "larger than"),
    ("reference_caller", "not available while grading|uses dlcourse.reference"),
    ("deleted_tests", "no results were recorded"), ("symlinks", "refused symbolic links: answers.ipynb, gradebook.db"),
    ("linked_assignment", "assignment folder 01_regression is a symbolic link: refused"),
    ("linked_student", "student folder linked_student is a symbolic link: refused"),
    ("unencodable", r"refused names that are not UTF-8: r\\udce9sum\\udce9\.txt"),
    ("full_quota", "(?s)quota /submission \\d+ 28.*quota /tmp \\d+ 28"),
    ("ptrace_init", "(?s)ptrace -1 1.*ptrace -1 1.*userns -1 1"),
])
def test_reasons_say_what_happened(battery, student, words):
    r = battery["results"][student]
    text = r["reason"] + " " + " ".join(" ".join(c["reasons"]) for c in r["cells"])
    executed = battery["out"] / "autograded" / student / AID / f"{AID}.ipynb"
    if executed.exists():
        text += executed.read_text()
    assert re.search(words, text), f"{student}: expected /{words}/ in {text[:2000]}"


def test_nothing_secret_reached_a_kernel(battery):
    for student in battery["students"]:
        executed = battery["out"] / "autograded" / student / AID / f"{AID}.ipynb"
        if not executed.exists():
            continue
        text = _outputs(executed)
        assert SECRET not in text, f"{student}: solution text reached the notebook's outputs"
        assert "REFERENCE IMPORTED" not in text and "CONNECTED" not in text and "WROTE" not in text, student
        if student not in ("snooping", "gradebook_writer"):  # those two were handed the path in their source
            assert str(battery["out"]) not in text, f"{student}: the kernel saw a grader path"
    snoop = _outputs(battery["out"] / "autograded" / "snooping" / AID / f"{AID}.ipynb")
    assert "reference blocked" in snoop and "FOUND" in snoop
    assert "root:" not in snoop, "the kernel read /etc/shadow"
    writer = _outputs(battery["out"] / "autograded" / "gradebook_writer" / AID / f"{AID}.ipynb")
    assert "unable to open database file" in writer and "WROTE" not in writer


def _outputs(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_no_network_from_the_sandbox(battery):
    assert battery["listener"].connections == 0


def test_gradebook_intact(battery):
    db = battery["out"] / "gradebook.db"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT MAX(auto_score) FROM grade").fetchone()[0] <= 3
    rows = [r["student_id"] for r in _csv(battery["out"] / "grades.csv")]
    assert len(rows) == len(set(rows)), "a student appears twice in grades.csv"
    assert set(rows) >= set(battery["students"]) - {"malformed_json", "empty_file", "not_a_notebook", "huge_notebook",
                                                    "linked_student"}


def _csv(path: Path) -> list[dict]:
    import csv

    return list(csv.DictReader(open(path)))


def test_linked_folders_reveal_nothing(battery):
    out = battery["out"]
    for student in ("linked_assignment", "linked_student"):
        for folder in ("submitted", "autograded", "feedback"):
            assert not (out / folder / student).exists(), (folder, student)


def test_unencodable_text_is_escaped_everywhere(battery):
    out = battery["out"]
    for name in ("results.csv", "results.json", "grades.csv"):
        (out / name).read_bytes().decode("utf-8")      # strict: no lone surrogate was written
    executed = (out / "autograded" / "unencodable" / AID / f"{AID}.ipynb").read_text(encoding="utf-8")
    assert "\\\\udcff" in executed and "\\\\ud800" in executed
    for line in battery["log"].splitlines():
        line.encode("utf-8")


def test_a_full_quota_stays_in_the_sandbox(battery):
    out = battery["out"]
    assert not any(p.is_file() for p in (out / "sandbox").rglob("*") if ".blockers" not in p.parts), \
        "a sandbox's files outlived its run"
    assert battery["results"]["full_quota"]["status"] == "graded"


def test_ptrace_of_the_first_process_costs_no_timeout(battery):
    runs = battery["results"]["ptrace_init"]["runs"]
    assert runs and runs[0]["status"] == "ok" and runs[0]["seconds"] < 80, runs


def test_feedback_runs_and_loads_nothing(battery):
    page = (battery["out"] / "feedback" / "script_markdown" / AID / f"{AID}.html").read_text()
    assert "Nice notebook" in page
    assert "PWNED" not in page.replace("document.title=&#x27;PWNED&#x27;", "")
    assert "<script" not in page and "<iframe" not in page and "onerror" not in page
    assert "evil.example" not in page and "javascript:alert" not in page
    assert "Content-Security-Policy" in page
    for other in battery["out"].glob("feedback/**/*.html"):
        text = other.read_text()
        assert "<script" not in text and "cdnjs" not in text, other
