"""Notebook 04's initializers, judged by statistics: Xavier (Glorot) normal and uniform, Kaiming (He) normal.

The functions return random samples, so their ``check`` tests statistics instead of values: the function gets a
fresh seeded Generator and returns a (fan_in, fan_out) float64 matrix, and the judge tests its shape, dtype, mean,
standard deviation and the shape of its distribution (kurtosis for a normal, the range for a uniform) against the
formula, with margins of at least 10 standard errors: a correct implementation fails with probability below
1e-20 whatever the seed. The cases mix tall, wide (fan ratio 5 to 8), square and one-sided layers (a single input,
a single output) of 30,000 to 120,000 weights, so every fan mix-up changes the standard deviation by more than
20 % in some case, while the margins are at most 4 %.

Seeds: every case passes its generator as ``{"__rng__": seed}``, so the grading path calls the function again with
the same seed (the result must be identical: drawing from ``np.random`` or an unseeded generator fails) and with
another seed (the result must differ: a generator of the function's own, ``np.random.default_rng(0)``, fails).
float64 is required: a float32 sample is named as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dlcourse.checks.compare import Comparison
from dlcourse.exercises import Case, Exercise, register
from dlcourse.lazy_reference import reference

# Margins in standard errors: 10 makes a false failure rarer than 1e-20.
MARGIN_SE = 10.0
MIN_STATS_SIZE = 1000  # smaller outputs are checked for shape and finiteness only


def _init_cases(rng: np.random.Generator) -> list[Case]:
    """A wide, a tall, a square, a single-input and a single-output layer (30k-120k weights each), then a tiny
    one for the shape."""
    def seed() -> dict[str, int]:
        return {"__rng__": int(rng.integers(2**31))}

    small = int(rng.integers(80, 121))
    ratio = int(rng.integers(5, 9))
    square = int(rng.integers(200, 301))
    wide = int(rng.integers(30_000, 40_001))
    return [
        Case((small, small * ratio, seed()), label=f"a wide layer (fan_in={small}, fan_out={small * ratio})"),
        Case((small * ratio, small, seed()), label=f"a tall layer (fan_in={small * ratio}, fan_out={small})"),
        Case((square, square, seed()), label=f"a square layer (fan_in=fan_out={square})"),
        Case((1, wide, seed()), label=f"a single input (fan_in=1, fan_out={wide})"),
        Case((wide, 1, seed()), label=f"a single output (fan_in={wide}, fan_out=1)"),
        Case((4, 7, seed()), label="a tiny layer (fan_in=4, fan_out=7): the shape"),
    ]


def _fans(case: dict) -> tuple[int, int]:
    fan_in, fan_out = case["args"][:2]
    return int(fan_in), int(fan_out)


def _as_weights(outputs: list[np.ndarray], fan_in: int, fan_out: int) -> tuple[np.ndarray | None, str]:
    if len(outputs) != 1:
        return None, f"expected one weight matrix, your function returned {len(outputs)} arrays."
    w = outputs[0]
    if w.shape != (fan_in, fan_out):
        hint = ""
        if w.shape == (fan_out, fan_in):
            hint = (" fan_in and fan_out are swapped: the weights are (fan_in, fan_out), like the affine "
                    "layer's w (D, M); PyTorch's nn.Linear stores the transpose (fan_out, fan_in).")
        return None, f"wrong shape {w.shape}, expected (fan_in, fan_out) = {(fan_in, fan_out)}.{hint}"
    if not np.issubdtype(w.dtype, np.floating):
        return None, f"expected floating-point weights, got dtype {w.dtype}."
    if w.dtype != np.float64:
        return None, (f"your weights have {w.dtype} precision: return float64 (what rng.normal, "
                      "rng.standard_normal and rng.uniform give; astype(np.float32) or a torch tensor's default "
                      "dtype loses digits).")
    if not np.all(np.isfinite(w)):
        return None, "the weights contain NaN or inf."
    return w, ""


def _explain(measured: float, candidates: list[tuple[float, str]], tol: float) -> str:
    for value, hint in candidates:
        if abs(measured - value) <= tol:
            return " Likely mistake: " + hint
    return ""


def _excess_kurtosis(w: np.ndarray) -> float:
    z = (w - w.mean()) / w.std()
    return float(np.mean(z**4) - 3.0)


def _check_normal(w: np.ndarray, std: float, wrong: list[tuple[float, str]]) -> Comparison:
    """Mean 0, standard deviation ``std`` and a normal's kurtosis, each within MARGIN_SE standard errors."""
    n = w.size
    if n < MIN_STATS_SIZE:
        return Comparison(True)
    mean_tol = MARGIN_SE * std / math.sqrt(n)
    if abs(w.mean()) > mean_tol:
        return Comparison(False, f"the mean of the weights is {w.mean():.4g}; it should be 0 (within {mean_tol:.2g}).")
    std_tol = MARGIN_SE * std / math.sqrt(2 * n)  # the standard error of a normal sample's std
    if abs(w.std() - std) > std_tol:
        return Comparison(False, f"the standard deviation of the weights is {w.std():.5g}, expected {std:.5g} "
                                 f"(within {std_tol:.2g})." + _explain(w.std(), wrong, std_tol))
    kurt_tol = MARGIN_SE * math.sqrt(24.0 / n)
    if abs(_excess_kurtosis(w)) > kurt_tol:
        return Comparison(False, f"the weights do not look normally distributed (excess kurtosis "
                                 f"{_excess_kurtosis(w):.3f}, a normal has 0, a uniform -1.2): draw from a "
                                 "normal distribution (rng.normal or rng.standard_normal).")
    return Comparison(True)


def _check_uniform(w: np.ndarray, bound: float, wrong: list[tuple[float, str]]) -> Comparison:
    """Entries inside [-bound, bound], both ends reached within 1 %, the std of U(-bound, bound)."""
    n = w.size
    lo, hi = float(w.min()), float(w.max())
    if lo < -bound * (1 + 1e-9) or hi > bound * (1 + 1e-9):
        hint = _explain(max(-lo, hi), wrong, 0.02 * bound)
        if not hint and n >= MIN_STATS_SIZE and _excess_kurtosis(w) > -0.6:
            hint = " These look normally distributed: draw from rng.uniform(-a, a, size)."
        return Comparison(False, f"the weights reach [{lo:.4g}, {hi:.4g}], outside [-a, a] with a = {bound:.5g}."
                                 + hint)
    if n < MIN_STATS_SIZE:
        return Comparison(True)
    # P(no entry in the top 1 % of the range) = 0.995^n < 1e-2000 for n >= 1000: only a wrong range fails.
    if hi < 0.99 * bound or lo > -0.99 * bound:
        return Comparison(False, f"the weights only cover [{lo:.4g}, {hi:.4g}]; U(-a, a) with a = {bound:.5g} "
                                 "fills the whole interval." + _explain(max(-lo, hi), wrong, 0.02 * bound)
                          + (" Is it U(0, a) instead of U(-a, a)?" if lo > -0.5 * bound else ""))
    std = bound / math.sqrt(3.0)
    std_tol = MARGIN_SE * std * math.sqrt(0.8 / (4 * n))  # a uniform's kurtosis is 1.8
    if abs(w.std() - std) > std_tol:
        return Comparison(False, f"the standard deviation {w.std():.5g} is not a/sqrt(3) = {std:.5g} of a uniform "
                                 "distribution on [-a, a]: draw from rng.uniform(-a, a, size).")
    return Comparison(True)


def _judge_normal(std_of: Callable[[int, int], float],
                  wrong_of: Callable[[int, int], list[tuple[float, str]]]) -> Callable:
    def judge(case: dict, outputs: list[np.ndarray]) -> Comparison:
        fan_in, fan_out = _fans(case)
        w, why = _as_weights(outputs, fan_in, fan_out)
        if w is None:
            return Comparison(False, why)
        return _check_normal(w, std_of(fan_in, fan_out), wrong_of(fan_in, fan_out))

    return judge


def _xavier_normal_wrong(fi: int, fo: int) -> list[tuple[float, str]]:
    return [
        (math.sqrt(1 / fi), "Var = 1/fan_in is the lectures' other \"Xavier\" (LeCun's); here use Glorot's "
                            "Var = 2 / (fan_in + fan_out)."),
        (math.sqrt(1 / fo), "Var = 1/fan_out uses only the outputs; Glorot averages both: 2 / (fan_in + fan_out)."),
        (math.sqrt(2 / fi), "Var = 2/fan_in is Kaiming's (for ReLU), not Xavier's."),
        (2 / (fi + fo), "you used the variance 2 / (fan_in + fan_out) as the standard deviation: take its root."),
        (math.sqrt(1 / (fi + fo)), "the 2 in Var = 2 / (fan_in + fan_out) is missing."),
        (math.sqrt(6 / (fi + fo)), "sqrt(6 / (fan_in + fan_out)) is the uniform's bound a, not a standard deviation."),
    ]


def _kaiming_wrong(fi: int, fo: int) -> list[tuple[float, str]]:
    return [
        (math.sqrt(1 / fi), "Var = 1/fan_in is Xavier's (LeCun's); a ReLU zeroes half its inputs, so Kaiming "
                            "doubles it: Var = 2/fan_in."),
        (math.sqrt(2 / fo), "Var = 2/fan_out is mode 'fan_out'; this exercise keeps the forward signal: 2/fan_in."),
        (2 / fi, "you used the variance 2/fan_in as the standard deviation: take its square root."),
        (2 / math.sqrt(fi), "the 2 belongs under the square root: std = sqrt(2 / fan_in), not 2 / sqrt(fan_in)."),
        (math.sqrt(2 / (fi + fo)), "2 / (fan_in + fan_out) is Glorot's variance; Kaiming's is 2/fan_in."),
    ]


def _xavier_uniform_wrong(fi: int, fo: int) -> list[tuple[float, str]]:
    return [
        (math.sqrt(2 / (fi + fo)), "you used the standard deviation sqrt(2 / (fan_in + fan_out)) as the bound; "
                                   "U(-a, a) has std a / sqrt(3), so a = sqrt(6 / (fan_in + fan_out))."),
        (6 / (fi + fo), "the bound is a = sqrt(6 / (fan_in + fan_out)): the square root is missing."),
        (math.sqrt(6 / fi), "the bound uses fan_in + fan_out, not fan_in alone."),
        (math.sqrt(3 / (fi + fo)), "the bound is sqrt(6 / (fan_in + fan_out)), not sqrt(3 / (...))."),
        (1 / math.sqrt(fi), "U(-1/sqrt(fan_in), 1/sqrt(fan_in)) is the older heuristic Glorot & Bengio replaced."),
    ]


def _judge_uniform(case: dict, outputs: list[np.ndarray]) -> Comparison:
    fan_in, fan_out = _fans(case)
    w, why = _as_weights(outputs, fan_in, fan_out)
    if w is None:
        return Comparison(False, why)
    return _check_uniform(w, math.sqrt(6.0 / (fan_in + fan_out)), _xavier_uniform_wrong(fan_in, fan_out))


register(Exercise(
    name="initialization.xavier_normal",
    reference=reference("init.xavier_normal"),
    cases=_init_cases,
    names=("w",),
    check=_judge_normal(lambda fi, fo: math.sqrt(2.0 / (fi + fo)), _xavier_normal_wrong),
    handout="moments",
))

register(Exercise(
    name="initialization.xavier_uniform",
    reference=reference("init.xavier_uniform"),
    cases=_init_cases,
    names=("w",),
    check=_judge_uniform,
    handout="moments",
))

register(Exercise(
    name="initialization.kaiming_normal",
    reference=reference("init.kaiming_normal"),
    cases=_init_cases,
    names=("w",),
    check=_judge_normal(lambda fi, fo: math.sqrt(2.0 / fi), _kaiming_wrong),
    handout="moments",
))
