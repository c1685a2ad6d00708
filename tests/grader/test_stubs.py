"""grader.stubs: the student's stub names the function it stands in."""

from __future__ import annotations

import nbformat
import pytest

from grader.stubs import NamedStubs

SOURCE = '''import numpy as np

def mse(y_hat, y):
    """Mean squared error."""
    ### BEGIN SOLUTION
    return float(np.mean((y_hat - y) ** 2))
    ### END SOLUTION

def sigmoid(z):
    ### BEGIN SOLUTION
    return 1 / (1 + np.exp(-z))
    ### END SOLUTION'''


def _stub(source: str, kind: str = "code"):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade_id": "x"}
    replaced = NamedStubs()._replace_solution_region(cell, "python")
    return cell, replaced


def test_each_stub_names_its_function_and_keeps_the_indent():
    cell, replaced = _stub(SOURCE)
    assert replaced
    assert '    raise NotImplementedError("mse: replace this line with your code")' in cell.source
    assert '    raise NotImplementedError("sigmoid: replace this line with your code")' in cell.source
    assert "np.mean" not in cell.source and "np.exp" not in cell.source
    assert '"""Mean squared error."""' in cell.source


def test_a_solution_outside_a_function_says_only_what_to_do():
    cell, _ = _stub("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    assert cell.source == 'raise NotImplementedError("replace this line with your code")'


@pytest.mark.parametrize(("source", "words"), [
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
    ("x = 1\n### END SOLUTION", "without a begin"),
    ("### BEGIN SOLUTION\nx = 1", "no end"),
])
def test_broken_markers_are_errors(source, words):
    with pytest.raises(RuntimeError, match=words):
        _stub(source)


def test_markdown_is_left_to_nbgrader():
    cell, replaced = _stub("### BEGIN SOLUTION\nmy answer\n### END SOLUTION", kind="markdown")
    assert replaced and "my answer" not in cell.source and "NotImplementedError" not in cell.source


def test_a_method_stub_names_its_class():
    source = '''class BatchNorm1d(nn.Module):
    def __init__(self, d):
        super().__init__()

    def forward(self, x):
        ### BEGIN SOLUTION
        return x
        ### END SOLUTION


def helper(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION'''
    cell, _ = _stub(source)
    assert 'raise NotImplementedError("BatchNorm1d.forward: replace this line with your code")' in cell.source
    assert 'raise NotImplementedError("helper: replace this line with your code")' in cell.source
