"""What each graded exercise is, and how a result of it is judged.

An :class:`Exercise` is the single description that both sides of grading
use: its cases (random ones from a seed, plus fixed edge cases), its reference
answer, its tolerances, the known mistakes that messages name, and the
encodings its cases use. Judging a result lives here too
(:meth:`Exercise.judge`), beside the description it depends on:

* in a student's kernel, ``dlcourse.graded.hidden_test`` draws seeded cases,
  runs the student's function and asks the exercise to judge each result;
* in the grader's own process (``grader.verdict``), the cases come from a
  secret seed, the results from the kernel as plain data, and the same
  :meth:`Exercise.judge` decides.

Exercises are registered per notebook in ``dlcourse.exercises.<topic>``
(the notebook's topic: ``01_regression`` -> ``regression``) and named
``<topic>.<function>``. They reach the reference only through
``dlcourse.lazy_reference``, so the registry can be read where the reference
is absent. Dependencies go one way: exercises use ``dlcourse.checks``
(comparisons, the data protocol); ``dlcourse.checks`` never imports them.
"""

from __future__ import annotations

import importlib
import pkgutil

from dlcourse.exercises.core import Case, Exercise, Mistake

__all__ = ["Case", "Exercise", "Mistake", "all_exercises", "get", "register", "topics"]

# Modules of this package that are machinery, not a notebook's exercises.
_MACHINERY = {"core", "recorded"}


def topics() -> list[str]:
    """The notebook topics that have exercises: one module (or package) here each, found by listing this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in _MACHINERY)


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
        if topic not in topics():
            raise KeyError(f"no exercise topic {topic!r}; known topics: {topics()}")
        importlib.import_module(f"{__name__}.{topic}")
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(n for n in _REGISTRY if n.startswith(name.split(".", 1)[0] + "."))
        raise KeyError(f"no exercise {name!r}; this topic has {known}") from None


def all_exercises() -> dict[str, Exercise]:
    for topic in topics():
        importlib.import_module(f"{__name__}.{topic}")
    return dict(_REGISTRY)
