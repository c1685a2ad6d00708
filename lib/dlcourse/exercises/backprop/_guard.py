"""Registering notebook 02's exercises so that a known mistake is named only where it is a mistake.

A mistake can give the right answer on some cases: a missing ReLU backward in a network without hidden layers,
leaky ReLU's "slope 0 for x <= 0" when alpha is 0, log(p + 1e-12) where p is not tiny. There a hint would name a
mistake the student did not make, for instance beside "changed argument `dout` in place" when only that is wrong.
So each mistake is wrapped to raise (and be skipped, as a mistake that does not apply) where it agrees with the
reference.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from dlcourse.checks.compare import flatten_outputs
from dlcourse.exercises import Exercise, Mistake
from dlcourse.exercises import register as _register
from dlcourse.exercises.core import matches_mistake

__all__ = ["register"]


class MistakeDoesNotApplyError(ValueError):
    """The mistake gives the right answer on this case: it does not apply."""


def _unless_right(fn: Callable[..., Any], reference: Callable[..., Any]) -> Callable[..., Any]:
    def mistake(*args: Any, **kwargs: Any) -> Any:
        right = flatten_outputs(reference(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
        wrong = fn(*args, **kwargs)
        if matches_mistake(flatten_outputs(wrong), right):
            raise MistakeDoesNotApplyError("this mistake gives the right answer on this case")
        return wrong

    return mistake


def register(exercise: Exercise) -> Exercise:
    """Register ``exercise`` with each of its mistakes skipped where it agrees with the reference."""
    guarded = tuple(Mistake(m.hint, _unless_right(m.fn, exercise.reference)) for m in exercise.mistakes)
    return _register(dataclasses.replace(exercise, mistakes=guarded))
