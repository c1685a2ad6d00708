"""Notebook 04's activation-function exercises: Swish, ELU (value and derivative) and the parametric ReLU
(forward and backward, with the gradient of its learned slopes).

Test-cell wrappers (the notebook defines the same):

* ``swish(x, beta)`` and ``elu(x, alpha)`` return ``(f(x), f'(x))`` as they are;
* PReLU is called as ``prelu(x, a, dout)`` and returns ``(out, dx, da)``: the student's ``prelu_forward``
  for ``out`` and the cache, then the student's ``prelu_backward`` on that cache.

Every case holds values where a naive formula overflows (|x| of 400 and 800, where ``exp`` of 710 or more is
inf), exact zeros at the kink (the docstrings fix the slope there: the left branch, as PyTorch), a single value
or a batch of one, and non-square shapes. float64 is required: the tolerances (relative 1e-9) are far below what
a float32 computation reaches, and a float32 result is named as such.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference

__all__ = ["sigmoid"]

RTOL, ATOL = 1e-9, 1e-12


def sigmoid(z: np.ndarray) -> np.ndarray:
    """A sigmoid that never overflows, for the known mistakes below."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _shape(rng: np.random.Generator, k: int) -> tuple[int, ...]:
    """A vector, a non-square matrix, or a batch of one."""
    if k == 0:
        return (int(rng.integers(2, 30)),)
    if k == 1:
        rows = int(rng.integers(2, 6))
        return (rows, int(rng.choice([c for c in range(2, 7) if c != rows])))
    return (1, int(rng.integers(2, 6)))


# -- Swish ----------------------------------------------------------------------------------------

def _swish_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        beta = float(rng.uniform(0.3, 3.0))
        cases.append(Case((3 * rng.standard_normal(_shape(rng, k)), beta),
                          label=f"random case {k + 1} (beta={beta:.2f})"))
    cases.append(Case((rng.standard_normal(8), 1.0), label="beta = 1 (PyTorch's SiLU)"))
    cases.append(Case((rng.standard_normal((3, 2)), 0.0), label="beta = 0 (swish(x) = x/2, slope 1/2)"))
    cases.append(Case((2 * rng.standard_normal(5), -1.5), label="a negative beta"))
    cases.append(Case((np.array([[-800.0, -400.0, -30.0], [0.0, 400.0, 800.0]]), 1.0),
                      label="|x| of 400 and 800 (exp overflows above 709; no NaN allowed)"))
    cases.append(Case((np.array([-400.0, 400.0]), 3.0), label="beta x = +-1200"))
    return cases


def _swish(x, b, *, scale=1.0, product_rule=True, inner_beta=True, chain_beta=True):
    """Swish's (value, slope), right or with one of the usual mistakes."""
    s = sigmoid(b * x if inner_beta else x)
    slope = s + ((b if chain_beta else 1.0) * x * s * (1 - s) if product_rule else 0.0)
    return scale * x * s, scale * slope


register(Exercise(
    name="initialization.swish",
    reference=reference("init.swish"),
    cases=_swish_cases,
    names=("swish(x)", "swish'(x)"),
    rtol=RTOL,
    atol=ATOL,
    mistakes=(
        Mistake("the derivative misses the product rule's second term: d/dx [x s(bx)] = s(bx) + b x s(bx)(1 - s(bx)).",
                lambda x, b: _swish(x, b, product_rule=False)),
        Mistake("the chain rule's factor beta is missing in the derivative's second term.",
                lambda x, b: _swish(x, b, chain_beta=False)),
        Mistake("Swish is x * sigmoid(beta * x): beta goes inside the sigmoid.",
                lambda x, b: _swish(x, b, inner_beta=False, chain_beta=False)),
        Mistake("this notebook's Swish is x * sigmoid(beta x), the form of the paper and of PyTorch; the KIOS "
                "lecture's 2 x sigmoid(beta x) is twice that.", lambda x, b: _swish(x, b, scale=2.0)),
    ),
))


# -- ELU --------------------------------------------------------------------------------------------

def _elu_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        alpha = float(rng.uniform(0.2, 2.5))
        cases.append(Case((2 * rng.standard_normal(_shape(rng, k)), alpha),
                          label=f"random case {k + 1} (alpha={alpha:.2f})"))
    cases.append(Case((np.array([-2.0, -0.0, 0.0, 1e-300, 3.0]), 1.7),
                      label="x = 0 exactly (slope alpha there, the left branch)"))
    cases.append(Case((np.array([[-800.0, -400.0], [400.0, 800.0]]), 1.0),
                      label="|x| of 400 and 800 (exp(800) overflows; no NaN or inf allowed)"))
    cases.append(Case((np.array([-1e-12, -1e-6, 1e-12]), 0.5), label="tiny |x|"))
    cases.append(Case((rng.standard_normal((2, 3)), 0.0), label="alpha = 0 (the ReLU)"))
    return cases


def _elu_naive_mask(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    pos = (x > 0).astype(float)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return pos * x + (1 - pos) * alpha * (e - 1), pos + (1 - pos) * alpha * e


register(Exercise(
    name="initialization.elu",
    reference=reference("activations.elu"),
    cases=_elu_cases,
    names=("elu(x)", "elu'(x)"),
    rtol=RTOL,
    atol=ATOL,
    mistakes=(
        Mistake("for x <= 0 the slope is alpha e^x: the factor alpha is missing.",
                lambda x, a: (np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
                              np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))))),
        Mistake("at x = 0 the docstring takes the left branch: the slope there is alpha, not 1.",
                lambda x, a: (np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
                              np.where(x >= 0, 1.0, a * np.exp(np.minimum(x, 0))))),
        Mistake("mixing the branches by multiplying with a 0/1 mask evaluates exp(800) = inf, and 0 * inf = NaN: "
                "use np.where, or exp of min(x, 0).", _elu_naive_mask),
        Mistake("for x <= 0 ELU is alpha (e^x - 1), not alpha e^x.",
                lambda x, a: (np.where(x > 0, x, a * np.exp(np.minimum(x, 0))),
                              np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0))))),
    ),
))


# -- PReLU --------------------------------------------------------------------------------------------

def _prelu_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        n = 1 if k == 2 else int(rng.integers(2, 7))
        d = int(rng.choice([c for c in range(2, 8) if c != n]))
        x = 2 * rng.standard_normal((n, d))
        cases.append(Case((x, rng.uniform(-0.5, 1.5, d), rng.standard_normal((n, d))),
                          label=f"random case {k + 1} (N={n}, D={d})"))
    x = np.array([[0.0, -1.0, 2.0], [-0.0, 0.0, -3.0], [1.0, -2.0, 0.0], [4.0, 0.5, -0.5]])
    cases.append(Case((x, np.array([0.25, 0.1, 2.0]), rng.standard_normal((4, 3))),
                      label="x = 0 exactly (slope a there, the left branch)"))
    x = rng.standard_normal((3, 4))
    cases.append(Case((x, np.array([0.0, 0.01, 1.0, -0.3]), rng.standard_normal((3, 4))),
                      label="slopes 0 (ReLU), 0.01 (leaky), 1 (identity) and negative"))
    x = np.array([[-400.0, 400.0], [800.0, -800.0]])
    cases.append(Case((x, np.array([0.2, 0.3]), np.ones((2, 2))), label="|x| of 400 and 800"))
    return cases


def _prelu(x, a, dout, *, kink=False, da_batch=False, da_all=False, dx_slope_one=False):
    """PReLU's (out, dx, da), right or with one of the usual mistakes."""
    neg = x < 0 if kink else x <= 0
    out = np.where(neg, a * x, x)
    dx = np.where(neg, (1.0 if dx_slope_one else a) * dout, dout)
    per_sample = x * dout if da_all else np.where(neg, x * dout, 0.0)
    return out, dx, (per_sample if da_batch else per_sample.sum(axis=0))


register(Exercise(
    name="initialization.prelu",
    reference=reference("activations.prelu"),
    cases=_prelu_cases,
    names=("out", "dx", "da"),
    rtol=RTOL,
    atol=ATOL,
    mistakes=(
        Mistake("every sample uses the same slope a[d], so da[d] sums the contributions of the whole batch "
                "(sum over axis 0).", lambda x, a, d: _prelu(x, a, d, da_batch=True)),
        Mistake("only the inputs on the negative side used the slope: da[d] = sum over n of dout * x where x <= 0, "
                "not over every x.", lambda x, a, d: _prelu(x, a, d, da_all=True)),
        Mistake("for x <= 0 the output is a x, so dx = a * dout there, not dout.",
                lambda x, a, d: _prelu(x, a, d, dx_slope_one=True)),
        Mistake("at x = 0 the docstring takes the left branch: slope a, as PyTorch.",
                lambda x, a, d: _prelu(x, a, d, kink=True)),
    ),
))
