"""Tests of the tests: run an implementation through a notebook's own graded test cell.

For an exercise, the harness executes the solution notebook's code cells up
to that exercise's test cell in a fresh namespace (in this process: fast),
with the exercise's solution cell replaced by a variant, then runs the test
cell exactly as stored in solutions/ (visible and hidden tests), twice:

* as a student would (no grader): a wrong variant must make it raise, a
  correct one must not;
* as the grader does: hidden cases are written as data, the cell records the
  variant's results, and ``grader.verdict`` judges them in this process: a
  wrong variant must score 0, a correct one full points.

Each ``test_0N_*_variants.py`` gives its ``VARIANTS`` and three short tests,
parametrized with :func:`params`, that call :func:`assert_rejected`,
:func:`assert_accepted` and :func:`assert_covered` (see
test_01_regression_variants.py). The notebook is read once per process
(:func:`notebook`), and ``--dist loadfile`` keeps a module's tests on one worker.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nbformat
import pytest

from dlcourse.checks import protocol
from grader import hidden, verdict

REPO = Path(__file__).resolve().parents[2]
_WIDGET = re.compile(r"^show\(", re.MULTILINE)


@dataclass(frozen=True)
class Variant:
    """An implementation of one exercise, written as its solution cell would be."""

    label: str
    source: str


@dataclass
class Outcome:
    student_error: BaseException | None
    score: float
    points: float
    reasons: list[str]


class Notebook:
    """A solution notebook, split into what the harness needs."""

    def __init__(self, path: Path):
        self.path = path
        self.nb = nbformat.read(str(path), as_version=4)
        self.graded = hidden.graded_test_cells(path)

    def _meta(self, cell) -> dict:
        return cell.metadata.get("nbgrader", {})

    def cell_index(self, grade_id: str) -> int:
        for i, cell in enumerate(self.nb.cells):
            if self._meta(cell).get("grade_id") == grade_id:
                return i
        raise KeyError(f"{self.path.name} has no cell {grade_id!r}")

    def prefix(self, solution_id: str, test_id: str, replacement: str) -> str:
        """The code that runs before the test cell, with one solution swapped."""
        parts = []
        for cell in self.nb.cells[: self.cell_index(test_id)]:
            meta = self._meta(cell)
            if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
                continue  # other exercises' test cells do not run
            if _WIDGET.search(cell.source):
                continue  # slider views: not needed to test a function
            parts.append(replacement if meta.get("grade_id") == solution_id else cell.source)
        return "\n\n".join(parts)

    def test_source(self, test_id: str) -> str:
        return self.nb.cells[self.cell_index(test_id)].source


def _exec(source: str, namespace: dict, name: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, name, "exec"), namespace)


def run(notebook: Notebook, solution_id: str, test_id: str, variant: Variant, tmp: Path) -> Outcome:
    """Run ``variant`` through the test cell ``test_id``, as a student and as the grader."""
    import matplotlib

    matplotlib.use("Agg")
    prefix = notebook.prefix(solution_id, test_id, variant.source)
    test = notebook.test_source(test_id)

    # 1. As a student in JupyterLab: does the cell raise?
    saved = os.environ.pop(protocol.ENV_VAR, None)
    ns: dict = {"__name__": "__main__"}
    _exec(prefix, ns, f"<{variant.label}: prefix>")
    student_error = None
    try:
        _exec(test, ns, f"<{test_id}>")
    except BaseException as exc:
        student_error = exc

    # 2. As the grader: record in "the kernel", judge here.
    cell = notebook.graded[test_id]
    pdir = tmp / f"protocol-{test_id}"
    cases = {n: verdict.hidden_cases(n, seed=4321) for n in cell["exercises"]}
    verdict.write_inputs(pdir, cases)
    os.environ[protocol.ENV_VAR] = str(pdir)
    try:
        ns = {"__name__": "__main__"}
        _exec(prefix, ns, f"<{variant.label}: prefix>")
        with contextlib.suppress(Exception):
            _exec(test, ns, f"<{test_id}>")
    finally:
        os.environ.pop(protocol.ENV_VAR, None)
        if saved is not None:
            os.environ[protocol.ENV_VAR] = saved
    v = verdict.judge_cell(test_id, cell["points"], cell["exercises"], cases, pdir)
    return Outcome(student_error, v.score, v.points, v.reasons)


# exercise -> (solution cell id, test cell id, wrong variants, correct variants)
Variants = dict[str, tuple[str, str, list[Variant], list[Variant]]]

def params(variants: Variants, kind: Literal["wrong", "right"]) -> list:
    """``pytest.param(solution_id, test_id, variant)`` for every wrong (or every correct) variant.

    Ids are ``exercise-variant label``, so ``-k "mse and loop"`` selects one case.
    """
    if kind not in ("wrong", "right"):
        raise ValueError(f"kind must be 'wrong' or 'right', got {kind!r}")
    return [
        pytest.param(sol, test, v, id=f"{exercise}-{v.label}")
        for exercise, (sol, test, wrong, right) in variants.items()
        for v in (wrong if kind == "wrong" else right)
    ]


@functools.cache
def notebook(path: Path) -> Notebook:
    """The solution notebook at ``path``, read once per process (each xdist worker reads its own)."""
    return Notebook(path)


def assert_rejected(path: Path, solution_id: str, test_id: str, variant: Variant, tmp: Path,
                    reasons: dict[str, str] | None = None) -> None:
    """The test cell fails for a student and the grader gives no points to a wrong ``variant``.

    ``reasons`` maps a variant's label to words both messages must contain: the student and the grader are told
    the class of the mistake, not only that something differs.
    """
    out = run(notebook(path), solution_id, test_id, variant, tmp)
    what = f"{solution_id} ({variant.label})"
    assert out.student_error is not None, f"the visible+hidden tests accepted a wrong {what}"
    assert out.score == 0, f"the grader gave {out.score} points to a wrong {what}"
    why = (reasons or {}).get(variant.label)
    if why is not None:
        assert why in str(out.student_error), f"{what}: a student is told {out.student_error}"
        assert any(why in reason for reason in out.reasons), f"{what}: the grader says {out.reasons}"


def assert_accepted(path: Path, solution_id: str, test_id: str, variant: Variant, tmp: Path) -> None:
    """The test cell passes for a student and the grader gives full points to a correct ``variant``."""
    out = run(notebook(path), solution_id, test_id, variant, tmp)
    what = f"{solution_id} ({variant.label})"
    assert out.student_error is None, f"a correct {what} was rejected: {out.student_error!r}"
    assert out.score == out.points > 0, f"the grader did not give full points: {out.reasons}"


def assert_covered(path: Path, variants: Variants) -> None:
    """Every graded test cell of the notebook has at least two wrong variants and one correct one."""
    tested = {test for _, test, _, _ in variants.values()}
    assert set(notebook(path).graded) == tested
    for exercise, (_, _, wrong, right) in variants.items():
        assert len(wrong) >= 2 and len(right) >= 1, exercise
