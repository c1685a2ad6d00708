"""Graded-cell discovery: which cells are auto-graded, their points, and which exercises each one checks.

A graded test cell names its exercises in ``hidden_test("topic.function", fn)``
calls. The names are read with ``ast`` from solutions/ (never from the
student's copy, whose cells the student may have edited).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat


def _hidden_test_names(source: str) -> list[str]:
    # IPython magics are not Python: drop those lines before parsing.
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    names = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "hidden_test" and node.args and isinstance(node.args[0], ast.Constant):
            names.append(str(node.args[0].value))
    return names


def graded_test_cells(notebook: Path) -> dict[str, dict]:
    """grade_id -> {"points": float, "exercises": [names]} for each auto-graded test cell."""
    nb = nbformat.read(str(notebook), as_version=4)
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cells[meta["grade_id"]] = {
                "points": float(meta.get("points", 0)),
                "exercises": _hidden_test_names(cell.source),
            }
    return cells
