"""dlcourse.exercises.backprop: the graded exercises of notebook 02 accept the reference,
reject every listed mistake on some case, and name it when they do."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.checks.programs import run_program
from dlcourse.checks.protocol import decode, encode
from dlcourse.graded import run_case
from dlcourse.reference.autograd import Value

pytestmark = pytest.mark.notebook("02_backprop")

NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("backprop."))


def cases(name: str, seed: int = 0) -> list[dict]:
    ex = exercises.get(name)
    return [decode(encode(c.to_data())) for c in ex.cases(np.random.default_rng(seed))]


def test_the_notebook_has_at_least_six_exercises():
    assert len(NAMES) >= 6


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert ex.mistakes, f"{name} lists no known mistakes"
    all_cases = cases(name)
    for mistake in ex.mistakes:
        failing = [c for c in all_cases if not ex.judge(c, run_case(mistake.fn, c)).ok]
        assert failing, f"{name}: no case catches the mistake {mistake.hint!r}"
        hints = {ex.diagnose(c, run_case(mistake.fn, c)) for c in failing}
        assert any("Likely mistake" in h for h in hints), f"{name}: {mistake.hint!r} is never named"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cases_are_seeded(seed):
    for name in NAMES:
        a, b = cases(name, seed), cases(name, seed)
        assert [c["label"] for c in a] == [c["label"] for c in b]


def test_the_deep_chain_is_deeper_than_the_recursion_limit():
    deep = [c for c in cases("backprop.topological_order") if "deep" in c["label"]]
    assert deep and len(deep[0]["args"][1]) > 3 * sys.getrecursionlimit()


def test_creation_order_and_backward_agree_on_every_value_case():
    for case in cases("backprop.value_ops") + cases("backprop.topological_order"):
        by_creation = run_program(Value, *case["args"])
        by_backward = run_program(Value, *case["args"], order="backward")
        np.testing.assert_allclose(by_creation[1], by_backward[1], rtol=1e-12, atol=1e-15)
