"""Notebook 03's hyperparameter search: ``grid_search`` and ``random_search`` (I2DL lecture 6, KIOS lecture 6).

Both take the function to minimise as an argument, which cannot cross the grading boundary, so the notebook's test
cells pass :func:`toy_validation_loss` (a locked cell of the notebook holds the same function; the variants module
proves they agree): a stand-in for "train with these hyperparameters and return the validation loss" that is
cheap enough to call thousands of times, with a diverging region (NaN) as real searches have.

``grid_search`` is judged exactly: scores laid out as the grid (one axis per hyperparameter, in the order given),
the best point with NaN scores never winning and ties going to the first in row-major order. Edges: one
hyperparameter, three, a single value on an axis, a grid where some runs diverge, an exact tie.

``random_search`` returns random points, judged by what any correct sampler must satisfy (:func:`_check_random`):
points inside the box, scores that are the loss of those points, the best among them; and, for the large hidden
cases, that every trial draws a new value of every hyperparameter (a grid in disguise repeats values), that the
values are uniform on the scale asked for (log or linear), over the whole range, and independent across
hyperparameters, each with six-standard-error margins that a correct sampler never misses. Using the rng argument is
judged by the repeated calls (same seed: the same points; another seed: others).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare_outputs
from dlcourse.exercises import Case, Exercise, register
from dlcourse.exercises.optimizers._common import float32_verdict, nan_as_zero
from dlcourse.lazy_reference import reference


def toy_validation_loss(params: np.ndarray) -> float:
    """The notebook's stand-in for a validation loss; keep it identical to the locked cell of the notebook.

    params[0] plays the learning rate: it matters most, is best at 1e-2, and a run above 1 diverges (NaN). The
    others matter a little, each best at 1e-3 on a log scale.
    """
    params = np.asarray(params, dtype=float)
    if params[0] > 1:
        return math.nan
    return float((np.log10(params[0]) + 2) ** 2 + 0.1 * np.sum((np.log10(params[1:]) + 3) ** 2))


# -- grid search ------------------------------------------------------------------------------------------


_GRID_NAMES = ("best", "scores")


def _grid_reference(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return reference("tuning.grid_search")(toy_validation_loss, values)


def _grid_cases(rng: np.random.Generator) -> list[Case]:
    def axis(lo: float, hi: float, n: int) -> np.ndarray:
        return np.sort(10 ** rng.uniform(lo, hi, n))

    cases = []
    for i in range(3):
        p = int(rng.integers(1, 4))
        values = [axis(-4, 0, int(rng.integers(2, 6))) for _ in range(p)]
        cases.append(Case((values,), label=f"random case {i + 1}: a grid of {' x '.join(str(len(v)) for v in values)}"))
    cases.append(Case(([np.array([1e-3, 1e-2, 1e-1]), np.array([1e-5, 1e-4, 1e-3, 1e-2])],),
                      label="a 3 x 4 grid: the learning rate first, then the weight decay"))
    cases.append(Case(([np.array([1e-2]), np.array([1e-4, 1e-3]), np.array([0.5, 0.9, 0.99])],),
                      label="three hyperparameters, the first with a single value: scores of shape (1, 2, 3)"))
    cases.append(Case(([np.array([3.0, 0.3, 1e-4, 10.0, 1e-3]), np.array([1e-3, 1e-1])],),
                      label="learning rates 3 and 10 diverge (their loss is NaN): a NaN must never win"))
    cases.append(Case(([np.array([1e-1, 1e-3]), np.array([1e-3])],),
                      label="a tie: 1e-1 and 1e-3 are equally good (the first in order wins)"))
    cases.append(Case(([np.array([0.02, 0.005, 0.01])],), label="one hyperparameter, values not sorted"))
    return cases


def _check_grid(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """Float64, the scores as the grid (NaN where a run diverged), then the best, with what a wrong best looks like."""
    verdict = float32_verdict(outputs, _GRID_NAMES)
    if verdict is not None:
        return verdict
    expected = list(_grid_reference(*copy.deepcopy(case["args"])))
    if len(outputs) != 2:
        return Comparison(False, f"expected 2 outputs (best, scores), your function returned {len(outputs)}.")
    best, scores = outputs
    if scores.shape != expected[1].shape and scores.size == expected[1].size:
        return Comparison(False, (
            f"scores has shape {scores.shape}, expected {expected[1].shape}: one axis per hyperparameter, "
            "scores[i, j, ...] for values[0][i], values[1][j], ... (np.empty([len(v) for v in values]))."))
    verdict = compare_outputs(*nan_as_zero([scores], [expected[1]]), names=["scores"], rtol=1e-12, atol=1e-14)
    if not verdict.ok:
        return verdict
    verdict = compare_outputs([best], [expected[0]], names=["best"], rtol=0.0, atol=0.0)
    if verdict.ok or best.shape != expected[0].shape:
        return verdict
    if np.isnan(toy_validation_loss(best)):
        return Comparison(False, (
            f"best is {best}, a setting whose run diverged (its score is NaN): np.argmin returns the index of a "
            "NaN. Skip NaN scores (np.nanargmin, or keep a setting only when its score is a number below the best)."))
    if toy_validation_loss(best) == toy_validation_loss(expected[0]):
        return Comparison(False, (
            f"best is {best}, which ties with {expected[0]}: on a tie the FIRST setting in the order of scores "
            "wins (keep a new best only when its score is strictly lower)."))
    return verdict


register(Exercise(
    name="optimizers.grid_search",
    reference=_grid_reference,
    cases=_grid_cases,
    names=_GRID_NAMES,
    rtol=1e-12,
    atol=1e-14,
    check=_check_grid,
))


# -- random search ----------------------------------------------------------------------------------------

_RANDOM_NAMES = ("best", "points", "scores")
STATISTICS_FROM = 200  # trials from which the sample's distribution is judged


def _random_cases(rng: np.random.Generator) -> list[Case]:
    seed = lambda: {"__rng__": int(rng.integers(2**31))}  # noqa: E731
    cases = [
        Case((np.array([1e-5, 1e-4]), np.array([1.0, 1e-1]), np.array([True, True]), 400, seed()),
             label="400 trials, learning rate in [1e-5, 1] and weight decay in [1e-4, 0.1], both on a log scale"),
        Case((np.array([1e-4, 1e-5, 0.5]), np.array([3.0, 1e-2, 0.99]), np.array([True, True, False]), 300, seed()),
             label="300 trials of three hyperparameters, the third (a momentum in [0.5, 0.99]) on a linear scale; "
                   "learning rates above 1 diverge (NaN)"),
        Case((np.array([1e-6]), np.array([1.0]), np.array([True]), 500, seed()),
             label="500 trials of one learning rate in [1e-6, 1], log scale"),
        Case((np.array([0.1, 0.2]), np.array([0.9, 0.3]), np.array([False, False]), 250, seed()),
             label="250 trials, both on a linear scale"),
        Case((np.array([1e-3, 1e-4]), np.array([1e-1, 1e-2]), np.array([True, False]), 1, seed()),
             label="a single trial"),
        Case((np.array([1e-3]), np.array([10.0]), np.array([True]), 7, seed()),
             label="7 trials in [1e-3, 10]: some runs may diverge (NaN), which never win"),
    ]
    for i in range(2):
        p, trials = int(rng.integers(1, 4)), int(rng.integers(2, 30))
        low = 10 ** rng.uniform(-5, -2, p)
        high = low * 10 ** rng.uniform(1, 3, p)
        log_scale = rng.random(p) < 0.7
        cases.append(Case((low, high, log_scale, trials, seed()), label=f"random case {i + 1}: {trials} trials, P={p}"))
    return cases


def _random_reference(low, high, log_scale, num_trials, rng):
    return reference("tuning.random_search")(toy_validation_loss, low, high, log_scale, num_trials, rng)


def _check_random(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    low, high, log_scale, trials = (np.asarray(a) for a in case["args"][:4])
    trials, p = int(trials), low.size
    if len(outputs) != 3:
        return Comparison(False, f"expected 3 outputs (best, points, scores), your function returned {len(outputs)}.")
    best, points, scores = outputs
    verdict = float32_verdict(outputs, _RANDOM_NAMES)
    if verdict is not None:
        return verdict
    for name, out, shape in (("best", best, (p,)), ("points", points, (trials, p)), ("scores", scores, (trials,))):
        if out.shape != shape:
            return Comparison(False, f"{name} has shape {out.shape}, expected {shape} (T = {trials} trials of "
                                     f"P = {p} hyperparameters).")
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        return Comparison(False, "points holds values that are not finite numbers.")
    inside = (points >= low * (1 - 1e-12)) & (points <= high * (1 + 1e-12))
    if not np.all(inside):
        i, j = np.argwhere(~inside)[0]
        return Comparison(False, f"points[{i}, {j}] = {points[i, j]:.6g} lies outside [low, high] = "
                                 f"[{low[j]:.6g}, {high[j]:.6g}].")
    expected = np.array([toy_validation_loss(x) for x in points])
    verdict = compare_outputs(*nan_as_zero([scores], [expected]), names=["scores (the loss of each of your points)"],
                              rtol=1e-12, atol=1e-14)
    if not verdict.ok:
        return verdict
    if not np.all(np.isnan(expected)):
        verdict = compare_outputs([best], [points[int(np.nanargmin(expected))]],
                                  names=["best (the point of the lowest score among yours; NaN never wins)"],
                                  rtol=0.0, atol=0.0)
        if not verdict.ok:
            if np.isnan(toy_validation_loss(best)):
                return Comparison(False, (
                    f"best is {best}, a point whose run diverged (its score is NaN): np.argmin returns the index of "
                    "a NaN. Skip NaN scores (np.nanargmin)."))
            return verdict
    return _distribution(points, low, high, log_scale.astype(bool)) if trials >= STATISTICS_FROM else Comparison(True)


def _distribution(points: np.ndarray, low: np.ndarray, high: np.ndarray, log_scale: np.ndarray) -> Comparison:
    """What every correct sampler satisfies on a large sample, with margins of six standard errors."""
    trials = points.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(log_scale, (np.log(points) - np.log(low)) / (np.log(high) - np.log(low)),
                     (points - low) / (high - low))  # each column uniform on [0, 1] when drawn as asked
    for j in range(points.shape[1]):
        scale = "log" if log_scale[j] else "linear"
        distinct = len(np.unique(points[:, j]))
        if distinct < trials:
            return Comparison(False, (
                f"hyperparameter {j} takes only {distinct} different values in {trials} trials: every trial must "
                "draw a new value of every hyperparameter (repeating a few values is a grid in disguise, and gives "
                "up what random search is for)."))
        mean, std = float(z[:, j].mean()), float(z[:, j].std())
        # Uniform on [0, 1]: mean 1/2 (standard error 0.289/sqrt(T)), std 0.289 (standard error about 0.13/sqrt(T)).
        if abs(mean - 0.5) > 6 * 0.2887 / np.sqrt(trials) or abs(std - 0.2887) > 6 * 0.13 / np.sqrt(trials):
            hint = (" Draw the exponent uniformly (10 ** rng.uniform(log10(low), log10(high))): uniform values "
                    "between 1e-5 and 1 are almost all above 0.1." if log_scale[j] else
                    " Draw it uniformly between low and high.")
            return Comparison(False, (
                f"hyperparameter {j} is not spread uniformly on a {scale} scale over [low, high]: its positions in "
                f"the range have mean {mean:.3f} and standard deviation {std:.3f}, where a uniform sample has 0.5 "
                f"and 0.289.{hint}"))
        edge = 1 - (1e-9) ** (1 / trials)  # a uniform sample misses a band this wide at either end with p < 1e-9
        if z[:, j].min() > edge or z[:, j].max() < 1 - edge:
            return Comparison(False, (
                f"hyperparameter {j} never comes near one end of its range ({scale} positions from "
                f"{z[:, j].min():.3f} to {z[:, j].max():.3f} of [0, 1]): sample the whole range [low, high]."))
    if points.shape[1] > 1:
        r = np.corrcoef(z.T)
        i, j = np.unravel_index(np.argmax(np.abs(r - np.eye(len(r)))), r.shape)
        if abs(r[i, j]) > 6 / np.sqrt(trials):
            return Comparison(False, (
                f"hyperparameters {i} and {j} move together (correlation {r[i, j]:.2f} of their positions): draw each "
                "one independently, not one random number per trial for all of them."))
    return Comparison(True)


register(Exercise(
    name="optimizers.random_search",
    reference=_random_reference,
    cases=_random_cases,
    names=_RANDOM_NAMES,
    check=_check_random,
))
