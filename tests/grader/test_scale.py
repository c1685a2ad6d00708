"""Grading at scale, end to end: the same batch graded by one job, by a real Dask cluster on loopback (a
``dask scheduler`` and two ``dask worker`` processes) and into a real PostgreSQL server, with the same results.

One small batch (the smallest notebook, without its slow demo cells): a correct submission, an untouched one and
one with a known mistake. All three runs share the grader's secret, so every student gets the same hidden cases
and the results must match cell by cell, reasons included.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from grader import parallel
from grader.execute import SECRET_FILE
from grader.pipeline import grade_batch, load_results
from grader.sandbox import bwrap_available
from grader.settings import Limits

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"
STUDENT = REPO / "course" / AID / f"{AID}.ipynb"
LIMITS = Limits(cell_timeout=60, notebook_timeout=300)
MSE_SUMMED = "def mse(y_hat, y):\n    return float(((y_hat - y) ** 2).sum())\n"   # a known mistake: no 1/n

pytestmark = pytest.mark.slow


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _trimmed(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader") or c.cell_type != "code" or not any(
        w in c.source for w in ("show(", "train_logistic", "theta_digits"))]
    return nb


def make_batch(folder: Path) -> Path:
    for student, path in (("alice", SOLUTION), ("bob", STUDENT), ("carol", SOLUTION)):
        nb = _trimmed(path)
        if student == "carol":
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("solution") and "def mse(" in cell.source:
                    cell.source = MSE_SUMMED
        (folder / student / AID).mkdir(parents=True)
        nbformat.write(nb, str(folder / student / AID / f"{AID}.ipynb"))
    return folder


def _same_secret(out: Path, secret: bytes) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)


def _comparable(out: Path) -> list[tuple]:
    return [(r["student"], r["assignment"], r["status"], r["score"], r["max_score"],
             [(c["grade_id"], c["score"], c["reasons"], c["passed"], c["mistakes"]) for c in r["cells"]])
            for r in load_results(out)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The batch graded by one job into SQLite: what every other way of grading must reproduce."""
    if not bwrap_available():
        if _in_ci():
            pytest.fail("bubblewrap is required in CI (.ci/run installs it)")
        pytest.skip("bubblewrap (bwrap) is not installed")
    root = tmp_path_factory.mktemp("scale")
    subs = make_batch(root / "submitted")
    secret = os.urandom(32)
    _same_secret(root / "one", secret)
    start = time.monotonic()
    done = grade_batch(subs, root / "one", limits=LIMITS, jobs=1)
    assert [s.status for s in done] == ["graded"] * 3, [s.reason for s in done]
    return {"root": root, "subs": subs, "secret": secret, "results": _comparable(root / "one"),
            "seconds": time.monotonic() - start}


def test_the_reference_batch_shows_the_known_mistake(reference):
    carol = next(r for r in load_results(reference["root"] / "one") if r["student"] == "carol")
    mse = next(c for c in carol["cells"] if c["grade_id"] == "test_mse")
    assert mse["score"] == 0 and "regression.mse" in mse["mistakes"], mse
    assert "summed the squared errors" in mse["mistakes"]["regression.mse"]
    page = (reference["root"] / "one" / "class_report.html").read_text()
    assert "summed the squared errors" in page and "data:image/png;base64," in page


def test_a_real_dask_cluster_on_loopback_grades_the_same(reference, tmp_path):
    out = tmp_path / "dask"
    _same_secret(out, reference["secret"])
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "lib")])}
    with parallel.loopback_cluster(2, tmp_path / "cluster", env=env) as address:
        assert address.startswith("tcp://127.0.0.1:")
        done = grade_batch(reference["subs"], out, limits=LIMITS, scheduler=address)
    assert [s.status for s in done] == ["graded"] * 3, [s.reason for s in done]
    assert _comparable(out) == reference["results"]
    workers = {s.worker for s in done}
    assert len(workers) == 2 and f"pid {os.getpid()}" not in str(workers), workers   # both workers, not here


# -- PostgreSQL ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on 127.0.0.1 (Debian's packages; .ci/run installs them), always stopped."""
    bindir = Path("/usr/lib/postgresql")
    versions = sorted(bindir.glob("*/bin/initdb")) if bindir.exists() else []
    initdb = versions[-1] if versions else shutil.which("initdb")
    if not initdb:
        if _in_ci():
            pytest.fail("PostgreSQL is required in CI (.ci/run installs it)")
        pytest.skip("PostgreSQL (initdb) is not installed: apt-get install postgresql")
    try:
        import psycopg  # noqa: F401  (SQLAlchemy 2.1: the default PostgreSQL driver)
    except ImportError:
        pytest.skip("the PostgreSQL driver psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = Path(initdb).resolve().parent
    data = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:   # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    server = None
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "grader", "--auth=trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        server = subprocess.Popen([*as_user, str(bin_dir / "postgres"), "-D", str(data / "db"), "-h", "127.0.0.1",
                                   "-p", str(port), "-k", str(data), "-c", "fsync=off"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"postgresql://grader@127.0.0.1:{port}/postgres"
        from sqlalchemy import create_engine, text

        deadline = time.monotonic() + 60
        while True:
            try:
                with create_engine(url).connect() as con:
                    con.execute(text("SELECT 1"))
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.3)
        yield url
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def _gradebook_scores(url: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(url, "dlcourse") as gb:
        return {(s.student.id, s.assignment.name): (s.score, s.max_score, sorted(
            (g.name, g.auto_score, g.needs_manual_grade) for nb in s.notebooks for g in nb.grades))
            for a in gb.assignments for s in a.submissions}


def test_the_same_batch_into_postgresql_gets_the_same_grades_as_sqlite(reference, postgres, tmp_path):
    out = tmp_path / "pg"
    _same_secret(out, reference["secret"])
    done = grade_batch(reference["subs"], out, limits=LIMITS, jobs=2, db=postgres)
    assert [s.status for s in done] == ["graded"] * 3, [s.reason for s in done]
    assert not (out / "gradebook.db").exists(), "the SQLite gradebook was written instead"
    assert _comparable(out) == reference["results"]
    sqlite = _gradebook_scores(f"sqlite:///{reference['root'] / 'one' / 'gradebook.db'}")
    assert _gradebook_scores(postgres) == sqlite and len(sqlite) == 3
    # Graded again, unchanged: nothing is graded twice, and the gradebook still holds each submission once.
    again = grade_batch(reference["subs"], out, limits=LIMITS, jobs=2, db=postgres)
    assert [s.seconds for s in again] == [s.seconds for s in done]   # the saved results, not new runs
    assert _gradebook_scores(postgres) == sqlite
