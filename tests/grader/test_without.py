"""A notebook graded without PyTorch: its source says so (metadata ``dlcourse.graded_without``), and while it is
graded torch cannot be imported at all, so no exercise earns points by calling torch.

01_regression declares it. The solution keeps every automatic point; a student whose function calls torch (even
after taking the import hook out of ``sys.meta_path``, or loading torch's files by path) gets the message
that says why, and no point for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import pipeline, sandbox
from grader.sandbox import bwrap_available

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not bwrap_available(), reason="the sandbox (bubblewrap) is not installed")]

CHEATS = {
    "plain": "import torch\n    return float(torch.mean((torch.as_tensor(y_pred) - torch.as_tensor(y)) ** 2))",
    "hook_removed": ("import sys\n    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != 'Hook']\n"
                     "    import torch\n"
                     "    return float(torch.mean((torch.as_tensor(y_pred) - torch.as_tensor(y)) ** 2))"),
    "by_path": ("import importlib.util, sys\n    spec = importlib.util.find_spec('numpy')\n"
                "    root = spec.submodule_search_locations[0].rsplit('/numpy', 1)[0] + '/torch/_C'\n"
                "    import os\n    found = os.listdir(root.rsplit('/_C', 1)[0])\n"
                "    raise RuntimeError('torch files visible: ' + ' '.join(found[:5]))"),
}


def test_the_course_declares_it_for_notebook_01_only_where_it_holds():
    nb = nbformat.read(str(SOLUTION), as_version=4)
    assert sandbox.check_without(nb.metadata["dlcourse"]["graded_without"]) == ("torch",)
    for bad in ("torch", ["numpy"], ["dlcourse"], ["os.path"], [1]):
        with pytest.raises(ValueError):
            sandbox.check_without(bad)


def _mse_cheat(body: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "mse")
    head = cell.source.split('"""', 2)
    cell.source = '"""'.join(head[:2]) + '"""\n    ' + body + "\n"
    return nb


def test_graded_without_torch_the_solution_keeps_its_points_and_torch_earns_none(tmp_path):
    subs = tmp_path / "submitted"
    for student, nb in [("solved", nbformat.read(str(SOLUTION), as_version=4)),
                        *((name, _mse_cheat(body)) for name, body in CHEATS.items())]:
        (subs / student / AID).mkdir(parents=True)
        nbformat.write(nb, str(subs / student / AID / f"{AID}.ipynb"))
    out = tmp_path / "grading"
    pipeline.grade_batch(subs, out, fast=True, jobs=2)
    results = {r["student"]: r for r in json.loads((out / "results.json").read_text())}
    cells = {s: {c["grade_id"]: c for c in r["cells"]} for s, r in results.items()}
    assert all(c["score"] == c["points"] for c in cells["solved"].values()), cells["solved"]
    for name in CHEATS:
        mse = cells[name]["test_mse"]
        assert mse["score"] == 0, (name, mse)
        reason = " ".join(mse["reasons"])
        if name == "by_path":
            assert "torch files visible: __init__.py" in reason and "_C" not in reason.split("visible:")[1], reason
        else:
            assert "torch is not available while this notebook is graded" in reason, reason
        others = [c for g, c in cells[name].items() if g != "test_mse"]
        assert all(c["score"] == c["points"] for c in others), name
