"""Build the student hand-out: what students receive, without anything that computes an answer.

``python -m grader handout --out handout`` (``make handout``) writes a folder that installs and runs on its
own::

    handout/
      README.md, Makefile, pyproject.toml, requirements.lock   set up, start JupyterLab (student guide)
      course/NN_topic/NN_topic.ipynb                             the released notebooks (course/)
      lib/dlcourse/                                              the library, less what holds answers:
                                                                 no dlcourse.reference, no exercise descriptions
      lib/dlcourse/exercises/visible/<topic>.json                visible cases and expected outputs, recorded now

Visible tests then judge against the records (``dlcourse.exercises.recorded``); the hidden cases are drawn
per student at grading time and are never in the hand-out. Views use the student's functions and, where one
is missing, say which to implement first (``dlcourse.widgets.fallback``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from grader.course import COURSE, REPO

LIB = REPO / "lib" / "dlcourse"

# Parts of the library that compute answers: the reference implementations, and the exercise descriptions
# (references, known mistakes) of every topic; the exercises' machinery (core, recorded) stays.
EXCLUDED = ("reference",)
KEPT_EXERCISE_MODULES = ("__init__.py", "core.py", "recorded.py")

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class HandoutError(RuntimeError):
    pass


def build(out: Path, *, course: Path = COURSE) -> Path:
    """Write the hand-out into ``out`` (replaced if it exists); returns ``out``."""
    from dlcourse import exercises
    from dlcourse.exercises import recorded

    out = Path(out)
    if out.resolve() in (REPO.resolve(), *REPO.resolve().parents):
        raise HandoutError(f"refusing to replace {out}: it holds the repository")
    if out.exists():
        shutil.rmtree(out)
    lib = out / "lib" / "dlcourse"
    shutil.copytree(LIB, lib, ignore=_IGNORED)
    for name in EXCLUDED:
        shutil.rmtree(lib / name)
    for entry in (lib / "exercises").iterdir():
        if entry.name not in KEPT_EXERCISE_MODULES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    recorded.write_records(exercises.all_exercises(), lib / "exercises" / "visible")
    shutil.copytree(course, out / "course", ignore=_IGNORED)
    shutil.copy2(REPO / "requirements.lock", out / "requirements.lock")
    (out / "pyproject.toml").write_text(_pyproject())
    (out / "Makefile").write_text(MAKEFILE)
    (out / "README.md").write_text(README)
    return out


def _pyproject() -> str:
    """The repository's package metadata, for the library alone (no grader), with the recorded cases as data."""
    text = (REPO / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    optional = re.search(r"\[project\.optional-dependencies\]\n(.*?)(?:\n\[|\Z)", text, re.DOTALL)
    course_extra = re.search(r"^course = .*$", optional.group(1), re.MULTILINE).group(0) if optional else ""
    project = re.sub(r'^name = ".*"$', 'name = "dlcourse"', project, flags=re.MULTILINE)
    project = re.sub(r'^readme = ".*"$', 'readme = "README.md"', project, flags=re.MULTILINE)
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f"[project]{project}\n"
        f"[project.optional-dependencies]\n{course_extra}\n\n"
        '[tool.setuptools.packages.find]\nwhere = ["lib"]\ninclude = ["dlcourse*"]\n\n'
        '[tool.setuptools.package-data]\n"dlcourse.exercises" = ["visible/*.json"]\n'
    )


MAKEFILE = """\
# The student hand-out: make setup, then make lab.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# No "get Jupyter news?" prompt and no update check on first start.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: setup lab

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools>=77"
\t$(BIN)/pip install --quiet -r requirements.lock
\tPYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
\ttouch $(VENV)/.installed

lab: setup $(LAB_SETTINGS)
\t$(BIN)/jupyter lab --notebook-dir=course $(ROOT_FLAG) \\
\t\t--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ARGS)

$(LAB_SETTINGS): $(VENV)/.installed
\tmkdir -p $(dir $@)
\techo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@
"""

README = """\
# Deep learning, by hand: the student hand-out

You need Python 3.11, `make` and a Linux or macOS shell. Nothing is downloaded at run time except the packages
when you set up.

```bash
make lab          # sets up .venv (first time only), then starts JupyterLab on course/
```

1. Open `01_regression/01_regression.ipynb` and work top to bottom.
2. Each exercise is a function whose docstring gives its inputs and outputs. Replace
   `raise NotImplementedError(...)` with your code and run the test cell below it: a failing test tells you what
   looks wrong and, for mistakes students often make, which one.
3. Cells with sliders draw your own functions once they work; until then they say which function to write first.
4. Written questions are answered in the markdown cell below them.
5. Before you submit, press *Validate* (nbgrader toolbar): it runs the whole notebook.

When you submit, hidden tests call your functions on inputs you have not seen. Only what your functions return
counts (and that they leave their arguments unchanged); editing test cells or the checks changes nothing.
"""
