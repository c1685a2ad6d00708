"""Command line: ``python -m grader {release,handout,grade,export} ...``.

It owns the options and their defaults: the limits are read into one
grader.settings.Limits here and passed down unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

from grader.course import COURSE
from grader.settings import SANDBOX_MODES, Limits

DEFAULTS = Limits()


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):   # whatever the locale, a name a student chose prints
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    rel = sub.add_parser("release", help="regenerate course/ (student versions) from solutions/")
    rel.add_argument("--check", action="store_true", help="only report whether course/ is up to date")
    rel.add_argument("assignments", nargs="*", help="assignment ids (default: all)")

    ho = sub.add_parser("handout", help="build the student hand-out: course/ and the library without the answers")
    ho.add_argument("--out", type=Path, default=Path("handout"), help="folder to write (replaced; default: handout)")

    ex = sub.add_parser("export", help="write grades.csv, results.csv and results.json again (after hand grading)")
    ex.add_argument("--out", type=Path, default=Path("grading"), help="the grading folder (default: grading)")
    ex.add_argument("--db", help="the gradebook's SQLAlchemy URL, if grading used --db (default: OUT/gradebook.db)")

    gr = sub.add_parser("grade", help="auto-grade a folder of submissions: STUDENT/ASSIGNMENT/NOTEBOOK.ipynb")
    gr.add_argument("submissions", type=Path, nargs="?",
                    help="folder of student_id/assignment/ folders, or a zip archive exported by a learning-"
                         "management system (see --roster, --name-pattern)")
    gr.add_argument("--out", type=Path, default=Path("grading"),
                    help="grading folder: gradebook.db, grades.csv, results.csv, feedback/ (default: grading)")
    gr.add_argument("--assignment", action="append", dest="only", help="grade only this assignment (repeatable)")
    gr.add_argument("--cell-timeout", type=int, default=DEFAULTS.cell_timeout,
                    help=f"seconds one cell may run (default {DEFAULTS.cell_timeout})")
    gr.add_argument("--notebook-timeout", type=int, default=DEFAULTS.notebook_timeout,
                    help=f"seconds a whole notebook may run (default {DEFAULTS.notebook_timeout})")
    gr.add_argument("--memory-mb", type=int, default=DEFAULTS.memory_mb,
                    help=f"memory for a kernel and all it starts (default {DEFAULTS.memory_mb})")
    gr.add_argument("--scratch-mb", type=int, default=DEFAULTS.scratch_mb,
                    help=f"size of each writable space in the sandbox, /submission and /tmp "
                         f"(default {DEFAULTS.scratch_mb})")
    gr.add_argument("--sandbox", choices=SANDBOX_MODES, default="bwrap",
                    help="bwrap (default): run every notebook in bubblewrap, and refuse to grade where it does not "
                         "work; none: limits and timeouts only (README says what that gives up)")
    gr.add_argument("--wait", action="store_true",
                    help="if another grader is grading into --out, wait for it instead of refusing")
    gr.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                    help="submissions graded at once on this machine (default: the number of cores)")
    gr.add_argument("--scheduler", metavar="ADDRESS",
                    help="grade on the Dask cluster whose scheduler is at ADDRESS (tcp://host:port), or 'local' "
                         "for a local Dask cluster of --jobs workers; its workers must see --out and the "
                         "submissions at the same paths")
    gr.add_argument("--db", metavar="URL",
                    help="the gradebook: any SQLAlchemy database URL (default: sqlite in --out/gradebook.db)")
    gr.add_argument("--force", action="store_true",
                    help="grade every submission again, even those unchanged since they were graded")
    gr.add_argument("--fast", action="store_true",
                    help="skip the cells the source tags as illustration (training demos, plots, widgets) where "
                         "nothing graded depends on them; the grades are the same")
    gr.add_argument("--exchange", type=Path, metavar="ROOT",
                    help="collect the submissions from nbgrader's exchange at ROOT (nbgrader collect) and grade them")
    gr.add_argument("--roster", type=Path,
                    help="CSV for an archive: first column the student's id, the others other names of the same "
                         "student (e-mail address, LMS login)")
    gr.add_argument("--name-pattern", metavar="REGEX",
                    help="for an archive: a regular expression on each file's path inside it, with the groups "
                         "(?P<student_id>...) and (?P<file_id>...) (nbgrader's zip_collect convention)")
    gr.add_argument("--no-progress", action="store_true", help="no progress bar")

    args = parser.parse_args(argv)
    if args.command == "release":
        from grader import release

        if args.check:
            problems = release.stale()
            for p in problems:
                print(p)
            print("course/ is up to date" if not problems else f"{len(problems)} file(s) out of date: run make release")
            return 1 if problems else 0
        ids = release.generate(COURSE, only=args.assignments or None)
        print(f"regenerated {', '.join(ids)} into {COURSE}")
        return 0

    if args.command == "export":
        from grader import report
        from grader.pipeline import Workspace

        ws = Workspace(args.out.resolve(), db=args.db)
        if not ws.has_gradebook():
            print(f"error: {args.out} holds no gradebook: grade into it first", file=sys.stderr)
            return 2
        paths = report.export(ws)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0

    if args.command == "handout":
        from grader import handout

        out = handout.build(args.out)
        print(f"wrote the student hand-out to {out}: course/, lib/dlcourse without dlcourse.reference and the "
              "exercise descriptions, recorded visible cases; students run `make lab` there")
        return 0

    return _grade(args)


def _grade(args: argparse.Namespace) -> int:
    import tempfile

    from grader import intake, parallel
    from grader.course import SOLUTIONS
    from grader.pipeline import GradingRefusedError, grade_batch
    from grader.settings import GRADED

    parallel.quiet()
    problems: list = []
    with tempfile.TemporaryDirectory(prefix="dlcourse-intake-") as scratch:
        try:
            limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                            memory_mb=args.memory_mb, scratch_mb=args.scratch_mb)
            if args.jobs < 1:
                raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
            submissions = args.submissions
            if args.exchange is not None:
                if submissions is not None:
                    raise ValueError("give either a submissions folder or --exchange, not both")
                from grader.course import assignments

                submissions = intake.from_exchange(args.exchange, Path(scratch) / "exchange",
                                                   args.only or assignments())
            elif submissions is None:
                raise ValueError("give a submissions folder, a zip archive, or --exchange ROOT")
            elif submissions.is_file() and zipfile.is_zipfile(submissions):
                problems = intake.from_archive(submissions, Path(scratch) / "archive", SOLUTIONS,
                                               roster=args.roster, pattern=args.name_pattern, limits=limits)
                submissions = Path(scratch) / "archive"
                submissions.mkdir(exist_ok=True)
            subs = grade_batch(submissions, args.out, only=args.only, limits=limits, sandbox=args.sandbox,
                               wait=args.wait, jobs=args.jobs, scheduler=args.scheduler, db=args.db,
                               force=args.force, fast=args.fast, progress=not args.no_progress)
        except (GradingRefusedError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: the grading folder could not be written ({exc})", file=sys.stderr)
            return 1
    print(summary_table(subs))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    graded = sum(s.status == GRADED for s in subs)
    print(f"{graded} of {len(subs)} submission(s) graded; grades in {args.out / 'grades.csv'}, "
          f"reasons in {args.out / 'results.csv'}, feedback in {args.out / 'feedback'}, "
          f"class report in {args.out / 'class_report.html'}")
    return 0 if graded == len(subs) and not problems else 1


def summary_table(subs: list) -> str:
    """One line per status, then every submission that was not graded in full, with its reason."""
    from collections import Counter

    from grader import text
    from grader.settings import GRADED, STATUSES

    counts = Counter(s.status for s in subs)
    lines = ["", "status            submissions"]
    lines += [f"{status:<17} {counts[status]:>11}" for status in (*STATUSES, *sorted(set(counts) - set(STATUSES)))
              if counts[status]]
    bad = [s for s in subs if s.status != GRADED]
    if bad:
        lines += ["", f"{'student':<20} {'assignment':<20} {'status':<17} reason"]
        lines += [text.clean(f"{s.student[:20]:<20} {s.assignment[:20]:<20} {s.status:<17} {s.reason[:300]}")
                  for s in bad]
    return "\n".join(lines)
