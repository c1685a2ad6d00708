"""Graded exercises of notebook 04_initialization (I2DL "Training Neural Networks II",
Tokyo DL 2 "Initialization", TUM ML "Deep learning 2").

Deterministic exercises (Swish, the deep stack's activations and weight
gradients) are compared elementwise with the reference. The initializers
return random samples, so their ``judge`` checks statistics instead: the
function gets a fresh seeded Generator, returns a (fan_in, fan_out) matrix,
and the judge tests its shape, mean, standard deviation and the shape of its
distribution (kurtosis for a normal, the range for a uniform) against the
formula, with margins of at least 10 standard errors: a correct
implementation fails with probability below 1e-20 whatever the seed. The
cases mix tall, wide (fan ratio 5 to 8) and square layers of 30,000 to
120,000 weights, so every fan mix-up changes the standard deviation by more
than 20 % in some case, while the margins are at most 4 %.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from dlcourse.checks.compare import Comparison
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference

# -- Swish -------------------------------------------------------------------------------

def _swish_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        shape = (int(rng.integers(1, 30)),) if k == 0 else (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        beta = float(rng.uniform(0.3, 3.0))
        cases.append(Case((3 * rng.standard_normal(shape), beta), label=f"random case {k + 1} (beta={beta:.2f})"))
    cases.append(Case((rng.standard_normal(8), 1.0), label="beta = 1 (PyTorch's SiLU)"))
    cases.append(Case((np.array([-800.0, -30.0, 0.0, 30.0, 800.0]), 1.0),
                      label="very large |x| (no NaN allowed)"))
    return cases


def _sig(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that never overflows


register(Exercise(
    name="initialization.swish",
    reference=reference("init.swish"),
    cases=_swish_cases,
    names=("swish(x)", "swish'(x)"),
    rtol=1e-6,
    atol=1e-10,
    mistakes=(
        Mistake("the derivative misses the product rule's second term: d/dx [x s(bx)] = s(bx) + b x s(bx)(1 - s(bx)).",
                lambda x, b: (x * _sig(b * x), _sig(b * x))),
        Mistake("the chain rule's factor beta is missing in the derivative's second term.",
                lambda x, b: (x * _sig(b * x), _sig(b * x) + x * _sig(b * x) * (1 - _sig(b * x)))),
        Mistake("Swish is x * sigmoid(beta * x): beta goes inside the sigmoid.",
                lambda x, b: (x * _sig(x), _sig(x) + x * _sig(x) * (1 - _sig(x)))),
    ),
))


# -- initializers: judged by statistics ------------------------------------------------------

# Margins in standard errors: 10 makes a false failure rarer than 1e-20.
MARGIN_SE = 10.0
MIN_STATS_SIZE = 1000  # smaller outputs are checked for shape and finiteness only


def _init_cases(rng: np.random.Generator) -> list[Case]:
    """A wide, a tall and a square layer (30k-120k weights each), then a tiny one for the shape."""
    def seed() -> dict[str, int]:
        return {"__rng__": int(rng.integers(2**31))}

    small = int(rng.integers(80, 121))
    ratio = int(rng.integers(5, 9))
    square = int(rng.integers(200, 301))
    return [
        Case((small, small * ratio, seed()), label=f"a wide layer (fan_in={small}, fan_out={small * ratio})"),
        Case((small * ratio, small, seed()), label=f"a tall layer (fan_in={small * ratio}, fan_out={small})"),
        Case((square, square, seed()), label=f"a square layer (fan_in=fan_out={square})"),
        Case((2, 7, seed()), label="a tiny layer (fan_in=2, fan_out=7): the shape"),
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
    if not (np.issubdtype(w.dtype, np.floating)):
        return None, f"expected floating-point weights, got dtype {w.dtype}."
    if not np.all(np.isfinite(w)):
        return None, "the weights contain NaN or inf."
    return w.astype(np.float64), ""


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
))

register(Exercise(
    name="initialization.xavier_uniform",
    reference=reference("init.xavier_uniform"),
    cases=_init_cases,
    names=("w",),
    check=_judge_uniform,
))

register(Exercise(
    name="initialization.kaiming_normal",
    reference=reference("init.kaiming_normal"),
    cases=_init_cases,
    names=("w",),
    check=_judge_normal(lambda fi, fo: math.sqrt(2.0 / fi), _kaiming_wrong),
))


# -- the deep stack: forward activations and weight gradients --------------------------------------

def _stack(rng: np.random.Generator, depth: int, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    widths = [int(w) for w in rng.integers(2, 9, depth + 1)]
    x = rng.standard_normal((n, widths[0]))
    ws = [rng.standard_normal((a, b)) * rng.uniform(0.5, 2.0) / math.sqrt(a)
          for a, b in itertools.pairwise(widths)]
    return x, ws


def _stack_cases(rng: np.random.Generator, with_dout: bool) -> list[Case]:
    cases = []
    for k, (depth, activation) in enumerate([(3, "tanh"), (4, "relu"), (2, "relu"), (5, "tanh")]):
        x, ws = _stack(rng, depth, int(rng.integers(2, 7)))
        extra = (rng.standard_normal((x.shape[0], ws[-1].shape[1])),) if with_dout else ()
        cases.append(Case((x, ws, activation, *extra),
                          label=f"random case {k + 1} ({depth} layers, {activation}, widths "
                                f"{[x.shape[1]] + [w.shape[1] for w in ws]})"))
    x, ws = _stack(rng, 1, 3)
    extra = (rng.standard_normal((3, ws[0].shape[1])),) if with_dout else ()
    cases.append(Case((x, ws, "tanh", *extra), label="a single layer"))
    x = np.abs(rng.standard_normal((4, 3)))
    ws = [-np.abs(rng.standard_normal((3, 5))), rng.standard_normal((5, 2))]
    extra = (rng.standard_normal((4, 2)),) if with_dout else ()
    cases.append(Case((x, ws, "relu", *extra), label="ReLU units that are all off (dead) in layer 1"))
    return cases


def _act(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return np.tanh if name == "tanh" else (lambda s: np.maximum(s, 0.0))


def _pre_activations(x, weights, activation):
    f, h, out = _act(activation), x, []
    for w in weights:
        s = h @ w
        out.append(s)
        h = f(s)
    return out


def _activation_first(x, weights, activation):
    f, h, out = _act(activation), x, []
    for w in weights:
        h = f(h) @ w
        out.append(h)
    return out


def _with_input(x, weights, activation):
    f, h, out = _act(activation), x, [x]
    for w in weights:
        h = f(h @ w)
        out.append(h)
    return out


register(Exercise(
    name="initialization.forward_activations",
    reference=reference("init.forward_activations"),
    cases=lambda rng: _stack_cases(rng, with_dout=False),
    rtol=1e-6,
    atol=1e-9,
    mistakes=(
        Mistake("you returned the pre-activations s_l = h_{l-1} W_l: return h_l = f(s_l).", _pre_activations),
        Mistake("the activation comes after the product: h_l = f(h_{l-1} W_l), not f(h_{l-1}) W_l.",
                _activation_first),
        Mistake("return h_1, ..., h_L only: the input x is not one of the layers' activations.", _with_input),
    ),
))


def _grads(x, weights, activation, dout, *, derivative: str = "right", use_output: bool = False):
    """The weight gradients, right or with one of the usual mistakes."""
    f = _act(activation)
    hs, ss, h = [x], [], x
    for w in weights:
        s = h @ w
        ss.append(s)
        h = f(s)
        hs.append(h)
    dws = [None] * len(weights)
    dh = dout
    for layer in range(len(weights) - 1, -1, -1):
        s, out = ss[layer], hs[layer + 1]
        if derivative == "none":
            local = np.ones_like(s)
        elif activation == "tanh":
            local = 1 - (s**2 if derivative == "of_s" else out**2)
        else:
            local = (s > 0).astype(float)
        ds = dh * local
        dws[layer] = (hs[layer + 1] if use_output else hs[layer]).T @ ds
        dh = ds @ weights[layer].T
    return dws


register(Exercise(
    name="initialization.weight_gradients",
    reference=reference("init.weight_gradients"),
    cases=lambda rng: _stack_cases(rng, with_dout=True),
    rtol=1e-6,
    atol=1e-9,
    mistakes=(
        Mistake("the gradient must pass through the activation: multiply by f'(s_l) before the layer's product.",
                lambda x, w, a, d: _grads(x, w, a, d, derivative="none")),
        Mistake("tanh's derivative is 1 - tanh(s)^2 = 1 - h^2, with h the output, not 1 - s^2.",
                lambda x, w, a, d: _grads(x, w, a, d, derivative="of_s")),
    ),
))
