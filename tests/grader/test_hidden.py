"""grader.hidden: which exercises each graded test cell checks, read from the trusted notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader import hidden

REPO = Path(__file__).resolve().parents[2]
SOLUTION = REPO / "solutions" / "01_regression" / "01_regression.ipynb"


def _cell(kind: str, source: str, **meta):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if meta:
        cell.metadata["nbgrader"] = meta
    return cell


def test_graded_cells_of_the_first_notebook():
    cells = hidden.graded_test_cells(SOLUTION)
    assert len(cells) >= 5
    for gid, cell in cells.items():
        assert cell["exercises"], f"{gid} has no hidden_test: it could not be graded safely"
        assert cell["points"] > 0


def test_only_auto_graded_code_cells_count(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", "checks.hidden_test('a.b', f)", grade=True, grade_id="t1", points=2),
        _cell("code", "def f():\n    pass", grade=True, solution=True, grade_id="answer", points=1),
        _cell("markdown", "Explain.", grade=True, solution=True, grade_id="written", points=3),
        _cell("code", "checks.hidden_test('x.y', g)", grade_id="not_graded"),
        _cell("code", "assert True", grade=True, grade_id="t2", points=1),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    assert hidden.graded_test_cells(path) == {"t1": {"points": 2.0, "exercises": ["a.b"]},
                                              "t2": {"points": 1.0, "exercises": []}}


def test_hidden_test_names_are_read_with_ast():
    src = "%matplotlib inline\nchecks.hidden_test('a.b', f)\nhidden_test(\"c.d\", g)\n# hidden_test('e.f', h)\n" \
          "s = \"hidden_test('g.h', k)\"\n!ls"
    assert hidden._hidden_test_names(src) == ["a.b", "c.d"]
