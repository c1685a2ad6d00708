"""grader.static: exercises defined with the reference's help earn nothing."""

from __future__ import annotations

import nbformat
import pytest

from grader.static import reference_users

FUNCS = ["mse", "sigmoid"]


def _nb(*sources: str, locked: str | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    if locked:
        cell = nbformat.v4.new_code_cell(locked)
        cell.metadata["nbgrader"] = {"locked": True}
        nb.cells.insert(0, cell)
    return nb


@pytest.mark.parametrize("cells", [
    ["from dlcourse.reference.regression import mse"],
    ["from dlcourse.reference import regression as r\nmse = r.mse"],
    ["import dlcourse.reference.regression\ndef mse(a, b):\n    return dlcourse.reference.regression.mse(a, b)"],
    ["from dlcourse.reference import regression as r", "def mse(a, b):\n    return r.mse(a, b)"],
    ["import importlib\ndef mse(a, b):\n"
     "    return importlib.import_module('dlcourse.reference.regression').mse(a, b)"],
    ["from dlcourse import reference", "def mse(a, b):\n    return reference.regression.mse(a, b)"],
])
def test_reference_use_is_found(cells):
    assert reference_users(_nb(*cells), FUNCS) == {"mse"}


@pytest.mark.parametrize("cells", [
    ["def mse(a, b):\n    # unlike dlcourse.reference, a loop\n"
     "    return sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)"],
    ["import numpy as np\ndef mse(a, b):\n    return float(np.mean((a - b) ** 2))"],
    ["def mse(a, b):\n    return 0.0", "this is not python ("],
])
def test_honest_code_is_not_flagged(cells):
    assert reference_users(_nb(*cells), FUNCS) == set()


def test_locked_cells_are_not_the_students():
    nb = _nb("def mse(a, b):\n    return 0.0", locked="from dlcourse.reference.regression import sigmoid")
    assert reference_users(nb, FUNCS) == set()
