"""What each graded exercise is: its inputs, its reference answer, its tolerances.

An :class:`Exercise` is the single description that both sides of grading
use. In a student's kernel (``dlcourse.checks.hidden_test``) it generates
seeded cases and compares the student's function with the reference,
explaining a failure with the :class:`Mistake` list. In the grader's own
process (``grader.verdict``) it generates the hidden cases from a secret seed,
and judges what the student's function returned on them.

Exercises are registered per notebook in ``dlcourse.exercises.<topic>`` and
named ``<topic>.<function>``. Modules here import ``dlcourse.reference`` only
inside functions, so the registry can be read where the reference is absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Exercise", "Mistake", "all_exercises", "get", "register"]

# Notebook topic -> module holding its exercises, in teaching order.
TOPICS = {
    "regression": "dlcourse.exercises.regression",
    "backprop": "dlcourse.exercises.backprop",
    "optimizers": "dlcourse.exercises.optimizers",
    "initialization": "dlcourse.exercises.initialization",
}


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``; ``label`` names it in messages."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"args": list(self.args), "kwargs": dict(self.kwargs), "label": self.label}


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation and the hint to give when a result matches it."""

    hint: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Exercise:
    """A graded function: how to make its cases and what it must return on them.

    ``reference(*args, **kwargs)`` returns the expected output(s); an ``(out,
    cache)`` pair is not an output: wrap such a function in the test cell so it
    returns only what is compared. ``cases(rng)`` returns the random cases
    plus fixed edge cases. ``names`` labels the outputs in messages.

    ``judge(case, outputs)``, when given, replaces the elementwise comparison
    with the reference: for outputs that are random samples (an initializer)
    it can test their statistics with tolerances that cannot flake. It gets
    the decoded case and the student's outputs (a list of arrays, already
    checked to be numeric) and returns a ``dlcourse.checks.Comparison``.
    """

    name: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], Sequence[Case]]
    names: tuple[str, ...] | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    mistakes: tuple[Mistake, ...] = ()
    judge: Callable[[dict[str, Any], list[np.ndarray]], Any] | None = None
    doc: str = ""


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.name in _REGISTRY:
        raise ValueError(f"exercise {exercise.name!r} is registered twice")
    _REGISTRY[exercise.name] = exercise
    return exercise


def get(name: str) -> Exercise:
    """The exercise called ``name`` (``topic.function``), loading its topic on first use."""
    if name not in _REGISTRY:
        topic = name.split(".", 1)[0]
        module = TOPICS.get(topic)
        if module is None:
            raise KeyError(f"no exercise topic {topic!r}; known topics: {sorted(TOPICS)}")
        importlib.import_module(module)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(n for n in _REGISTRY if n.startswith(name.split(".", 1)[0] + "."))
        raise KeyError(f"no exercise {name!r}; this topic has {known}") from None


def all_exercises() -> dict[str, Exercise]:
    for module in TOPICS.values():
        importlib.import_module(module)
    return dict(_REGISTRY)
