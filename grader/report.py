"""The grade tables: nbgrader's grades.csv, and our per-cell results with reasons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from grader.course import COURSE_ID


def export(ws, subs: list) -> dict[str, Path]:
    """Write grades.csv (nbgrader export), results.csv (one row per graded cell or
    failed submission, with the reason) and results.json (everything)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    paths = {
        "grades": ws.root / "grades.csv",
        "results": ws.root / "results.csv",
        "json": ws.root / "results.json",
    }
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        CsvExportPlugin(to=str(paths["grades"])).export(gb)
    with open(paths["results"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "assignment", "status", "score", "max_score", "notebook", "cell",
                    "cell_score", "cell_points", "reason"])
        for s in subs:
            if not s.cells:
                w.writerow([s.student, s.assignment, s.status, s.score, s.max_score, "", "", "", "", s.reason])
            for c in s.cells:
                w.writerow([s.student, s.assignment, s.status, s.score, s.max_score, c["notebook"],
                            c["grade_id"], c["score"], c["points"], " | ".join(c["reasons"])])
    paths["json"].write_text(json.dumps([s.summary() for s in subs], indent=1))
    return paths


def feedback_files(root: Path, student: str, assignment: str) -> list[Path]:
    return sorted((root / "feedback" / student / assignment).glob("*.html"))
