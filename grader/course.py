"""Where things are, and the nbgrader configuration that ties them together.

It owns the paths of the repository (solutions/, course/), the list of
assignments, and ``nbgrader_config``: the one configuration every nbgrader
step runs with (release, autograde, feedback), including which preprocessors
make up the autograde and feedback pipelines.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

from grader.settings import Limits

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
    limits: Limits | None = None,
    sandbox: str = "bwrap",
    fast: bool = False,
) -> Config:
    """The configuration every nbgrader step here runs with.

    ``root`` is the nbgrader course directory; ``source`` and ``release`` are
    folders below it (or absolute paths). ``limits`` and ``sandbox`` reach the
    autograde steps (grader/execute.py) unchanged; ``fast`` skips the cells tagged as illustration there.
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
    # Autograde: execution in the sandbox, then the trusted verdicts right after it; nbgrader's
    # SaveAutoGrades (scores from the kernel's outputs) is not in the pipeline at all (grader/execute.py).
    from grader.execute import SandboxedExecute, SaveVerdicts

    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    limits = limits or Limits()
    for step in (SandboxedExecute, SaveVerdicts):
        getattr(c, step.__name__).grading_root = str(root)
        getattr(c, step.__name__).limits = limits
    c.SandboxedExecute.sandbox = sandbox
    c.SandboxedExecute.skip_illustration = fast
    c.Autograde.create_student = True
    c.Exchange.root = str(root / "exchange")
    return c


def autograde_preprocessors() -> list[type]:
    """nbgrader's autograde steps, with Execute replaced by SandboxedExecute + SaveVerdicts and
    SaveAutoGrades removed."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    from grader.execute import SandboxedExecute, SaveVerdicts

    steps: list[type] = []
    for p in Autograde.class_traits()["autograde_preprocessors"].default():
        if p is Execute:
            steps += [SandboxedExecute, SaveVerdicts]
        elif p is not SaveAutoGrades:
            steps.append(p)
    return steps


def _default_generate_preprocessors() -> list[type]:
    from nbgrader.converters import GenerateAssignment

    return list(GenerateAssignment.class_traits()["preprocessors"].default())
