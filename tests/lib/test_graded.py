"""dlcourse.graded: hidden_test judges while a student works, records while grading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.checks import protocol
from dlcourse.reference import regression


def test_every_exercise_accepts_its_reference():
    for name, ex in exercises.all_exercises().items():
        if ex.check is None:  # statistical exercises are covered by their notebook's tests
            assert graded.hidden_test(name, ex.reference) == len(list(ex.cases(np.random.default_rng(1234)))) > 0


def test_regression_reference_functions_are_the_exercises_references():
    for name in ("mse", "normal_equations", "sigmoid"):
        assert graded.hidden_test(f"regression.{name}", getattr(regression, name)) > 0


def test_a_known_mistake_is_named():
    with pytest.raises(AssertionError, match="Likely mistake: you summed"):
        graded.hidden_test("regression.mse", lambda y_hat, y: float(np.sum((y_hat - y) ** 2)))


def test_a_stub_says_not_implemented():
    def stub(*args):
        raise NotImplementedError("mse")

    with pytest.raises(AssertionError, match="not implemented yet"):
        graded.hidden_test("regression.mse", stub)


def test_the_student_function_cannot_change_the_reference_inputs():
    def mutating(y_hat, y):
        y_hat[:] = 0
        y[:] = 0
        return 0.0

    with pytest.raises(AssertionError):
        graded.hidden_test("regression.mse", mutating)


def test_unknown_exercise():
    with pytest.raises(KeyError, match="no exercise"):
        exercises.get("regression.nope")
    with pytest.raises(KeyError, match="topic"):
        exercises.get("nope.f")


def test_grading_mode_records_and_never_raises(monkeypatch, tmp_path):
    monkeypatch.setenv(protocol.ENV_VAR, str(tmp_path))
    cases = [{"args": [np.ones(3), np.zeros(3)], "kwargs": {}}]
    (tmp_path / protocol.INPUTS).write_text(json.dumps(
        {"exercises": {"regression.mse": [protocol.encode(c) for c in cases]}}))

    def broken(y_hat, y):
        raise ZeroDivisionError("oops")

    assert graded.hidden_test("regression.mse", broken) == 1
    data = protocol.decode(json.loads((tmp_path / protocol.OUTPUTS / "regression.mse.json").read_text()))
    assert data["results"][0]["error"].startswith("ZeroDivisionError: oops")
    # check_against_reference is silent while grading: the grader judges
    assert graded.check_against_reference("regression.mse", broken) == 0


def test_a_custom_check_replaces_the_elementwise_comparison():
    from dlcourse.checks import Comparison
    from dlcourse.exercises import Case, Exercise

    def judge(case, outputs):
        (sample,) = outputs
        ok = sample.shape == (1000,) and abs(sample.std() - case["args"][0]) < 0.1
        return Comparison(ok, "" if ok else f"std {sample.std():.3f}, expected {case['args'][0]}")

    ex = Exercise("t.noise", reference=lambda s: None, cases=lambda rng: [Case((1.0,))], check=judge)
    case = {"args": [1.0], "kwargs": {}, "label": "c"}
    rng = np.random.default_rng(0)
    assert ex.judge(case, {"outputs": [rng.standard_normal(1000)]}).ok
    bad = ex.judge(case, {"outputs": [2 * rng.standard_normal(1000)]})
    assert not bad.ok and bad.message.startswith("c: std")


# -- side effects and missing values are named (the whole contract, not only the numbers) -------------------

def test_an_argument_changed_in_place_is_named_even_when_the_result_is_right():
    def mse_in_place(y_hat, y):
        y_hat -= y  # right value, but the caller's predictions are gone
        return float(np.mean(y_hat ** 2))

    with pytest.raises(AssertionError, match="changed argument `y_hat` in place"):
        graded.hidden_test("regression.mse", mse_in_place)


def test_the_recorded_result_says_which_argument_changed():
    def f(a, b):
        b[0] = 7.0
        return a + 1

    result = graded.run_case(f, {"args": [np.zeros(2), np.zeros(2)], "kwargs": {}})
    assert result["changed"] == ["b"]
    clean = graded.run_case(lambda a, b: a + b, {"args": [np.zeros(2), np.zeros(2)], "kwargs": {}})
    assert clean["changed"] == []


def test_an_argument_the_exercise_allows_to_change_is_not_a_mistake():
    from dlcourse.exercises import Case, Exercise

    ex = Exercise("t.state", reference=lambda x, state: x * 2, cases=lambda rng: [Case((np.ones(3), {"n": 0}))],
                  may_change=("state",))
    case = ex.seeded_cases(0)[0]

    def f(x, state):
        state["n"] += 1
        return x * 2

    assert ex.judge(case, graded.run_case(f, case)).ok

    def g(x, state):
        x *= 2
        return x

    verdict = ex.judge(case, graded.run_case(g, case))
    assert not verdict.ok and "`x`" in verdict.message


def test_drawing_from_the_given_generator_is_not_a_change():
    result = graded.run_case(lambda rng: rng.standard_normal(3), {"args": [np.random.default_rng(0)], "kwargs": {}})
    assert result["changed"] == []


def test_a_missing_return_names_the_output_it_concerns():
    from dlcourse.exercises import Case, Exercise

    ex = Exercise("t.pair", reference=lambda x: (x, 2 * x), cases=lambda rng: [Case((np.ones(2),))],
                  names=("dx", "dw"))
    case = ex.seeded_cases(0)[0]
    verdict = ex.judge(case, graded.run_case(lambda x: (x, None), case))
    assert not verdict.ok
    assert "returned None for `dw` (output 2)" in verdict.message
    assert "raised" not in verdict.message  # the student's function did not raise: never say it did


# -- hidden state, ignored seeds, float32 ---------------------------------------------------------------

def _exercise(**fields):
    from dlcourse.exercises import Case, Exercise

    defaults = dict(name="t.ex", reference=lambda x, rng: x + rng.standard_normal(x.shape),
                    cases=lambda rng: [Case((np.ones(4), {"__rng__": 3}))])
    return Exercise(**{**defaults, **fields})


def test_a_shared_mutable_default_is_caught_by_the_second_call():
    from dlcourse.exercises import Case

    ex = _exercise(reference=lambda w, config=None: w * 2,
                   cases=lambda rng: [Case((np.ones(3),))])
    case = ex.seeded_cases(0)[0]

    def leaky(w, config={}):  # noqa: B006 (the mistake under test)
        config["calls"] = config.get("calls", 0) + 1
        return w * 2 * config["calls"]

    verdict = ex.judge(case, graded.run_case(leaky, case))
    assert not verdict.ok and "hidden state" in verdict.message
    assert ex.judge(case, graded.run_case(lambda w, config=None: w * 2, case)).ok


def test_drawing_from_np_random_instead_of_the_rng_is_caught():
    ex = _exercise()
    case = ex.seeded_cases(0)[0]
    assert ex.judge(case, graded.run_case(lambda x, rng: x + rng.standard_normal(x.shape), case)).ok
    global_random = ex.judge(case, graded.run_case(lambda x, rng: x + np.random.standard_normal(x.shape), case))  # noqa: NPY002 (the mistake under test)
    assert not global_random.ok and "hidden state" in global_random.message


def test_ignoring_the_rng_for_a_fixed_seed_of_ones_own_is_caught():
    from dlcourse.checks import Comparison

    # A statistical check accepts any normal sample; only the reseeded call shows the rng is ignored.
    ex = _exercise(check=lambda case, outputs: Comparison(True))
    case = ex.seeded_cases(0)[0]
    verdict = ex.judge(case, graded.run_case(
        lambda x, rng: x + np.random.default_rng(0).standard_normal(x.shape), case))
    assert not verdict.ok and "rng argument" in verdict.message


def test_a_float32_result_is_named_as_such():
    from dlcourse.exercises import Case

    ex = _exercise(reference=lambda x: np.exp(x), cases=lambda rng: [Case((np.linspace(-1, 1, 7),))], rtol=1e-9)
    case = ex.seeded_cases(0)[0]
    verdict = ex.judge(case, graded.run_case(lambda x: np.exp(x.astype(np.float32)), case))
    assert not verdict.ok and "float32 precision" in verdict.message
    wrong = ex.judge(case, graded.run_case(lambda x: np.exp(x).astype(np.float32) + 1, case))
    assert not wrong.ok and "precision" not in wrong.message  # a wrong value is not blamed on float32


def test_an_exercise_that_requires_float64_rejects_float32_within_the_tolerance():
    from dlcourse.exercises import Case

    ex = _exercise(reference=lambda x: x * 2, cases=lambda rng: [Case((np.linspace(-1, 1, 5),))],
                   rtol=1e-3, float64=True, names=("y",))
    case = ex.seeded_cases(0)[0]
    verdict = ex.judge(case, graded.run_case(lambda x: (x * 2).astype(np.float32), case))
    assert not verdict.ok and "your y has float32 precision" in verdict.message
    assert ex.judge(case, graded.run_case(lambda x: x * 2, case)).ok
