"""Every solution notebook executes as an instructor runs it, and every figure its text states is what it computes.

One execution per notebook (the slow part), then two checks on it: no cell raised (every visible and hidden test
passes against the reference), and the figures its markdown marks (``<span data-figure="name">text</span>``) are the
texts its code recorded with ``checks.figure(name, value, fmt)`` (dlcourse.checks.figures).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from dlcourse.checks.figures import stated_in

REPO = Path(__file__).resolve().parents[2]
_SENTINEL = "__RECORDED_FIGURES__"


def _solution_notebooks() -> list[Path]:
    return sorted((REPO / "solutions").rglob("*.ipynb"))


def _normal(text: str) -> str:
    """Figures compare without spaces, markdown emphasis or non-breaking spaces: "97.8 %" == "97.8%"."""
    return re.sub(r"[\s\u00a0\u202f*_]", "", text)


def execute(path: Path) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """The executed notebook, and the figures its kernel recorded."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\nfrom dlcourse.checks import figures\n"
        f"print({_SENTINEL!r} + json.dumps(figures.recorded()))"))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    last = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []) if o.get("output_type") == "stream")
    recorded = json.loads(last.split(_SENTINEL, 1)[1]) if _SENTINEL in last else {}
    nb.cells.pop()
    return nb, recorded


def stated(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [pair for cell in nb.cells if cell.cell_type == "markdown" for pair in stated_in(cell.source)]


def figure_problems(nb: nbformat.NotebookNode, recorded: dict[str, str]) -> list[str]:
    """What is wrong between the figures the text states and those the code computed (empty: nothing)."""
    problems = []
    pairs = stated(nb)
    for name, text in pairs:
        if name not in recorded:
            problems.append(f"the text states {name} = {text!r}, but no cell computes it (checks.figure)")
        elif _normal(text) != _normal(recorded[name]):
            problems.append(f"the text states {name} = {text!r}, but an execution computed {recorded[name]!r}")
    for name in sorted(set(recorded) - {n for n, _ in pairs}):
        problems.append(f"{name} = {recorded[name]!r} is computed but the text never states it")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("path", _solution_notebooks(), ids=lambda p: p.parent.name)
def test_solution_notebook_executes_and_states_what_it_computes(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb, recorded = execute(path)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, [f"{e.get('ename')}: {e.get('evalue')}" for e in errors]
    problems = figure_problems(nb, recorded)
    assert not problems, "\n".join(problems)


def test_a_figure_that_drifted_is_reported():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('It reaches <span data-figure="acc">97.8 %</span> and '
                                      '<span data-figure="loss">0.12</span>.'),
    ])
    assert figure_problems(nb, {"acc": "97.8%", "loss": "0.12"}) == []
    problems = figure_problems(nb, {"acc": "97.2%", "extra": "1"})
    assert any("acc" in p and "97.2%" in p for p in problems)
    assert any("loss" in p and "no cell computes it" in p for p in problems)
    assert any("extra" in p and "never states it" in p for p in problems)
