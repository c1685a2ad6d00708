"""Where things are, and the nbgrader configuration that ties them together."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
COURSE = REPO / "course"
COURSE_ID = "dlcourse"

# nbgrader runs `alembic` (gradebook migrations) as a command: make the tools of
# this interpreter's environment findable even when it was not activated.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


def assignments(source: Path = SOLUTIONS) -> list[str]:
    """Assignment ids: the folders of ``source`` that hold a notebook, in order."""
    return sorted(
        p.name
        for p in source.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.ipynb"))
    )


def nbgrader_config(
    root: Path,
    *,
    db_url: str,
    source: str = "source",
    release: str = "release",
    cell_timeout: int = 120,
    notebook_timeout: int = 900,
    memory_mb: int = 3072,
    sandbox: str = "auto",
) -> Config:
    """The configuration every nbgrader step here runs with.

    ``root`` is the nbgrader course directory; ``source`` and ``release`` are
    folders below it (or absolute paths).
    """
    from grader.stubs import NamedStubs

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = source
    c.CourseDirectory.release_directory = release
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = "autograded"
    c.CourseDirectory.feedback_directory = "feedback"
    c.CourseDirectory.db_url = db_url
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
    # Student stubs name the exercise (STYLE.md, rule 9).
    c.GenerateAssignment.preprocessors = [
        NamedStubs if p.__name__ == "ClearSolutions" else p
        for p in _default_generate_preprocessors()
    ]
    # Feedback shows the executed test cells, minus their hidden part.
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
    # Execution happens in the sandbox, never in nbgrader's own process tree (grader/execute.py).
    from nbgrader.converters import Autograde

    from grader.execute import SandboxedExecute

    c.Autograde.autograde_preprocessors = [
        SandboxedExecute if p.__name__ == "Execute" else p
        for p in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    c.SandboxedExecute.work_root = str(root / "sandbox")
    c.SandboxedExecute.protocol_root = str(root / "protocol")
    c.SandboxedExecute.sandbox = sandbox
    c.SandboxedExecute.cell_timeout = cell_timeout
    c.SandboxedExecute.notebook_timeout = notebook_timeout
    c.SandboxedExecute.memory_mb = memory_mb
    c.Autograde.create_student = True
    c.Exchange.root = str(root / "exchange")
    return c


def _default_generate_preprocessors() -> list[type]:
    from nbgrader.converters import GenerateAssignment

    return list(GenerateAssignment.class_traits()["preprocessors"].default())
