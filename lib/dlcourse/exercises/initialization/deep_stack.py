"""Notebook 04's deep-stack exercises: the activations of L bias-free layers ``h_l = f(h_{l-1} W_l)`` and the
gradients of every weight matrix for ``L = sum(h_L * dout)``, compared elementwise with the reference.

The cases reach what the docstrings allow: 1 to 5 layers of unequal widths (never square, so a transposed weight
cannot pass), a batch of one, tanh pre-activations of several hundred (a naive tanh, ``(e^2s - 1) / (e^2s + 1)``,
is inf / inf = NaN there; the slope 1 - h^2 is exactly 0), ReLU pre-activations that are exactly 0 (the docstring
fixes ReLU'(0) = 0, as PyTorch) and ReLU units that are off for every sample. float64 is required: the relative
tolerance 1e-9 is far below a float32 computation, which is named as such.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference

RTOL, ATOL = 1e-9, 1e-12


def _stack(rng: np.random.Generator, depth: int, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    widths = [int(w) for w in rng.integers(2, 9, depth + 1)]
    x = rng.standard_normal((n, widths[0]))
    ws = [rng.standard_normal((a, b)) * rng.uniform(0.5, 2.0) / math.sqrt(a)
          for a, b in itertools.pairwise(widths)]
    return x, ws


def _stack_cases(rng: np.random.Generator, with_dout: bool) -> list[Case]:
    def dout_for(x: np.ndarray, ws: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        return (rng.standard_normal((x.shape[0], ws[-1].shape[1])),) if with_dout else ()

    cases = []
    for k, (depth, activation) in enumerate([(3, "tanh"), (4, "relu"), (2, "relu"), (5, "tanh")]):
        x, ws = _stack(rng, depth, int(rng.integers(2, 7)))
        cases.append(Case((x, ws, activation, *dout_for(x, ws)),
                          label=f"random case {k + 1} ({depth} layers, {activation}, widths "
                                f"{[x.shape[1]] + [w.shape[1] for w in ws]})"))
    x, ws = _stack(rng, 1, 3)
    cases.append(Case((x, ws, "tanh", *dout_for(x, ws)), label="a single layer"))
    x, ws = _stack(rng, 3, 1)
    cases.append(Case((x, ws, "relu", *dout_for(x, ws)), label="a batch of one sample (N = 1)"))
    x = np.abs(rng.standard_normal((4, 3)))
    ws = [-np.abs(rng.standard_normal((3, 5))), rng.standard_normal((5, 2))]
    cases.append(Case((x, ws, "relu", *dout_for(x, ws)), label="ReLU units that are all off (dead) in layer 1"))
    # s = x1 - x2 = 0 exactly where x1 = x2: ReLU'(0) = 0 by the docstring.
    x = np.array([[1.5, 1.5, -0.5], [2.0, 2.0, 1.0], [0.5, -1.0, 2.0]])
    ws = [np.array([[1.0, 0.5, -1.0, 0.2], [-1.0, 0.5, 1.0, 0.3], [0.0, 1.0, 0.0, -0.7]]),
          rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]
    cases.append(Case((x, ws, "relu", *dout_for(x, ws)), label="ReLU pre-activations exactly 0 (ReLU'(0) = 0)"))
    x, ws = _stack(rng, 3, 4)
    ws = [300.0 * w for w in ws]
    cases.append(Case((x, ws, "tanh", *dout_for(x, ws)),
                      label="tanh of pre-activations in the hundreds (saturated: h = +-1, slope 0; no NaN)"))
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
    rtol=RTOL,
    atol=ATOL,
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
            local = (s >= 0 if derivative == "kink" else s > 0).astype(float)
        ds = dh * local
        dws[layer] = (hs[layer + 1] if use_output else hs[layer]).T @ ds
        dh = ds @ weights[layer].T
    return dws


register(Exercise(
    name="initialization.weight_gradients",
    reference=reference("init.weight_gradients"),
    cases=lambda rng: _stack_cases(rng, with_dout=True),
    rtol=RTOL,
    atol=ATOL,
    mistakes=(
        Mistake("the gradient must pass through the activation: multiply by f'(s_l) before the layer's product.",
                lambda x, w, a, d: _grads(x, w, a, d, derivative="none")),
        Mistake("tanh's derivative is 1 - tanh(s)^2 = 1 - h^2, with h the output, not 1 - s^2.",
                lambda x, w, a, d: _grads(x, w, a, d, derivative="of_s")),
        Mistake("the docstring fixes ReLU'(0) = 0 (as PyTorch): the slope is 1 only where s > 0, not s >= 0.",
                lambda x, w, a, d: _grads(x, w, a, d, derivative="kink")),
        Mistake("dW_l = h_{l-1}^T dL/ds_l uses the layer's input h_{l-1}, not its output h_l.",
                lambda x, w, a, d: _grads(x, w, a, d, use_output=True)),
    ),
))
