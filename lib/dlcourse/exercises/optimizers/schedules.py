"""Notebook 03's learning-rate schedules: the lecture's third decay, cosine annealing, warm-up (I2DL lecture 6).

A schedule is a function of one step returning a float; the test cell evaluates it on an array of steps
(:func:`_over_steps`) and records the array as the rule returned it, so a float32 computation shows as float32.

Edges: step 0 (every schedule starts at its base rate), decay_rate 0 (a constant rate), steps far beyond any
warm-up or horizon, a minimum learning rate above 0 (the cosine must start at learning_rate and end at lr_min, not
at 0), lr_min equal to learning_rate, a horizon of one step, the default lr_min, warmup_steps = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.optimizers._common import float32_verdict, float64_check
from dlcourse.lazy_reference import reference

_NAMES = ("learning rates",)


def _over_steps(schedule: Callable[..., float]) -> Callable[..., np.ndarray]:
    """The test cell's wrapper: the schedule at every step of ``steps``, in the dtype it returned."""
    return lambda steps, *args: np.array([schedule(int(s), *args) for s in steps])


Property = Callable[[dict[str, Any], np.ndarray], str]


def _register(name: str, cases: Callable[[np.random.Generator], list[Case]], mistakes: tuple[Mistake, ...],
              rtol: float = 1e-9, atol: float = 1e-14, properties: Property | None = None) -> None:
    expected = _over_steps(reference(f"optim.{name}"))
    compare = float64_check(expected, _NAMES, rtol=rtol, atol=atol)

    def check(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
        verdict = compare(case, outputs)
        if verdict.ok or properties is None or float32_verdict(outputs, _NAMES) is not None:
            return verdict
        broken = properties(case, outputs[0]) if len(outputs) == 1 else ""
        return Comparison(False, broken) if broken else verdict

    register(Exercise(
        name=f"optimizers.{name}",
        reference=expected,
        cases=cases,
        names=_NAMES,
        rtol=rtol,
        atol=atol,
        check=check,
        handout="outputs",
        mistakes=mistakes,
    ))


def _each(rate: Callable[..., float]) -> Callable[..., np.ndarray]:
    """A wrong schedule, over steps as the test cell evaluates it (overflow at step 0 gives inf, not an error)."""
    def over(steps, *args):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array([rate(np.float64(s), *args) for s in steps], dtype=np.float64)
    return over


# -- the lecture's third decay: alpha_0 / sqrt(1 + decay_rate * t) ------------------------------------------


def _inverse_sqrt_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        lr, rate = float(rng.uniform(0.01, 1.0)), float(rng.choice([0.05, 0.5, 1.0, 3.0]))
        steps = np.unique(np.concatenate([[0], rng.integers(0, 2000, 10)]))
        cases.append(Case((steps, lr, rate), label=f"random case {i + 1}: learning_rate={lr:.3g}, decay_rate={rate}"))
    cases.append(Case((np.arange(0, 5), 0.1, 1.0), label="the lecture's α0 = 0.1 and decay rate 1, epochs 0 to 4"))
    cases.append(Case((np.array([0, 1, 10, 1000]), 0.3, 0.0), label="decay_rate 0: the rate never changes"))
    cases.append(Case((np.array([10**6, 10**8]), 1.0, 0.25), label="far steps: the tail alpha_0 / sqrt(rate * t)"))
    return cases


_register("inverse_sqrt_decay", _inverse_sqrt_cases, (
    Mistake("this is the 1/t decay: the third decay divides by the SQUARE ROOT of (1 + decay_rate * step).",
            _each(lambda s, lr, rate: lr / (1 + rate * s))),
    Mistake("the square root covers 1 + decay_rate * step, not the step alone.",
            _each(lambda s, lr, rate: lr / (1 + rate * np.sqrt(s)))),
    Mistake("the 1 inside the root keeps the rate finite at step 0 and makes it start at learning_rate.",
            _each(lambda s, lr, rate: lr / np.sqrt(rate * s))),
))


# -- cosine annealing ----------------------------------------------------------------------------------------


def _cosine_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        total = int(rng.integers(5, 200))
        lr, lr_min = float(rng.uniform(0.01, 1.0)), float(rng.choice([0.0, 1e-3, 1e-2]))
        steps = np.unique(np.concatenate([[0, total], rng.integers(0, total + 1, 10)]))
        label = f"random case {i + 1}: total_steps={total}, lr_min={lr_min}"
        cases.append(Case((steps, lr, total, lr_min), label=label))
    cases.append(Case((np.arange(0, 11), 0.1, 10),
                      label="every step of a 10-step schedule, lr_min left at its default"))
    cases.append(Case((np.array([0, 5, 10, 11, 15, 40]), 0.1, 10, 0.02),
                      label="lr_min = 0.02 > 0: from 0.1 at step 0 down to 0.02, and staying there past total_steps"))
    cases.append(Case((np.array([0, 1, 2, 7]), 0.05, 1, 0.01), label="a horizon of one step (total_steps = 1)"))
    cases.append(Case((np.array([0, 3, 8]), 0.05, 6, 0.05), label="lr_min equal to learning_rate: a constant rate"))
    return cases


def _cosine_properties(case: dict[str, Any], rates: np.ndarray) -> str:
    """What a wrong cosine schedule breaks, in words: its value at step 0, at total_steps, or after it."""
    steps, lr, total, *rest = case["args"]
    lr_min = rest[0] if rest else 0.0
    if rates.shape != np.shape(steps):
        return ""
    for step, rate in zip(np.asarray(steps).tolist(), rates.tolist(), strict=True):
        if step == 0 and not np.isclose(rate, lr, rtol=1e-9, atol=1e-14):
            return (f"at step 0 the rate must be learning_rate itself, {lr:g}, whatever lr_min is; yours is {rate:g} "
                    f"(lr_min = {lr_min:g}): the cosine term moves the rate from learning_rate down to lr_min.")
        if step >= total and not np.isclose(rate, lr_min, rtol=1e-9, atol=1e-14):
            when = "at total_steps" if step == total else "after total_steps"
            return f"{when} (step {step} of {total}) the rate must be lr_min = {lr_min:g}; yours is {rate:g}."
    return ""


_register("cosine_annealing", _cosine_cases, (
    Mistake("cos(pi step / T) runs from 1 to -1: shift and halve it, (1 + cos(...)) / 2.",
            _each(lambda s, lr, total, lr_min=0.0: lr_min + (lr - lr_min) * np.cos(np.pi * min(s, total) / total))),
    Mistake("lr_min is missing: the schedule must glide from learning_rate down to lr_min, not to 0.",
            _each(lambda s, lr, total, lr_min=0.0: lr * 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))),
    Mistake("lr_min is added on top: at step 0 the rate must be learning_rate itself, lr_min + (learning_rate - "
            "lr_min) * ...", _each(lambda s, lr, total, lr_min=0.0:
                                   lr_min + lr * 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))),
    Mistake("after total_steps the cosine climbs back up: keep the rate at lr_min there.",
            _each(lambda s, lr, total, lr_min=0.0: lr_min + (lr - lr_min) * 0.5 * (1 + np.cos(np.pi * s / total)))),
), atol=1e-12, properties=_cosine_properties)


# -- warm-up, then inverse square root ---------------------------------------------------------------------------


def _warmup_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        warmup, d_model = int(rng.integers(2, 100)), int(rng.choice([16, 64, 256, 512]))
        steps = np.unique(np.concatenate([[1, warmup, warmup + 1], rng.integers(1, 5 * warmup, 10)]))
        cases.append(Case((steps, d_model, warmup), label=f"random case {i + 1}: d_model={d_model}, warmup={warmup}"))
    cases.append(Case((np.arange(1, 13), 512, 4), label="steps 1..12 with warmup_steps=4"))
    cases.append(Case((np.array([1, 2, 100]), 1, 1), label="warmup_steps=1 (no warm-up), d_model=1"))
    cases.append(Case((np.array([1, 4000, 10**6]), 512, 4000), label="the paper's 4000 warm-up steps, and far beyond"))
    return cases


_register("warmup_inverse_sqrt", _warmup_cases, (
    Mistake("the warm-up term is step * warmup_steps**-1.5 (not -0.5): the two branches meet at step = warmup.",
            _each(lambda s, d, ws: d**-0.5 * min(s**-0.5, s * ws**-0.5))),
    Mistake("take the MIN of the two branches (max would never decay).",
            _each(lambda s, d, ws: d**-0.5 * max(s**-0.5, s * ws**-1.5))),
    Mistake("the factor d_model**-0.5 is missing.", _each(lambda s, d, ws: min(s**-0.5, s * ws**-1.5))),
), atol=1e-15)
