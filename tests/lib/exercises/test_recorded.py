"""dlcourse.exercises.recorded: the hand-out judges visible cases from records, as the live descriptions do."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.exercises import recorded


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("visible")
    recorded.write_records(exercises.all_exercises(), folder)
    return folder


def _reference_results(ex, cases):
    return [graded.run_case(ex.reference, c) for c in cases]


@pytest.mark.parametrize("name", sorted(exercises.all_exercises()))
def test_a_record_accepts_the_reference_like_the_description(records, name):
    live = exercises.get(name)
    rec = recorded.load(name, records)
    cases = rec.seeded_cases(recorded.VISIBLE_SEED)
    assert [c["label"] for c in cases] == [c["label"] for c in live.seeded_cases(recorded.VISIBLE_SEED)]
    for case, result in zip(cases, _reference_results(live, cases), strict=True):
        assert live.judge(case, result).ok
        assert rec.judge(case, result).ok, rec.judge(case, result).message


@pytest.mark.parametrize("name", sorted(n for n, ex in exercises.all_exercises().items()
                                         if ex.mistakes and ex.handout_mode == "outputs"))
def test_a_record_rejects_and_names_the_known_mistakes(records, name):
    live, rec = exercises.get(name), recorded.load(name, records)
    cases = rec.seeded_cases(recorded.VISIBLE_SEED)
    for mistake in live.mistakes:
        results = [graded.run_case(mistake.fn, c) for c in cases]
        live_fails = [not live.judge(c, r).ok for c, r in zip(cases, results, strict=True)]
        rec_fails = [not rec.judge(c, r).ok for c, r in zip(cases, results, strict=True)]
        assert live_fails == rec_fails, mistake.hint
        for c, r, bad in zip(cases, results, rec_fails, strict=True):
            if bad:  # the same hint as the live description gives
                assert rec.diagnose(c, r) == live.diagnose(c, r), mistake.hint


def test_a_statistical_exercise_is_judged_by_its_moments(tmp_path):
    from dlcourse.checks import Comparison
    from dlcourse.exercises import Case, Exercise

    ex = Exercise("t.noise", reference=lambda std, rng: rng.normal(0.0, std, (400, 300)),
                  cases=lambda rng: [Case((0.5, {"__rng__": 7}), label="std 0.5")],
                  check=lambda case, outputs: Comparison(True), handout="moments")
    rec = recorded.RecordedExercise(recorded.record(ex))
    (case,) = rec.seeded_cases(0)
    good = graded.run_case(lambda std, rng: std * rng.standard_normal((400, 300)), case)
    assert rec.judge(case, good).ok
    wide = graded.run_case(lambda std, rng: 2 * std * rng.standard_normal((400, 300)), case)
    assert not rec.judge(case, wide).ok and "standard deviation" in rec.judge(case, wide).message


def test_without_descriptions_the_visible_check_uses_the_records(records, monkeypatch):
    """As in the hand-out: no topic modules, the recorded cases judge."""
    from dlcourse.reference import regression

    monkeypatch.setattr(exercises, "topics", lambda: [])
    monkeypatch.setattr(exercises, "get", lambda name: (_ for _ in ()).throw(KeyError(name)))
    monkeypatch.setattr(recorded, "VISIBLE", records)
    monkeypatch.setattr(recorded.load, "__defaults__", (records,))
    assert graded.check_against_reference("regression.mse", regression.mse) > 0
    with pytest.raises(AssertionError, match="Likely mistake"):
        graded.check_against_reference("regression.mse", lambda y_hat, y: float(np.sum((y_hat - y) ** 2)))
