"""grader.verdict: trusted judging of untrusted result bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcourse.checks import protocol
from dlcourse.reference import regression
from grader import verdict

MAX = 10_000_000
NAME = "regression.mse"


def _record(cases: list[dict], fn) -> dict[str, bytes]:
    results = [{"outputs": [np.asarray(fn(*c["args"]))]} for c in map(protocol.decode, cases)]
    data = json.dumps({"exercise": NAME, "results": [protocol.encode(r) for r in results]})
    return {verdict.results_file(NAME): data.encode()}


@pytest.fixture
def cases():
    return {NAME: verdict.hidden_cases(NAME, seed=7)}


def test_seed_depends_on_secret_student_and_exercise():
    a = verdict.seed_for(b"s1", "01", "alice", NAME)
    assert a == verdict.seed_for(b"s1", "01", "alice", NAME)
    assert a != verdict.seed_for(b"s2", "01", "alice", NAME)
    assert a != verdict.seed_for(b"s1", "01", "bob", NAME)


def test_inputs_json_is_plain_data_the_kernel_decodes_to_the_same_cases(cases):
    data = json.loads(verdict.inputs_json(cases))
    assert data["exercises"][NAME] == cases[NAME]
    first = protocol.decode(data["exercises"][NAME][0])
    assert isinstance(first["args"][0], np.ndarray)


def test_right_results_earn_the_points(cases):
    v = verdict.judge_cell("test_mse", 2, [NAME], cases, _record(cases[NAME], regression.mse), MAX)
    assert v.score == 2 and "passed" in v.reasons[0]
    assert v.text().startswith("Grader: 2 / 2 points.")


def test_wrong_results_earn_nothing(cases):
    wrong = _record(cases[NAME], lambda a, b: float(np.sum((a - b) ** 2)))
    v = verdict.judge_cell("test_mse", 2, [NAME], cases, wrong, MAX)
    assert v.score == 0 and "differ" in v.reasons[0]


@pytest.mark.parametrize("content", [
    b"not json", b"[]", b'{"exercise": "regression.mse"}', b'{"exercise": "other", "results": []}',
    b'{"exercise": "regression.mse", "results": [{"outputs": [{"__array__": {"dtype": "object"}}]}]}',
    b'{"exercise": "regression.mse", "results": "x"}', b"\xff\xfe\x00", b'{"a": "\\ud800"}',
])
def test_malformed_results_earn_nothing_and_never_crash(cases, content):
    v = verdict.judge_cell("test_mse", 2, [NAME], cases, {verdict.results_file(NAME): content}, MAX)
    assert v.score == 0 and v.reasons


def test_oversized_results_are_refused(cases):
    good = _record(cases[NAME], regression.mse)
    v = verdict.judge_cell("test_mse", 2, [NAME], cases, good, max_bytes=10)
    assert v.score == 0 and "too large" in v.reasons[0]


def test_missing_results_and_cells_without_hidden_tests(cases):
    v = verdict.judge_cell("test_mse", 2, [NAME], cases, {}, MAX)
    assert v.score == 0 and "no results" in v.reasons[0]
    v = verdict.judge_cell("test_x", 2, [], cases, {}, MAX)
    assert v.score == 0 and "no hidden_test" in v.reasons[0]


def test_too_few_results(cases):
    empty = {verdict.results_file(NAME): json.dumps({"exercise": NAME, "results": []}).encode()}
    assert verdict.judge_cell("t", 1, [NAME], cases, empty, MAX).score == 0


def test_the_protocol_names_come_from_the_library():
    assert verdict.GRADING_ENV_VAR == protocol.ENV_VAR
    assert (verdict.INPUTS, verdict.OUTPUTS) == (protocol.INPUTS, protocol.OUTPUTS)
    with pytest.raises(protocol.ProtocolError):
        verdict.results_file("../escape")


def test_a_protocol_folder_is_judged_like_the_sandboxs_results(tmp_path, cases):
    """The folder form the tests of the notebooks' tests use: inputs written, results read back."""
    verdict.write_inputs(tmp_path, cases)
    assert json.loads((tmp_path / verdict.INPUTS).read_text())["exercises"] == cases
    for name, data in _record(cases[NAME], regression.mse).items():
        (tmp_path / verdict.OUTPUTS / name).write_bytes(data)
    (tmp_path / verdict.OUTPUTS / "x.y.json").symlink_to("/etc/passwd")
    assert set(verdict.results_in(tmp_path, MAX)) == {verdict.results_file(NAME)}
    assert verdict.judge_cell("test_mse", 2, [NAME], cases, tmp_path).score == 2
    verdict.write_inputs(tmp_path, cases)   # a new run starts without the old results
    assert verdict.judge_cell("test_mse", 2, [NAME], cases, tmp_path).score == 0


# -- explain_failures: which earlier cell cost a test cell its points ----------------------------------------------

def _code(source: str, grade_id: str | None = None, solution: bool = False, error: tuple | None = None):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": not solution}
    if error:
        ename, evalue, traceback = error
        cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=traceback)]
    return cell


def _undefined(name: str) -> tuple:
    """A test cell's error as SaveVerdicts leaves it: the traceback cut to its last line."""
    return ("NameError", f"name '{name}' is not defined", [f"NameError: name '{name}' is not defined"])


SYNTAX = ("SyntaxError", "incomplete input (605628457.py, line 3)",
          ["  \x1b[36mCell\x1b[39m \x1b[32mIn[5]\x1b[39m\x1b[32m, line 3\x1b[39m\n    return np.linalg.solve(A, b\n",
           "\x1b[31mSyntaxError\x1b[39m: incomplete input\n"])
TOP_LEVEL = ("NameError", "name 'helper' is not defined",
             ["\x1b[31m-----\x1b[39m", "\x1b[31mNameError\x1b[39m    Traceback (most recent call last)",
              "\x1b[36mCell\x1b[39m \x1b[32mIn[7]\x1b[39m\x1b[32m, line 2\x1b[39m\n---> 2 x = helper()\n",
              "\x1b[31mNameError\x1b[39m: name 'helper' is not defined"])
NO_RESULTS = f"{NAME}: no results were recorded (the test cell did not reach hidden_test, or it was removed)"


def _notebook(*cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _cell(reason: str = NO_RESULTS) -> dict:
    return {"notebook": "nb", "grade_id": "test_mse", "score": 0.0, "points": 2.0, "reasons": [reason]}


def test_a_syntax_error_in_the_answer_cell_is_named_in_its_test_cells_verdict():
    nb = _notebook(_code("import numpy as np"),
                   _code("def mse(a, b):\n    A = a\n    return np.linalg.solve(A, b\n", "mse", True, SYNTAX),
                   _code("hidden_test('regression.mse', mse)", "test_mse", error=_undefined("mse")))
    cells = [_cell()]
    [got] = verdict.explain_failures(nb, cells)
    assert got["reasons"] == [f"{NAME}: cell `mse` (the answer cell above) does not run: SyntaxError at line 3: "
                              "incomplete input; nothing it defines exists, so this test could not run"]
    assert cells == [_cell()], "the cells given must not change"


def test_an_answer_cell_that_raised_before_its_definition_is_named_with_the_line():
    nb = _notebook(_code("x = 1\nx = helper()\ndef mse(a, b):\n    return 0.0\n", "mse", True, TOP_LEVEL),
                   _code("def other():\n    pass\n", "other", True),
                   _code("hidden_test('regression.mse', mse)", "test_mse", error=_undefined("mse")))
    [got] = verdict.explain_failures(nb, [_cell()])
    assert got["reasons"] == [f"{NAME}: cell `mse` (an answer cell above) stopped at line 2 with NameError: name "
                              "'helper' is not defined, before it defined `mse`, so this test could not run"]


def test_a_function_that_calls_a_missing_one_says_which_cell_did_not_define_it():
    nb = _notebook(_code("def mse_gradient(X):\n    return X\n", "mse_gradient", True, SYNTAX),
                   _code("def descent(X):\n    return mse_gradient(X)\n", "descent", True),
                   _code("hidden_test('regression.descent', descent)", "test_mse"))
    judged = f"{NAME}: case 1: your function raised NameError: name 'mse_gradient' is not defined (line 2)"
    [got] = verdict.explain_failures(nb, [_cell(judged)])
    assert got["reasons"] == [f"{judged}; cell `mse_gradient` (an answer cell above) does not run: SyntaxError at "
                              "line 3: incomplete input; nothing it defines exists, so `mse_gradient` does not exist"]


@pytest.mark.parametrize("case", ["defines another name", "fails after the test", "did not fail"])
def test_only_a_cell_that_really_failed_above_and_defines_the_name_is_named(case):
    answer = {"defines another name": _code("def mean(a):\n    return a\n", "mean", True, SYNTAX),
              "fails after the test": None,
              "did not fail": _code("def mse(a, b):\n    return 0\n", "mse", True)}[case]
    cells = [c for c in (_code("import numpy as np"), answer) if c is not None]
    cells.append(_code("hidden_test('regression.mse', mse)", "test_mse", error=_undefined("mse")))
    if case == "fails after the test":
        cells.append(_code("def mse(a, b):\n    return 0\n", "mse", True, SYNTAX))
    [got] = verdict.explain_failures(_notebook(*cells), [_cell()])
    assert got["reasons"] == [f"{NAME}: this test cell stopped with NameError: name 'mse' is not defined before it "
                              "reached hidden_test, so no results were recorded"]
    assert "cell `" not in got["reasons"][0]


def test_reasons_that_no_failed_cell_explains_stay_as_they_were():
    nb = _notebook(_code("def mse(a, b):\n    return 0\n", "mse", True, SYNTAX),
                   _code("hidden_test('regression.mse', mse)", "test_mse"))
    plain = [_cell(), _cell(f"{NAME}: random case 1: your result differs"), _cell(f"{NAME}: passed all 7 hidden cases")]
    assert verdict.explain_failures(nb, plain) == plain
    other = {**_cell(), "grade_id": "test_unknown"}    # a cell the notebook does not have
    assert verdict.explain_failures(nb, [other]) == [other]
