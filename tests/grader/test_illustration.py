"""grader.illustration, the fast grading mode: which tagged cells may be skipped (a synthetic notebook), that the
submission cannot choose them, and, end to end, that grading every solution notebook with and without the mode gives
the same result for every graded cell."""

from __future__ import annotations

import copy
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from grader import illustration
from grader.execute import SECRET_FILE
from grader.pipeline import grade_batch, load_results
from grader.sandbox import bwrap_available
from grader.settings import ILLUSTRATION_TAG, Limits

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"


def _code(source: str, tagged: bool = False, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    if tagged:
        cell.metadata["tags"] = [ILLUSTRATION_TAG]
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "grade": False, "solution": False,
                                     **nbgrader}
    return cell


def _synthetic():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _code("import numpy as np"),                                                    # 0
        _code("def f(x):\n    return 2 * x", grade_id="f", solution=True),            # 1 an answer
        _code("%timeit f(1)", tagged=True),                                            # 2 a magic
        _code("history = [f(i) for i in range(3)]", tagged=True),                      # 3 read by 7: runs
        _code("fig = history[0]\nshow = fig", tagged=True),                            # 4 read only by 5 (skipped)
        _code("print(show)", tagged=True),                                             # 5 binds nothing
        _code("np.random.seed(0)\ntorch.set_num_threads(2)", tagged=True),            # 6 a global setting
        _code("total = sum(history)", tagged=False),                                   # 7 runs
        _code("model = {}\n", tagged=False),                                           # 8
        _code("model['w'] = 1", tagged=True),                                          # 9 changes model, read by 11
        _code("assert f(2) == 4", tagged=True, grade_id="test_f", grade=True, points=1),  # 10 a test
        _code("print(model)"),                                                         # 11
        _code("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])", tagged=True),  # 12
    ]
    return nb


def test_only_tagged_cells_that_nothing_later_reads_are_skipped():
    verdicts = illustration.check(_synthetic())
    assert illustration.skippable(_synthetic()) == [4, 5, 12]
    assert "cell 7 reads history" in verdicts[3]
    assert "set_num_threads, a process-wide setting" in verdicts[6]
    assert "magic" in verdicts[2]
    assert "cell 11 reads model" in verdicts[9]
    assert "nbgrader cell" in verdicts[10]


def test_seeds_and_draws_may_be_skipped_global_settings_only_inside_a_with_block():
    """The runner reseeds the global generators before every cell (tests/grader/test_runner.py proves it), so
    seeding is no reason to run a cell; a process-wide setting is, unless a ``with`` block undoes it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [_code("np.random.seed(0); torch.manual_seed(0); x = np.random.rand()", tagged=True),
                _code("with threadpool_limits(limits=1):\n    y = 1", tagged=True),
                _code("torch.set_default_dtype(torch.float64)", tagged=True),
                _code("np.seterr(all='raise')", tagged=True),
                _code("torch.set_num_threads(1)", tagged=True),
                _code("torch.set_num_threads(4)", tagged=True),
                _code("print(1)")]
    verdicts = illustration.check(nb)
    assert verdicts[0] == "" and verdicts[1] == ""
    assert "set_default_dtype" in verdicts[2] and "seterr" in verdicts[3]
    assert verdicts[4] == "" and "set_num_threads" in verdicts[5]   # one thread: the grader's kernel has one


def test_a_later_cell_that_cannot_be_read_is_taken_to_read_everything():
    nb = _synthetic()
    nb.cells.append(_code("!ls  # a shell escape: what it reads is unknown"))
    assert illustration.skippable(nb) == [5]


def test_the_source_decides_what_is_skipped_never_the_submission():
    source = _synthetic()
    submitted = copy.deepcopy(source)
    for cell in submitted.cells:
        cell.metadata.pop("tags", None)                    # the student removed every tag: skipped all the same
    submitted.cells[5].source = "print(show, 'changed')"   # a changed cell runs
    submitted.cells[7].metadata["tags"] = [ILLUSTRATION_TAG]   # a tag of the student's own: runs
    before = copy.deepcopy(submitted)
    fast = illustration.without_illustration(submitted, source)
    assert submitted == before, "the notebook nbgrader keeps was changed"
    assert len(fast.cells) == len(submitted.cells)
    skipped = [i for i, c in enumerate(fast.cells) if c.source == illustration.SKIPPED]
    assert skipped == [4, 12]


def test_proposals_for_the_course_never_touch_nbgrader_cells():
    for path in sorted(SOLUTIONS.glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for i in illustration.propose(nb):
            assert nb.cells[i].cell_type == "code" and not nb.cells[i].metadata.get("nbgrader"), (path.name, i)


# -- end to end ----------------------------------------------------------------------------------------

def _tagged_solutions(dest: Path) -> Path:
    """solutions/ with every cell ``propose`` finds tagged (what the instructor would tag)."""
    shutil.copytree(SOLUTIONS, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in dest.glob("*/*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for i in illustration.propose(nb):
            nb.cells[i].metadata["tags"] = [ILLUSTRATION_TAG]
        nbformat.write(nb, str(path))
    return dest


@pytest.mark.slow
def test_grading_every_solution_with_and_without_the_fast_mode_gives_the_same_results(tmp_path):
    if not bwrap_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("bubblewrap is required in CI (.ci/run installs it)")
        pytest.skip("bubblewrap (bwrap) is not installed")
    source = _tagged_solutions(tmp_path / "source")
    subs = tmp_path / "submitted"
    for path in source.glob("*/*.ipynb"):
        (subs / "alice" / path.parent.name).mkdir(parents=True)
        shutil.copy(path, subs / "alice" / path.parent.name / path.name)
    secret = os.urandom(32)
    seconds, results = {}, {}
    for mode in ("full", "fast"):
        out = tmp_path / mode
        out.mkdir()
        (out / SECRET_FILE).write_bytes(secret)   # the same hidden cases both ways
        start = time.monotonic()
        done = grade_batch(subs, out, source=source, limits=Limits(cell_timeout=300, notebook_timeout=900),
                           jobs=2, fast=mode == "fast")
        seconds[mode] = time.monotonic() - start
        assert [s.status for s in done] == ["graded"] * len(list(source.glob("*/*.ipynb"))), [
            (s.assignment, s.reason) for s in done]
        results[mode] = {(r["assignment"], c["notebook"], c["grade_id"]): (c["score"], c["points"], c["reasons"])
                         for r in load_results(out) for c in r["cells"]}
    assert results["fast"] == results["full"]
    assert all(score == points for score, points, _ in results["full"].values()), results["full"]
    skipped = [c for path in (tmp_path / "fast" / "autograded" / "alice").glob("*/*.ipynb")
               for c in nbformat.read(str(path), as_version=4).cells if c.source == illustration.SKIPPED]
    assert not skipped, "the skipped cells must not reach the gradebook's copy or the feedback"
    print(f"graded every solution in {seconds['full']:.0f} s, in the fast mode in {seconds['fast']:.0f} s")
