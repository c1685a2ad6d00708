"""Grading many submissions at once: in this process, in a pool of local processes, or on a Dask cluster.

It owns where a submission is graded and how its result comes back. No
scheduler of our own: ``concurrent.futures.ProcessPoolExecutor`` for ``--jobs
N`` on one machine, ``dask.distributed`` for ``--scheduler ADDRESS`` (or
``--scheduler local``: a Dask ``LocalCluster`` of ``--jobs`` workers on
loopback). Both hand back standard ``concurrent.futures`` futures.

One submission is one task (``run_task``), graded in a private nbgrader course
folder of its own under ``<out>/work/``: the trusted source of its assignment,
a private SQLite gradebook copied from a template that ``prepare`` recorded
the assignments in, and the grader's secret. The task runs the steps of
grader/pipeline.py there, exactly as a sequential grader would, and returns the
submission's result as plain data. The grader process alone then ``merge``-s it:
it moves the task's submitted/, autograded/, feedback/ and run reports into the
grading folder and copies the task's scores into the real gradebook (SQLite or
any SQLAlchemy URL) in one transaction. So there is exactly one writer to the
gradebook, by design: parallel grading never meets "database is locked" and
never loses a write, and a worker never needs to reach the database.

Dask workers must see the grading folder and the submissions at the same
paths (a shared file system, as nbgrader's exchange assumes) and import this
repository (start them with ``PYTHONPATH=<repo>:<repo>/lib``). Each worker
process grades one submission at a time (nbgrader changes the working folder).

A submission is graded again only when it changed (``fingerprint``: its files,
the assignment's source, the limits, the sandbox, the mode and the gradebook)
or when ``--force`` is given.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import stat
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.course import COURSE_ID
from grader.execute import SECRET_FILE
from grader.settings import Limits

TEMPLATE_DB = ".template.db"     # the assignments only: copied into every task's private folder
WORK = "work"                    # the tasks' private folders, under the grading folder
_ONE_AT_A_TIME = threading.Lock()


def quiet() -> None:
    """No library warnings flooding the log: grading reports its own reasons, with the submission's name."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, UserWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category)
    for name in ("distributed", "tornado", "traitlets", "nbgrader", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)


# -- what one task is ---------------------------------------------------------------------

def fingerprint(ws, sub) -> str:
    """What grading this submission depends on; the same fingerprint gives the same result."""
    h = hashlib.sha256()
    h.update(json.dumps([ws.limits.as_dict(), ws.sandbox, ws.fast, ws.db_url, sub.student, sub.assignment],
                        sort_keys=True).encode("utf-8", "surrogatepass"))
    for path in sorted((ws.root / "source" / sub.assignment).glob("*.ipynb")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for folder, dirs, files in os.walk(sub.path, followlinks=False):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, sub.path).encode("utf-8", "surrogateescape")
            st = os.lstat(full)
            h.update(b"\0" + rel + b"\0" + str(stat.S_IFMT(st.st_mode)).encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.fsencode(os.readlink(full)))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    while chunk := f.read(2**20):
                        h.update(chunk)
    return h.hexdigest()


def make_task(ws, sub) -> dict:
    key = hashlib.sha256(f"{sub.student}/{sub.assignment}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return {"student": sub.student, "assignment": sub.assignment, "path": str(sub.path), "main": str(ws.root),
            "work": str(ws.root / WORK / f"{key}-{os.urandom(4).hex()}"), "limits": ws.limits.as_dict(),
            "sandbox": ws.sandbox, "fast": ws.fast}


def run_task(task: dict) -> dict:
    """Grade one submission in a private course folder (on whichever worker runs it); returns its result."""
    from grader.pipeline import Submission, Workspace, grade_one

    quiet()
    with _ONE_AT_A_TIME:
        main, work, aid = Path(task["main"]), Path(task["work"]), task["assignment"]
        if work.exists():
            shutil.rmtree(work)
        (work / "source").mkdir(parents=True)
        shutil.copytree(main / "source" / aid, work / "source" / aid)
        shutil.copyfile(main / TEMPLATE_DB, work / "gradebook.db")
        fd = os.open(work / SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write((main / SECRET_FILE).read_bytes())
        ws = Workspace(work, Limits(**task["limits"]), task["sandbox"], fast=task["fast"])
        sub = Submission(task["student"], aid, Path(task["path"]), worker=f"{socket.gethostname()} pid {os.getpid()}")
        return {"work": str(work), "result": grade_one(ws, sub).summary()}


# -- bringing a result home (the grader process only) -----------------------------------------------

def merge(ws, sub, done: dict) -> None:
    """Move a task's files into the grading folder and its scores into the gradebook (one transaction)."""
    from grader.pipeline import _ID, RESULT_FILE, Submission, Workspace

    work = Path(done["work"])
    got = Submission.from_saved(done["result"])
    for name in ("status", "reason", "cells", "runs", "missing", "seconds", "worker"):
        setattr(sub, name, getattr(got, name))
    if not (_ID.match(sub.student) and _ID.match(sub.assignment)):
        shutil.rmtree(work, ignore_errors=True)
        return
    for kind in ("submitted", "autograded", "feedback"):
        src, dst = work / kind / sub.student / sub.assignment, ws.root / kind / sub.student / sub.assignment
        if dst.exists():
            shutil.rmtree(dst)
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(src, dst)
    runs = ws.runs_dir(sub.student, sub.assignment)
    runs.mkdir(parents=True, exist_ok=True)
    for stale in runs.glob("*.json"):
        if stale.name != RESULT_FILE:
            stale.unlink()
    for report in (work / "runs" / sub.student / sub.assignment).glob("*.json"):
        if report.name != RESULT_FILE:
            shutil.copyfile(report, runs / report.name)
    for log in (work / "logs").glob("*.log"):
        (ws.root / "logs").mkdir(exist_ok=True)
        with open(ws.root / "logs" / log.name, "ab") as f:
            f.write(log.read_bytes())
    private = Workspace(work, db=f"sqlite:///{work / 'gradebook.db'}")
    if (work / "gradebook.db").exists():
        transfer(private.db_url, ws.db_url, sub.student, sub.assignment)
    shutil.rmtree(work, ignore_errors=True)


def transfer(src_url: str, dst_url: str, student: str, assignment: str) -> None:
    """Copy one submission's automatic scores and comments from one gradebook to another.

    Scores given by hand in the destination are kept; a cell with a manual score, or without an automatic one,
    is marked for review (nbgrader's own rule, as in its SaveAutoGrades)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(src_url, COURSE_ID) as gb:
        try:
            s = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        timestamp = s.timestamp
        notebooks = {nb.name: {"penalty": nb.late_submission_penalty,
                               "grades": {g.name: g.auto_score for g in nb.grades},
                               "comments": {c.name: c.auto_comment for c in nb.comments}} for nb in s.notebooks}
    with Gradebook(dst_url, COURSE_ID) as gb:
        gb.update_or_create_student(student)
        kwargs = {"timestamp": timestamp} if timestamp is not None else {}
        target = gb.update_or_create_submission(assignment, student, **kwargs)
        for nb in target.notebooks:
            data = notebooks.get(nb.name)
            if data is None:
                continue
            nb.late_submission_penalty = data["penalty"]
            for grade in nb.grades:
                if grade.name in data["grades"]:
                    grade.auto_score = data["grades"][grade.name]
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in nb.comments:
                if comment.name in data["comments"]:
                    comment.auto_comment = data["comments"][comment.name]
        gb.db.commit()


# -- the engines ----------------------------------------------------------------------------------

def _die_with_the_grader() -> None:
    """A pool process ends when its parent does (a grader killed with SIGKILL leaves no grading behind)."""
    quiet()
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the grader's to handle


@contextmanager
def executor(jobs: int, scheduler: str | None) -> Iterator[cf.Executor | None]:
    """None (grade here, one at a time), a process pool of ``jobs``, or a Dask cluster's executor."""
    if scheduler:
        from distributed import Client, LocalCluster

        quiet()
        cluster = None
        if scheduler == "local":
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
            scheduler = cluster.scheduler_address
        client = Client(scheduler, timeout=60)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close(timeout=30)
            if cluster is not None:
                cluster.close(timeout=30)
        return
    if jobs <= 1:
        yield None
        return
    import multiprocessing

    # fork: the pool's processes are the grader's own children, so PR_SET_PDEATHSIG ties them to it (a forkserver
    # or spawn helper would outlive a grader killed with SIGKILL); the grader holds no database connection or
    # thread of its own that a child could inherit (nbgrader's Gradebook disposes of its engine when closed).
    context = multiprocessing.get_context("fork")
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_die_with_the_grader)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def completed(pool: cf.Executor | None, tasks: list[tuple[object, dict]]) -> Iterator[tuple[object, dict | None,
                                                                                              BaseException | None]]:
    """(submission, result, error) as each task finishes."""
    if pool is None:
        for sub, task in tasks:
            try:
                yield sub, run_task(task), None
            except Exception as exc:
                yield sub, None, exc
        return
    futures = {pool.submit(run_task, task): sub for sub, task in tasks}
    for future in cf.as_completed(futures):
        try:
            yield futures[future], future.result(), None
        except Exception as exc:   # the worker died (memory, a kill): that one submission says so
            yield futures[future], None, exc


@contextmanager
def loopback_cluster(workers: int, folder: Path, *, env: dict[str, str] | None = None,
                     start_timeout: float = 90) -> Iterator[str]:
    """A real Dask cluster on 127.0.0.1: a ``dask scheduler`` process and ``workers`` ``dask worker`` processes of
    one thread each, all stopped on exit; yields the scheduler's address. For tests and benchmarks."""
    import subprocess
    import sys
    import time

    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "scheduler.json"
    info.unlink(missing_ok=True)
    env = {**os.environ, **(env or {})}
    logs = [open(folder / f"{name}.log", "wb") for name in ["scheduler", *(f"worker{i}" for i in range(workers))]]
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                       "0", "--no-dashboard", "--scheduler-file", str(info)],
                                      env=env, stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + start_timeout
        while not info.exists():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dask scheduler did not start: {(folder / 'scheduler.log').read_text()}")
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for i in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60", "--name", f"grader-{i}"],
                env=env, stdout=logs[i + 1], stderr=subprocess.STDOUT, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=start_timeout) as client:
            client.wait_for_workers(workers, timeout=start_timeout)
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        for log in logs:
            log.close()
