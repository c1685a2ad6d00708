"""Command line: ``python -m grader {release,handout,grade} ...``.

It owns the options and their defaults: the limits are read into one
grader.settings.Limits here and passed down unchanged.
"""

from __future__ import annotations

import argparse
import sys
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

    gr = sub.add_parser("grade", help="auto-grade a folder of submissions: STUDENT/ASSIGNMENT/NOTEBOOK.ipynb")
    gr.add_argument("submissions", type=Path, help="folder of student_id/assignment/ folders")
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

    if args.command == "handout":
        from grader import handout

        out = handout.build(args.out)
        print(f"wrote the student hand-out to {out}: course/, lib/dlcourse without dlcourse.reference and the "
              "exercise descriptions, recorded visible cases; students run `make lab` there")
        return 0

    from grader.pipeline import GradingRefusedError, grade_batch

    try:
        limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                        memory_mb=args.memory_mb, scratch_mb=args.scratch_mb)
        subs = grade_batch(args.submissions, args.out, only=args.only, limits=limits, sandbox=args.sandbox,
                           wait=args.wait)
    except (GradingRefusedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: the grading folder could not be written ({exc})", file=sys.stderr)
        return 1
    graded = sum(s.status == "graded" for s in subs)
    print(f"{graded} of {len(subs)} submission(s) graded; grades in {args.out / 'grades.csv'}, "
          f"reasons in {args.out / 'results.csv'}, feedback in {args.out / 'feedback'}")
    return 0
