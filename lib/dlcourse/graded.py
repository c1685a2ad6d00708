"""The graded line of a test cell, with its double life.

``graded.hidden_test("regression.mse", mse)`` is the one line a graded test
cell needs (inside ``### BEGIN HIDDEN TESTS`` in solutions/):

* While someone works in JupyterLab (no grader around), it draws seeded cases
  from the exercise's description, calls the function on each, lets the
  exercise judge the result, and raises an ``AssertionError`` that teaches:
  which case, which output, and which known mistake the result looks like.
* Inside a kernel started by the grader, it judges nothing: it reads the
  grader's hidden cases, calls the student's function on each, and writes
  what came back as plain data (``dlcourse.checks.protocol``) for the grader
  to judge in its own process.

``check_against_reference`` is the visible twin: the same comparison on a
few seeded cases, for the visible part of a test cell; it never records.

This module sits above both ``dlcourse.checks`` (comparisons, protocol) and
``dlcourse.exercises`` (the descriptions and their judging), which it reaches
only while nobody grades: inside the grading sandbox the descriptions are
absent, and this module needs only the protocol there.
"""

from __future__ import annotations

import copy
import inspect
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks import protocol
from dlcourse.checks.compare import OutputError, _fail, flatten_outputs

__all__ = ["check_against_reference", "hidden_test", "run_case"]

MAX_ERROR_CHARS = 2000


def run_case(fn: Callable[..., Any], case: dict[str, Any]) -> dict[str, Any]:
    """Call ``fn`` on a copy of one decoded case and describe what happened, as plain data.

    ``{"outputs": [...], "changed": [names]}``: what it returned, and the
    arguments it changed in place (compared with a pristine copy after the
    call; a random generator it draws from is not a change). ``{"error":
    text}``: it raised. ``{"invalid": text, "index": i}``: what it returned is
    not numbers (output ``i`` is None: a missing ``return``).
    """
    args, kwargs = case.get("args", []), case.get("kwargs", {})
    work_args, work_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    try:
        result = fn(*work_args, **work_kwargs)
    except Exception as exc:  # the student's code may raise anything
        return {"error": _describe(exc)}
    changed = _changed_arguments(fn, args, kwargs, work_args, work_kwargs)
    try:
        outputs = flatten_outputs(result)
    except OutputError as exc:
        return {"invalid": str(exc)[:MAX_ERROR_CHARS], "index": -1 if exc.index is None else exc.index,
                "changed": changed}
    recorded: dict[str, Any] = {"outputs": outputs, "changed": changed}
    if case.get("repeat"):
        # Hidden state shows as a second call that differs; an ignored rng as a reseeded call that does not.
        again = _call_quietly(fn, copy.deepcopy(args), copy.deepcopy(kwargs))
        if again is not None:
            recorded["again"] = again
        if _has_generator(args) or _has_generator(kwargs):
            reseeded = _call_quietly(fn, _reseed(args), _reseed(kwargs))
            if reseeded is not None:
                recorded["reseeded"] = reseeded
    return recorded


def _call_quietly(fn: Callable[..., Any], args: Any, kwargs: Any) -> list[Any] | None:
    """The outputs of one more call, or None if it raised (the first call's verdict then stands)."""
    try:
        return flatten_outputs(fn(*args, **kwargs))
    except Exception:
        return None


def _has_generator(obj: Any) -> bool:
    if isinstance(obj, np.random.Generator):
        return True
    if isinstance(obj, dict):
        return any(_has_generator(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_generator(v) for v in obj)
    return False


def _reseed(obj: Any) -> Any:
    """A deep copy in which every generator is replaced by one of another seed."""
    if isinstance(obj, np.random.Generator):
        return np.random.default_rng(copy.deepcopy(obj).integers(2**62) + 1)
    if isinstance(obj, dict):
        return {k: _reseed(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_reseed(v) for v in obj)
    return copy.deepcopy(obj)


def _changed_arguments(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                       work_args: list[Any], work_kwargs: dict[str, Any]) -> list[str]:
    """Names of the arguments that differ from their pristine copies after the call."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # no signature (a builtin): number the arguments
        params = []
    changed = [params[i] if i < len(params) else f"argument {i + 1}"
               for i, (before, after) in enumerate(zip(args, work_args, strict=False)) if not _same(before, after)]
    changed += [name for name in kwargs if name in work_kwargs and not _same(kwargs[name], work_kwargs[name])]
    return changed


def _same(before: Any, after: Any) -> bool:
    """Whether ``after`` still equals ``before``: arrays by value (NaN equal to NaN), containers item by item."""
    if isinstance(before, np.random.Generator):
        return True  # drawing from the generator it was given is what a seeded function must do
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape and after.dtype == before.dtype
                and bool(np.array_equal(after, before, equal_nan=before.dtype.kind in "fc")))
    if isinstance(before, dict):
        return isinstance(after, dict) and after.keys() == before.keys() and all(
            _same(before[k], after[k]) for k in before)
    if isinstance(before, (list, tuple)):
        return (type(after) is type(before) and len(after) == len(before)
                and all(_same(b, a) for b, a in zip(before, after, strict=True)))
    if isinstance(before, float) and isinstance(after, float) and before != before and after != after:
        return True  # both NaN
    try:
        return bool(before == after)
    except Exception:  # an object that cannot be compared: not ours to judge
        return True


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (line {last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"[:MAX_ERROR_CHARS]


def check_against_reference(name: str, fn: Callable[..., Any], *, seed: int = 0) -> int:
    """Compare ``fn`` with the reference on seeded cases; raise with a teaching message.

    Returns the number of cases checked. While grading it does nothing (the
    grader judges), so it is safe in the visible part of a test cell.
    """
    if protocol.grading():
        return 0
    exercise = _exercise(name)
    cases = exercise.seeded_cases(seed)
    for case in cases:
        result = run_case(fn, case)
        verdict = exercise.judge(case, result)
        if not verdict.ok:
            _fail(f"{name}: {verdict.message}{exercise.diagnose(case, result)}")
            return 0
    return len(cases)


def _exercise(name: str) -> Any:
    """The description of ``name``; in the student hand-out, which has none, the cases recorded when it was built."""
    from dlcourse import exercises  # only while nobody grades: absent in the sandbox

    try:
        return exercises.get(name)
    except KeyError:
        if name.split(".", 1)[0] in exercises.topics():
            raise  # a full checkout that lacks this exercise: say so as it is
        from dlcourse.exercises import recorded

        return recorded.load(name)


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
