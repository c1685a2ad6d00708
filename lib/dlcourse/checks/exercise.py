"""The graded part of a test cell, with its double life.

``hidden_test("regression.mse", mse)`` is the one line a graded test cell
needs (inside ``### BEGIN HIDDEN TESTS`` in solutions/):

* While someone works in JupyterLab (no grader around), it draws seeded cases
  from the exercise's description, calls the function and the reference on
  each, and raises an ``AssertionError`` that teaches: which case, which
  output, and which known mistake the result looks like.
* Inside a kernel started by the grader, it judges nothing: it reads the
  grader's hidden cases, calls the student's function on each, and writes
  what came back as plain data for the grader to compare in its own process.

``check_against_reference`` is the visible twin: the same comparison on a
few seeded cases, for the visible part of a test cell; it never records.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks import protocol
from dlcourse.checks.compare import Comparison, _fail, compare_outputs, flatten_outputs

__all__ = ["check_against_reference", "hidden_test", "judge_case", "run_case"]

MAX_ERROR_CHARS = 2000


def run_case(fn: Callable[..., Any], case: dict[str, Any]) -> dict[str, Any]:
    """Call ``fn`` on one decoded case; ``{"outputs": [...]}`` or ``{"error": text}``."""
    args = copy.deepcopy(case.get("args", []))
    kwargs = copy.deepcopy(case.get("kwargs", {}))
    try:
        result = fn(*args, **kwargs)
        return {"outputs": flatten_outputs(result)}
    except Exception as exc:  # the student's code may raise anything
        return {"error": _describe(exc)}


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (line {last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"[:MAX_ERROR_CHARS]


def judge_case(exercise: Any, case: dict[str, Any], result: dict[str, Any]) -> Comparison:
    """Compare one student result with the reference on the same case.

    Used in the kernel while a student works and, in the grader's own process,
    on results read from the protocol files (``result`` is then untrusted data).
    """
    label = case.get("label") or "a case"
    if not isinstance(result, dict):
        return Comparison(False, f"{label}: no result")
    if "error" in result:
        err = str(result["error"])[:MAX_ERROR_CHARS]
        if err.startswith("NotImplementedError"):
            return Comparison(False, f"not implemented yet ({err})")
        return Comparison(False, f"{label}: your function raised {err}")
    outputs = result.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, np.ndarray) for o in outputs):
        return Comparison(False, f"{label}: the result is not a list of arrays")
    if exercise.judge is not None:
        verdict = exercise.judge(copy.deepcopy(case), outputs)
        return verdict if verdict.ok else Comparison(False, f"{label}: {verdict.message}")
    args, kwargs = copy.deepcopy(case["args"]), copy.deepcopy(case.get("kwargs", {}))
    expected = flatten_outputs(exercise.reference(*args, **kwargs))
    verdict = compare_outputs(outputs, expected, names=exercise.names, rtol=exercise.rtol, atol=exercise.atol)
    if verdict.ok:
        return verdict
    return Comparison(False, f"{label}: {verdict.message}")


def _diagnose(exercise: Any, case: dict[str, Any], result: dict[str, Any]) -> str:
    """The hint of the first known mistake whose output matches the student's."""
    outputs = result.get("outputs")
    if outputs is None:
        return ""
    for mistake in exercise.mistakes:
        try:
            wrong = flatten_outputs(mistake.fn(*copy.deepcopy(case["args"]), **copy.deepcopy(case.get("kwargs", {}))))
        except Exception:
            continue
        if compare_outputs(outputs, wrong, rtol=1e-6, atol=1e-9).ok:
            return f" Likely mistake: {mistake.hint}"
    return ""


def _local_cases(exercise: Any, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [protocol.decode(protocol.encode(c.to_data())) for c in exercise.cases(rng)]


def check_against_reference(name: str, fn: Callable[..., Any], *, seed: int = 0) -> int:
    """Compare ``fn`` with the reference on seeded cases; raise with a teaching message.

    Returns the number of cases checked. While grading it does nothing (the
    grader judges), so it is safe in the visible part of a test cell.
    """
    if protocol.grading():
        return 0
    from dlcourse import exercises

    exercise = exercises.get(name)
    cases = _local_cases(exercise, seed)
    for case in cases:
        result = run_case(fn, case)
        verdict = judge_case(exercise, case, result)
        if not verdict.ok:
            _fail(f"{name}: {verdict.message}{_diagnose(exercise, case, result)}")
            return 0
    return len(cases)


def hidden_test(name: str, fn: Callable[..., Any], *, seed: int = 1234) -> int:
    """The graded check of exercise ``name`` (see the module docstring).

    Returns the number of cases run. While grading, a missing case file means
    the grader did not ask for this exercise; the call then records nothing.
    """
    if not protocol.grading():
        return check_against_reference(name, fn, seed=seed)
    cases = protocol.read_cases(name)
    if cases is None:
        print(f"{name}: the grader sent no cases for this exercise.")
        return 0
    results = [run_case(fn, case) for case in cases]
    protocol.write_results(name, results)
    print(f"{name}: recorded the results of {len(cases)} hidden case(s) for the grader.")
    return len(cases)
