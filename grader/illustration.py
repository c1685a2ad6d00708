"""The fast grading mode: skip the cells that are only illustration, and nothing a graded result depends on.

A notebook for learning runs long training demos, draws plots and renders
widgets; grading needs none of that. The instructor tags such code cells
``illustration`` (cell metadata ``tags``, grader.settings.ILLUSTRATION_TAG)
in the source notebook (solutions/). With ``python -m grader grade --fast``
each such cell's code is replaced, in the copy that runs in the sandbox, by a
comment, so it costs nothing; the rest of the notebook runs as always.

It cannot change a graded result, by construction:

* Which cells are skipped is decided by the trusted source notebook, never by
  the submission: a submitted cell is skipped only when its code is exactly
  that of a tagged source cell (or it is the nbgrader cell with the same
  ``grade_id``). Tagging cells in a submission does nothing.
* nbgrader cells (answers, tests, written answers) are never skipped.
* A tagged cell is skipped only when it is *inert* for what follows
  (``skippable``): no name it binds or changes (assignments, ``def``,
  ``import``, ``x.attr = ...``, ``x[i] = ...``, ``del``, augmented
  assignments) is read by a later cell that runs, it changes no process-wide
  numerical setting (``GLOBAL_SETTERS``: default dtype, thread counts,
  floating-point error modes, ...; as a ``with`` block it is undone and so
  allowed, and ``set_num_threads(1)`` is what the grader's kernel has
  anyway), and it holds no IPython magic or shell escape other than
  ``%matplotlib``. A tagged cell that fails this is run anyway, and ``check``
  says why.
* Random numbers cannot leak from a skipped cell either: the grader's kernel
  reseeds the process-wide generators (``random``, NumPy's legacy one,
  torch's) at the start of every cell from the cell's position
  (grader/runner.py), and a skipped cell still takes its position. So a cell
  that seeds or draws, such as a training demo, may be skipped.
* Plots and widgets that do run are inert anyway: the kernel draws with
  ``MPLBACKEND=Agg`` (grader/sandbox.py) and no widget front end exists.

What the static rule cannot see (a method that changes an object in place,
``model.fit(x)``, where ``model`` is read later) the tagger must avoid; the
test that grades every solution notebook both ways and compares every graded
cell's result (tests/grader/test_illustration.py) is the proof for the
course's notebooks. ``propose`` lists the cells that could be tagged.
"""

from __future__ import annotations

import ast
import re

import nbformat

from grader.settings import ILLUSTRATION_TAG

SKIPPED = "# [grader] skipped while grading: this cell only illustrates (tagged 'illustration')\n"
_MAGIC = re.compile(r"^\s*([%!]|\w+\s*=\s*!)", re.MULTILINE)
_ALLOWED_MAGIC = re.compile(r"^\s*%matplotlib\b.*$", re.MULTILINE)


def _tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_graded_or_answer(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade") or meta.get("solution") or meta.get("task"))


def _tree(source: str) -> ast.AST | None:
    """The cell's code without ``%matplotlib`` lines; None when it holds other magics or does not parse."""
    code = _ALLOWED_MAGIC.sub("", source)
    if _MAGIC.search(code):
        return None
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def bound_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code binds or changes: assigned, deleted, defined, imported, or whose attribute or
    item it assigns."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            root = _root(node)
            if root:
                names.add(root)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names


def read_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


# Calls that change a process-wide numerical setting for every later cell (NumPy, PyTorch, threadpoolctl, Python).
GLOBAL_SETTERS = frozenset("""
set_default_dtype set_default_tensor_type set_default_device seterr seterrcall set_grad_enabled
use_deterministic_algorithms set_flush_denormal set_num_threads set_num_interop_threads threadpool_limits
set_float32_matmul_precision set_detect_anomaly setrecursionlimit
""".split())


def _one_thread(node: ast.Call, name: str) -> bool:
    """``set_num_threads(1)``: what the grader's kernel has anyway (OMP_NUM_THREADS=1, grader/sandbox.py)."""
    return (name == "set_num_threads" and len(node.args) == 1 and not node.keywords
            and isinstance(node.args[0], ast.Constant) and node.args[0].value == 1)


def global_setting(tree: ast.AST) -> str:
    """The name of a process-wide setting the code changes outside a ``with`` block, or ""."""
    undone = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With | ast.AsyncWith)
              for item in node.items}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in undone:
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in GLOBAL_SETTERS and not _one_thread(node, name):
                return name
    return ""


def check(nb) -> dict[int, str]:
    """For every tagged code cell of a source notebook: "" when it can be skipped, else why it cannot."""
    cells = nb.cells
    tagged = [i for i, c in enumerate(cells) if c.cell_type == "code" and ILLUSTRATION_TAG in _tags(c)]
    verdicts: dict[int, str] = {}
    for i in tagged:
        cell = cells[i]
        tree = _tree(cell.source)
        if _is_graded_or_answer(cell):
            verdicts[i] = "it is an nbgrader cell (an answer or a test): never skipped"
        elif tree is None:
            verdicts[i] = "it holds an IPython magic or shell escape, or does not parse"
        elif setting := global_setting(tree):
            verdicts[i] = f"it calls {setting}, a process-wide setting that later cells may depend on"
        else:
            verdicts[i] = ""
    # A skipped cell's names must not be read by any later cell that runs; each cell found not skippable runs,
    # so look again until nothing changes.
    changed = True
    while changed:
        changed = False
        for i in tagged:
            if verdicts[i]:
                continue
            bound = bound_names(_tree(cells[i].source))
            for j in range(i + 1, len(cells)):
                later = cells[j]
                if later.cell_type != "code" or (j in verdicts and not verdicts[j]):
                    continue
                later_tree = _tree(later.source)
                used = read_names(later_tree) if later_tree is not None else bound
                if used & bound:
                    verdicts[i] = (f"cell {j} reads {', '.join(sorted(used & bound)[:5])}, which it binds or "
                                   "changes")
                    changed = True
                    break
    return verdicts


def skippable(nb) -> list[int]:
    return [i for i, why in check(nb).items() if not why]


def without_illustration(submitted, source):
    """A copy of the submitted notebook in which the cells the source skips hold a comment instead of code."""
    skip = [source.cells[i] for i in skippable(source)]
    sources = {c.source for c in skip}
    grade_ids = {_nbgrader(c).get("grade_id") for c in skip} - {None}
    out = nbformat.from_dict(submitted)   # a deep copy: the notebook nbgrader keeps is not touched
    for cell in out.cells:
        if cell.cell_type != "code" or _is_graded_or_answer(cell):
            continue
        if cell.source in sources or (_nbgrader(cell).get("grade_id") in grade_ids):
            cell.source = SKIPPED
    return out


def propose(nb) -> list[int]:
    """The code cells that could carry the tag: the largest set of non-nbgrader code cells that ``check``
    would let skip together."""
    trial = nbformat.from_dict(nb)
    for cell in trial.cells:
        if cell.cell_type == "code" and not _nbgrader(cell):
            cell.metadata["tags"] = [*_tags(cell), ILLUSTRATION_TAG]
    return skippable(trial)
