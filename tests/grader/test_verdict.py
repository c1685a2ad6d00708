"""grader.verdict and grader.hidden: trusted judging of untrusted result files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlcourse.checks import protocol
from dlcourse.reference import regression
from grader import hidden, verdict

REPO = Path(__file__).resolve().parents[2]
SOLUTION = REPO / "solutions" / "01_regression" / "01_regression.ipynb"


def _record(pdir: Path, name: str, fn) -> None:
    cases = json.loads((pdir / protocol.INPUTS).read_text())["exercises"][name]
    results = []
    for c in map(protocol.decode, cases):
        results.append({"outputs": [np.asarray(fn(*c["args"]))]})
    (pdir / protocol.OUTPUTS / f"{name}.json").write_text(
        json.dumps({"exercise": name, "results": [protocol.encode(r) for r in results]}))


@pytest.fixture
def pdir(tmp_path):
    cases = {"regression.mse": verdict.hidden_cases("regression.mse", seed=7)}
    verdict.write_inputs(tmp_path, cases)
    return tmp_path, cases


def test_seed_depends_on_secret_student_and_exercise():
    a = verdict.seed_for(b"s1", "01", "alice", "regression.mse")
    assert a == verdict.seed_for(b"s1", "01", "alice", "regression.mse")
    assert a != verdict.seed_for(b"s2", "01", "alice", "regression.mse")
    assert a != verdict.seed_for(b"s1", "01", "bob", "regression.mse")


def test_right_results_earn_the_points(pdir):
    d, cases = pdir
    _record(d, "regression.mse", regression.mse)
    v = verdict.judge_cell("test_mse", 2, ["regression.mse"], cases, d)
    assert v.score == 2 and "passed" in v.reasons[0]


def test_wrong_results_earn_nothing(pdir):
    d, cases = pdir
    _record(d, "regression.mse", lambda a, b: float(np.sum((a - b) ** 2)))
    v = verdict.judge_cell("test_mse", 2, ["regression.mse"], cases, d)
    assert v.score == 0 and "differ" in v.reasons[0]


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"exercise": "regression.mse"}', '{"exercise": "other", "results": []}',
    '{"exercise": "regression.mse", "results": [{"outputs": [{"__array__": {"dtype": "object"}}]}]}',
    '{"exercise": "regression.mse", "results": "x"}',
])
def test_malformed_results_earn_nothing_and_never_crash(pdir, content):
    d, cases = pdir
    (d / protocol.OUTPUTS / "regression.mse.json").write_text(content)
    v = verdict.judge_cell("test_mse", 2, ["regression.mse"], cases, d)
    assert v.score == 0 and v.reasons


def test_missing_results_and_cells_without_hidden_tests(pdir):
    d, cases = pdir
    v = verdict.judge_cell("test_mse", 2, ["regression.mse"], cases, d)
    assert v.score == 0 and "no results" in v.reasons[0]
    v = verdict.judge_cell("test_x", 2, [], cases, d)
    assert v.score == 0 and "no hidden_test" in v.reasons[0]


def test_too_few_results(pdir):
    d, cases = pdir
    (d / protocol.OUTPUTS / "regression.mse.json").write_text(json.dumps({"exercise": "regression.mse", "results": []}))
    assert verdict.judge_cell("t", 1, ["regression.mse"], cases, d).score == 0


def test_graded_cells_of_the_first_notebook():
    cells = hidden.graded_test_cells(SOLUTION)
    assert len(cells) >= 5
    for gid, cell in cells.items():
        assert cell["exercises"], f"{gid} has no hidden_test: it could not be graded safely"
        assert cell["points"] > 0


def test_hidden_test_names_are_read_with_ast():
    src = "%matplotlib inline\nchecks.hidden_test('a.b', f)\nhidden_test(\"c.d\", g)\n# hidden_test('e.f', h)"
    assert hidden._hidden_test_names(src) == ["a.b", "c.d"]
