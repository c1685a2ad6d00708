"""A static look at the student's own code: does an exercise just call the reference?

The sandbox is the real guard (``dlcourse.reference`` cannot be imported
there). This check also holds where the grader runs without one, and gives the
student a reason that says what happened.
"""

from __future__ import annotations

import ast
import re

import nbformat

_MENTION = re.compile(
    r"dlcourse\s*\.\s*(reference|exercises)\b|from\s+dlcourse\s+import\s+[^\n]*\b(reference|exercises)\b")
_FORBIDDEN = ("dlcourse.reference", "dlcourse.exercises")


def _parse(source: str) -> ast.AST | None:
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _bound_from_forbidden(tree: ast.AST) -> set[str]:
    """Names a cell binds from dlcourse.reference / dlcourse.exercises (with aliases)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(_FORBIDDEN) or (node.module == "dlcourse" and any(
                    a.name in ("reference", "exercises") for a in node.names)):
                names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(_FORBIDDEN):
                    names.add(a.asname or a.name.split(".")[0])
    return names


def reference_users(nb: nbformat.NotebookNode, functions: list[str]) -> set[str]:
    """The functions (of ``functions``) whose definition uses the reference or the exercises."""
    editable = [c for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("locked")]
    imported: set[str] = set()
    trees = []
    for cell in editable:
        tree = _parse(cell.source)
        trees.append((cell, tree))
        if tree is not None:
            imported |= _bound_from_forbidden(tree)
    found = set()
    for cell, tree in trees:
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                body = ast.get_source_segment(cell.source, node) or ""
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                if _MENTION.search(body) or used & imported:
                    found.add(node.name)
    return found
