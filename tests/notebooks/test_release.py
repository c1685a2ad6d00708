"""course/ is generated from solutions/ and kept in sync; the solutions run clean."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader import release
from grader.course import assignments

REPO = Path(__file__).resolve().parents[2]


def test_course_is_in_sync_with_solutions():
    problems = release.stale()
    assert not problems, "course/ is stale; run `make release`:\n" + "\n".join(problems)


def test_every_assignment_is_released():
    assert assignments(REPO / "solutions") == assignments(REPO / "course")


def test_stale_detects_an_edit(tmp_path):
    import shutil

    copy = tmp_path / "course"
    shutil.copytree(REPO / "course", copy)
    nb_path = next(copy.rglob("*.ipynb"))
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, str(nb_path))
    assert any("out of date" in p for p in release.stale(copy))
