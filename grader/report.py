"""The grade tables, made from every submission ever graded into the grading folder.

It owns the exports: ``grades.csv`` (nbgrader's own export of the gradebook,
one row per student and assignment), ``results.csv`` (one row per graded cell,
or per submission that could not be graded, with the reason) and
``results.json`` (everything), all made from the submissions' saved results
(``runs/*/*/result.json``, written by grader/pipeline.py), so each
(student, assignment) appears exactly once however often it was regraded.
Every text is escaped to encodable UTF-8 (grader/text.py) and every file is
replaced atomically; one export that fails does not stop the others.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from grader import text
from grader.course import COURSE_ID

COLUMNS = ["student_id", "assignment", "status", "score", "max_score", "notebook", "cell", "cell_score",
           "cell_points", "reason"]


def saved_results(root: Path) -> list[dict]:
    """Every saved submission result under ``root/runs``, sorted by student and assignment."""
    found = []
    for path in sorted([*root.glob("runs/*/*/result.json"), *root.glob("runs/.refused/*.json")]):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: (str(r.get("student")), str(r.get("assignment"))))


def results_csv(results: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for s in results:
        head = [s["student"], s["assignment"], s["status"], s["score"], s["max_score"]]
        if not s["cells"]:
            w.writerow([*head, "", "", "", "", s["reason"]])
        for c in s["cells"]:
            w.writerow([*head, c["notebook"], c["grade_id"], c["score"], c["points"], " | ".join(c["reasons"])])
    return text.clean(buf.getvalue())


def export(ws) -> dict[str, Path]:
    """Write grades.csv, results.csv and results.json; returns their paths. Raises the first failure,
    after trying them all."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    paths = {"grades": ws.root / "grades.csv", "results": ws.root / "results.csv", "json": ws.root / "results.json"}
    results = saved_results(ws.root)
    failures: list[Exception] = []

    def grades() -> None:
        tmp = paths["grades"].with_name(".grades.csv.tmp")
        with Gradebook(ws.db_url, COURSE_ID) as gb:
            CsvExportPlugin(to=str(tmp)).export(gb)
        tmp.replace(paths["grades"])

    for action in (grades, lambda: text.write_text(paths["results"], results_csv(results)),
                   lambda: text.write_text(paths["json"], json.dumps(results, indent=1))):
        try:
            action()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]
    return paths


def feedback_files(root: Path, student: str, assignment: str) -> list[Path]:
    return sorted((root / "feedback" / student / assignment).glob("*.html"))
