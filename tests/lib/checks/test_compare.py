"""dlcourse.checks.compare: comparisons that fail with messages pointing at the mistake."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import checks
from dlcourse.checks.compare import compare, compare_outputs, flatten_outputs


def test_rel_error():
    assert checks.rel_error(np.ones(3), np.ones(3)) == 0
    assert checks.rel_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1)
    with pytest.raises(ValueError, match="equal shapes"):
        checks.rel_error(np.ones(2), np.ones(3))


def test_match_passes_and_mismatch_names_the_first_bad_value():
    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0])).ok
    r = compare(np.array([1.0, 2.5]), np.array([1.0, 2.0]), name="out")
    assert not r.ok and "index (1,)" in r.message and "got 2.5" in r.message


@pytest.mark.parametrize(("actual", "expected", "hint"), [
    (np.ones((3, 2)), np.ones((2, 3)), "transposed"),
    (np.ones(6), np.ones((2, 3)), "reshape"),
    (np.ones((4, 1)), np.ones(4), "extra dimension of size 1"),
    (np.ones(3), np.ones((5, 3)), "batch"),
    (np.float64(1.0), np.ones(3), "single number"),
])
def test_shape_mistakes_are_named(actual, expected, hint):
    r = compare(actual, expected)
    assert not r.ok and hint in r.message


@pytest.mark.parametrize(("factor", "hint"), [(-1, "sign is flipped"), (2, "factor 2"), (0.5, "factor 2"),
                                              (10, "missing 1/N"), (0.1, "divide by N")])
def test_value_mistakes_are_named(factor, hint):
    e = np.array([1.0, -2.0, 3.0])
    r = compare(e * factor, e)
    assert not r.ok and hint in r.message


def test_nan_and_none_and_non_numbers():
    assert "NaN" in compare(np.array([np.nan]), np.array([1.0])).message
    assert "return" in compare(None, np.array([1.0])).message
    assert "numbers" in compare(np.array(["a"]), np.array([1.0])).message


def test_assert_close_raises_unless_grading(monkeypatch, tmp_path, capsys):
    with pytest.raises(AssertionError, match="differ"):
        checks.assert_close(np.array([1.0]), np.array([2.0]))
    monkeypatch.setenv("DLCOURSE_GRADING_DIR", str(tmp_path))
    checks.assert_close(np.array([1.0]), np.array([2.0]))  # informs only: the grader judges
    assert "[visible check]" in capsys.readouterr().out


def test_flatten_outputs():
    out = flatten_outputs((np.ones(2), 3.0))
    assert [o.shape for o in out] == [(2,), ()]
    assert len(flatten_outputs([1.0, 2.0])) == 1  # a list of numbers is one vector
    with pytest.raises(TypeError, match="None"):
        flatten_outputs((np.ones(2), None))
    with pytest.raises(TypeError, match="not numeric"):
        flatten_outputs({"a": 1})


def test_compare_outputs_counts_and_names():
    r = compare_outputs([np.ones(2)], [np.ones(2), np.ones(1)], names=["dx", "dw"])
    assert not r.ok and "dx, dw" in r.message
    r = compare_outputs([np.ones(2), np.zeros(1)], [np.ones(2), np.ones(1)], names=["dx", "dw"])
    assert not r.ok and r.message.startswith("dw")


def test_the_relative_error_in_a_message_is_relative_to_the_expected_value():
    r = compare(np.float64(5.0), np.float64(5 / 3), name="loss")
    assert "relative error 2.00e+00" in r.message  # |5 - 1.667| / 1.667, not / (5 + 1.667)
    r = compare(np.array([0.0, 0.5]), np.array([0.0, 0.0]), name="g")
    assert "absolute error 5.00e-01" in r.message  # relative to 0 means nothing


@pytest.mark.parametrize(("actual", "expected"), [
    (np.float64(3.0), np.float64(1.0)),                       # one number: any wrong value is "k times" it
    (np.array([1.0 + 2e-6, 2.0 + 4e-6]), np.array([1.0, 2.0])),  # a ratio of about 1 is rounding, not a factor
    (np.array([2.0, 3.0]), np.array([1.0, 1.0])),             # not a constant ratio
])
def test_the_constant_factor_hint_fires_only_for_a_real_constant_factor(actual, expected):
    r = compare(actual, expected, rtol=1e-9, atol=0)
    assert not r.ok and "times the expected one" not in r.message


def test_the_constant_factor_hint_names_a_missing_mean():
    r = compare(np.array([4.0, 8.0, 12.0]), np.array([1.0, 2.0, 3.0]))
    assert "4 times the expected one" in r.message and "1/N" in r.message


def test_passed_never_follows_a_failed_visible_check_while_grading(monkeypatch, capsys):
    import importlib

    from dlcourse.checks import protocol

    # what failed checks of other tests left behind (a kernel clears it at every new cell)
    importlib.import_module("dlcourse.checks.compare")._failed_while_grading.clear()
    checks.passed("mse")
    assert capsys.readouterr().out == "mse: all visible tests passed\n"
    monkeypatch.setenv(protocol.ENV_VAR, "/nonexistent")  # grading: a failed check prints instead of raising
    checks.assert_close(np.array([1.0]), np.array([2.0]), name="loss")
    checks.passed("mse")
    out = capsys.readouterr().out
    assert "[visible check] loss" in out and "mse: 1 visible test(s) failed (see above)" in out
    assert "all visible tests passed" not in out
    checks.passed("sigmoid")  # the next cell starts afresh
    assert capsys.readouterr().out == "sigmoid: all visible tests passed\n"
