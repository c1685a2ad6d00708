"""A static look at the student's own code: does an exercise just call the reference?

It owns ``reference_users``, which SaveVerdicts (grader/execute.py) applies to every notebook.

The sandbox is the real guard (``dlcourse.reference`` cannot be imported
there). This check also holds where the grader runs without one, and gives the
student a reason that says what happened.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

import nbformat

from grader.settings import HIDDEN_PACKAGES

_ALT = "|".join(map(re.escape, HIDDEN_PACKAGES))
_MENTION = re.compile(rf"dlcourse\s*\.\s*({_ALT})\b|from\s+dlcourse\s+import\s+[^\n]*\b({_ALT})\b")
_FORBIDDEN = tuple(f"dlcourse.{name}" for name in HIDDEN_PACKAGES)


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
                    a.name in HIDDEN_PACKAGES for a in node.names)):
                names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(_FORBIDDEN):
                    names.add(a.asname or a.name.split(".")[0])
    return names


def _without_comments(source: str) -> str:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    return " ".join(t.string for t in tokens if t.type != tokenize.COMMENT)


def _binds(tree: ast.AST) -> set[str]:
    """Top-level names a cell defines: functions, assignments, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def reference_users(nb: nbformat.NotebookNode, functions: list[str]) -> set[str]:
    """The functions (of ``functions``) that a student's cell defines with the reference's help:
    the cell mentions dlcourse.reference / dlcourse.exercises, or uses a name imported from them."""
    editable = [c for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("locked")]
    parsed = [(c, _parse(c.source)) for c in editable]
    imported: set[str] = set()
    for _, tree in parsed:
        if tree is not None:
            imported |= _bound_from_forbidden(tree)
    found = set()
    for cell, tree in parsed:
        if tree is None:
            continue
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if _MENTION.search(_without_comments(cell.source)) or used & imported:
            found |= _binds(tree) & set(functions)
    return found
