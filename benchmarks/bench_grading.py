"""Grading throughput: submissions per minute, plain nbgrader against this grader, one job, two, a Dask cluster.

A batch of synthetic submissions across the course's notebooks, for each of
``--students`` students per kind: a correct one (the solution), a partly
correct one (every other answer left as the student's stub) and an untouched
one (the released notebook). Then, each into a fresh folder, timed from start
to end of the whole batch (set-up, gradebook, feedback, tables included):

* plain ``nbgrader autograde``, one assignment after the other (no sandbox,
  no hidden cases: nbgrader's own Execute and SaveAutoGrades);
* this grader (``grade_batch``) with 1 job and with 2 jobs;
* this grader through a 2-worker Dask cluster on loopback (a real ``dask
  scheduler`` and two ``dask worker`` processes);
* this grader with 1 and 2 jobs in the fast mode (``--fast``), on a source in
  which every cell ``grader.illustration.propose`` finds is tagged.

    python benchmarks/bench_grading.py [--students 1] [--only NAME ...] [--json FILE]

Targets on 2 cores (the issue): 2 jobs at least 1.8x one job; the fast mode with
2 jobs at least 4x plain nbgrader. The script prints the ratios and exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "lib")]

from grader import illustration, parallel  # noqa: E402
from grader.course import COURSE, COURSE_ID, SOLUTIONS, assignments  # noqa: E402
from grader.pipeline import grade_batch  # noqa: E402
from grader.settings import ILLUSTRATION_TAG, Limits  # noqa: E402

_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)
CONFIGS = ["nbgrader", "grader-1", "grader-2", "dask-2", "fast-1", "fast-2"]


def tagged_source(dest: Path) -> Path:
    """solutions/ with every cell that ``propose`` finds tagged as illustration."""
    shutil.copytree(SOLUTIONS, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in dest.glob("*/*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for i in illustration.propose(nb):
            nb.cells[i].metadata["tags"] = [ILLUSTRATION_TAG]
        nbformat.write(nb, str(path))
    return dest


def make_batch(dest: Path, students: int) -> int:
    """correct, partly correct and untouched submissions of every assignment; returns how many."""
    count = 0
    for aid in assignments():
        for sol_path in sorted((SOLUTIONS / aid).glob("*.ipynb")):
            stub = nbformat.read(str(COURSE / aid / sol_path.name), as_version=4)
            stubs = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in stub.cells}
            for k in range(students):
                for kind in ("correct", "partly", "untouched"):
                    if kind == "untouched":
                        nb = stub
                    else:
                        nb = nbformat.read(str(sol_path), as_version=4)
                        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                                   and c.cell_type == "code"]
                        for i, cell in enumerate(answers):
                            cell.source = _MARKER.sub("", cell.source)
                            if kind == "partly" and i % 2:
                                cell.source = stubs.get(cell.metadata["nbgrader"]["grade_id"], cell.source)
                    folder = dest / f"{kind}{k}" / aid
                    folder.mkdir(parents=True, exist_ok=True)
                    nbformat.write(nb, str(folder / sol_path.name))
                    count += 1
    return count


def plain_nbgrader(subs: Path, root: Path, source: Path) -> float:
    """nbgrader autograde as it comes: its own Execute (no sandbox) and SaveAutoGrades, one assignment at a time.
    Returns the seconds spent in autograde alone."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    c.Execute.timeout = 300
    # IPC sockets, not TCP, for the kernels nbgrader starts: local kernels need no network, and ipykernel then has
    # no "running over TCP without encryption" warning to print for every notebook.
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = str(root / "kernel")
    shutil.copytree(source, root / "source")
    shutil.copytree(subs, root / "submitted")
    api = NbGraderAPI(config=c)
    for aid in assignments(source):
        result = api.generate_assignment(aid, force=True, create=True)
        assert result["success"], result.get("log", "")[-2000:]
    start = time.perf_counter()
    for aid in assignments(source):
        for student in sorted(p.name for p in (root / "submitted").iterdir()):
            result = api.autograde(aid, student, force=True, create=True)
            assert result["success"], result.get("log", "")[-2000:]
    return time.perf_counter() - start


def run(config: str, subs: Path, work: Path, source: Path, limits: Limits) -> tuple[float, float]:
    """(seconds for the whole batch, seconds grading alone: without recording the assignments or the tables)"""
    out = work / config
    start = time.perf_counter()
    timings: dict[str, float] = {}
    if config == "nbgrader":
        grading = plain_nbgrader(subs, out, source)
        return time.perf_counter() - start, grading
    elif config == "dask-2":
        env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "lib")])}
        with parallel.loopback_cluster(2, work / "cluster", env=env) as address:
            start = time.perf_counter()   # the cluster's start-up is not grading
            done = grade_batch(subs, out, source=source, limits=limits, scheduler=address, timings=timings)
    else:
        kind, jobs = config.split("-")
        done = grade_batch(subs, out, source=source, limits=limits, jobs=int(jobs), fast=kind == "fast",
                           timings=timings)
    seconds = time.perf_counter() - start
    bad = [(s.student, s.assignment, s.status, s.reason) for s in done if s.status != "graded"]
    assert not bad, bad
    return seconds, timings["grading"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=1, help="students per kind of submission (default 1)")
    p.add_argument("--only", nargs="*", choices=CONFIGS, default=CONFIGS)
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    parallel.quiet()
    limits = Limits(cell_timeout=300)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        source = tagged_source(work / "source")
        n = make_batch(work / "submitted", args.students)
        load = os.getloadavg()[0]
        print(f"{n} submissions ({args.students} correct, partly correct and untouched per assignment); "
              f"{os.cpu_count()} cores, load {load:.1f}; {platform.platform()}")
        figures = {}
        print(f"{'':10} {'whole batch':>26}   {'grading alone':>26}")
        for config in args.only:
            seconds, grading = run(config, work / "submitted", work, source, limits)
            figures[config] = {"seconds": round(seconds, 1), "per_minute": round(60 * n / seconds, 2),
                               "load": round(os.getloadavg()[0], 1),
                               "grading_seconds": round(grading, 1), "grading_per_minute": round(60 * n / grading, 2)}
            print(f"{config:10} {seconds:7.1f} s {60 * n / seconds:6.2f} subs/minute   "
                  f"{grading:7.1f} s {60 * n / grading:6.2f} subs/minute   load {os.getloadavg()[0]:.1f}", flush=True)
    ok = True

    def ratio(a: str, b: str, target: float) -> None:
        nonlocal ok
        if a in figures and b in figures:
            r = figures[b]["seconds"] / figures[a]["seconds"]
            g = figures[b]["grading_seconds"] / figures[a]["grading_seconds"]
            met = r >= target
            ok &= met
            print(f"{a} over {b}: {r:.2f}x whole batch, {g:.2f}x grading alone (target {target}x) "
                  f"{'PASS' if met else 'MISSED'}")

    ratio("grader-2", "grader-1", 1.8)
    ratio("fast-2", "nbgrader", 4.0)
    ratio("fast-1", "grader-1", 1.0)
    ratio("dask-2", "grader-1", 1.0)
    if args.json:
        args.json.write_text(json.dumps({"submissions": n, "load": load, "figures": figures}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
