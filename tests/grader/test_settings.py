"""grader.settings and grader.cli: every setting has one home, and the command line fills it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader import cli, pipeline, settings
from grader.settings import Limits

GRADER = Path(__file__).resolve().parents[2] / "grader"


def test_limits_refuse_nonsense():
    with pytest.raises(ValueError, match="cell_timeout"):
        Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=True)
    assert Limits().report_bytes == (Limits().max_notebook_mb + Limits().max_result_mb) * settings.MB


def test_the_command_line_builds_one_limits_object_and_passes_it_down(monkeypatch, tmp_path):
    seen = {}

    def fake(submissions, out, **kw):
        seen.update(kw)
        return []

    monkeypatch.setattr(pipeline, "grade_batch", fake)
    assert cli.main(["grade", str(tmp_path), "--cell-timeout", "7", "--notebook-timeout", "70", "--memory-mb", "700",
                     "--scratch-mb", "77", "--sandbox", "none"]) == 0
    assert seen["limits"] == Limits(cell_timeout=7, notebook_timeout=70, memory_mb=700, scratch_mb=77)
    assert seen["sandbox"] == "none"
    assert cli.main(["grade", str(tmp_path), "--cell-timeout", "-1"]) == 2


def test_shared_names_and_limits_are_written_once():
    """No grader module restates the kernel's variable, the hidden packages, or a limit's number."""
    for path in GRADER.glob("*.py"):
        source = path.read_text()
        assert "DLCOURSE_GRADING_DIR" not in source, path.name
        if path.name != "settings.py":
            assert not re.search(r"\"reference\",\s*\"exercises\"", source), path.name
            for number in ("20_000_000", "50_000_000", "3072", "900", "120"):
                assert not re.search(rf"(?<![\w.]){number}(?![\w.])", source), (path.name, number)
