"""A grading run prints only what the grader says: the progress bar, a line per submission, the summary.

No library noise (SQLAlchemy or Deprecation warnings, nbgrader's checksum warnings or its "No
nbgrader_config.py" line, ipykernel's "Kernel is running over TCP"), with one job and with two; the
second run with every Python warning made visible (PYTHONWARNINGS=default), so that a warning hidden
only by Python's default filters would show."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.settings import STATUSES

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"

_STATUS = "|".join(map(re.escape, STATUSES))
OURS = [
    r"",                                                                         # blank, and tqdm's erasing
    r"\d+%\|[^|]*\| \d+/\d+ \[[^\]]*\](, failed \d+)?",                          # the progress bar
    rf"[\w.\-]+/[\w.\-]+: ({_STATUS}) \d+(\.\d+)?/\d+(\.\d+)?( \(.*\))?",        # one line per submission
    r"status {12}submissions", rf"({_STATUS}) +\d+",                             # the summary table
    r"\d+ of \d+ submission\(s\) graded; grades in .*class report in .*",
]


def _submissions(root: Path) -> Path:
    """The solution (it passes everything) and the untouched notebook (it fails everything), without the slow
    cells a student may delete anyway."""
    for student, source in (("alice", REPO / "solutions"), ("bob", REPO / "course")):
        nb = nbformat.read(str(source / AID / f"{AID}.ipynb"), as_version=4)
        nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and not c.metadata.get("nbgrader") and (
            "show(" in c.source or "train_logistic" in c.source or "theta_digits" in c.source))]
        folder = root / student / AID
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{AID}.ipynb"))
    return root


def _not_ours(output: str) -> list[str]:
    lines = [ln.strip() for ln in re.split(r"[\r\n]", output)]
    return [ln for ln in lines if not any(re.fullmatch(p, ln) for p in OURS)]


@pytest.mark.slow
@pytest.mark.parametrize(("jobs", "env"), [(1, {}), (2, {"PYTHONWARNINGS": "default"})])
def test_a_grading_run_prints_only_the_graders_own_lines(tmp_path, jobs, env):
    from grader.sandbox import bwrap_available

    if not bwrap_available():
        pytest.skip("bubblewrap (bwrap) is not installed: a run without a sandbox prints a warning by design")
    subs = _submissions(tmp_path / "subs")
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(subs), "--out", str(tmp_path / "out"),
                           "--jobs", str(jobs)], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^alice/01_regression: graded ", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^bob/01_regression: graded 0/", proc.stdout, re.MULTILINE), proc.stdout
    assert "100%|" in proc.stderr, "the progress bar is ours and stays"
    noise = _not_ours(proc.stdout + "\n" + proc.stderr)
    assert noise == [], "lines the grader did not print:\n" + "\n".join(noise[:40])


def test_the_filter_recognises_noise():
    """The test above can fail: each kind of noise the issue names is caught."""
    for line in ["/x/sqlalchemy/orm/session.py:12: SAWarning: relationship conflicts",
                 "[AutogradeApp | WARNING] Attribute 'checksum' for cell test_mse has changed!",
                 "[GenerateFeedbackApp | WARNING] No nbgrader_config.py file found (rerun with --debug to see where "
                 "nbgrader is looking)", "/x/y.py:3: DeprecationWarning: datetime.utcnow() is deprecated",
                 "[IPKernelApp] WARNING | Kernel is running over TCP without encryption."]:
        assert _not_ours(line) == [line]
    ours = ("  0%|          | 0/2 [00:00<?], failed 0\r 50%|█████     | 1/2 [00:06<00:06], failed 0\n"
            "alice/01_regression: graded 29/39\nbob/01_regression: crashed 0/39 (01_regression: kernel died)\n\n"
            "status            submissions\ngraded                      1\ncrashed                     1\n"
            "1 of 2 submission(s) graded; grades in o/grades.csv, reasons in o/results.csv, feedback in o/feedback, "
            "class report in o/class_report.html")
    assert _not_ours(ours) == []
