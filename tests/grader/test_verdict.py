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
