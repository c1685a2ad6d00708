"""Notebook 04's exercises on repeated multiplication: backpropagation through ``A_t = theta A_{t-1}`` (the I2DL
lecture's matrix-power example of vanishing and exploding gradients) and gradient clipping.

``recurrence_backward(theta, a0, T, dout)`` returns ``(dtheta, da0, grad_norms)`` as it is. Its cases use
non-symmetric matrices (``theta`` and ``theta.T`` differ, so a missing transpose cannot pass), eigenvalues on both
sides of 1 (norms that shrink and grow), T = 0 (no step: dtheta = 0, da0 = dout) and T = 1, and D = 1.

``clip_gradient(grad, threshold, mode)`` returns ``(clipped, norm)``. Its cases reach both modes, gradients of
several shapes, a norm below the threshold (nothing changes, but a new array), a zero gradient (no division by
0), and an exploded gradient with entries of 1e200 whose squares overflow to inf (the docstring asks for a norm
computed without overflow). Clipped norms are at least 100, where torch's ``max_norm / (norm + 1e-6)`` differs
from the docstring's ``threshold / norm`` by less than the tolerance. float64 is required for both.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module, reference

# -- recurrence_backward -----------------------------------------------------------------------------


def _tilted(rng: np.random.Generator, d: int, radius: float) -> np.ndarray:
    """A non-symmetric (d, d) matrix with spectral radius ``radius``."""
    m = rng.standard_normal((d, d))
    return m * (radius / np.max(np.abs(np.linalg.eigvals(m))))


def _recurrence_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, (d, radius, T) in enumerate([(3, 0.8, 6), (4, 1.2, 9), (5, 1.0, 12), (2, 0.5, 4)]):
        cases.append(Case((_tilted(rng, d, radius), rng.standard_normal(d), T, rng.standard_normal(d)),
                          label=f"random case {k + 1} (D={d}, spectral radius {radius}, T={T})"))
    d = 3
    cases.append(Case((_tilted(rng, d, 0.9), rng.standard_normal(d), 0, rng.standard_normal(d)),
                      label="T = 0 (no step: dtheta = 0, da0 = dout)"))
    cases.append(Case((_tilted(rng, d, 1.1), rng.standard_normal(d), 1, rng.standard_normal(d)), label="T = 1"))
    cases.append(Case((np.array([[1.3]]), np.array([0.7]), 20, np.array([-1.0])),
                      label="D = 1: a number multiplied 20 times by 1.3"))
    lam = np.array([1.25, 0.6, 0.3])
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    cases.append(Case(((q * lam) @ q.T, rng.standard_normal(3), 30, rng.standard_normal(3)),
                      label="the lecture's theta = Q diag(1.25, 0.6, 0.3) Q^T over T = 30 steps (exploding)"))
    return cases


def _recurrence(theta, a0, T, dout, *, transpose=True, accumulate=True, swap_outer=False, late_state=False):
    """(dtheta, da0, grad_norms), right or with one of the usual mistakes."""
    states = [np.asarray(a0, dtype=float)]
    for _ in range(T):
        states.append(theta @ states[-1])
    g, dtheta = np.asarray(dout, dtype=float), np.zeros_like(theta)
    norms = [np.linalg.norm(g)]
    for t in range(T, 0, -1):
        a = states[t] if late_state else states[t - 1]
        term = np.outer(a, g) if swap_outer else np.outer(g, a)
        dtheta = dtheta + term if accumulate else (term if t == T else dtheta)
        g = (theta.T if transpose else theta) @ g
        norms.append(np.linalg.norm(g))
    return dtheta, g, np.array(norms[::-1])


register(Exercise(
    name="initialization.recurrence_backward",
    reference=reference("gradient_flow.recurrence_backward"),
    cases=_recurrence_cases,
    names=("dtheta", "da0", "grad_norms"),
    rtol=1e-9,
    atol=1e-12,
    mistakes=(
        Mistake("going back one step multiplies by theta.T (A_t = theta A_{t-1}, so dL/dA_{t-1} = theta.T dL/dA_t), "
                "not by theta.", lambda *a: _recurrence(*a, transpose=False)),
        Mistake("theta is used at every step: dtheta is the SUM of outer(g_t, A_{t-1}) over t = 1..T, not the last "
                "step's term alone.", lambda *a: _recurrence(*a, accumulate=False)),
        Mistake("dL/dtheta[i, j] = g_t[i] A_{t-1}[j]: outer(g_t, A_{t-1}), not outer(A_{t-1}, g_t).",
                lambda *a: _recurrence(*a, swap_outer=True)),
        Mistake("step t multiplies A_{t-1}, so its term is outer(g_t, A_{t-1}), not outer(g_t, A_t).",
                lambda *a: _recurrence(*a, late_state=True)),
        Mistake("grad_norms[t] is the norm of dL/dA_t: entry 0 belongs to A_0 and entry T to A_T (= ||dout||).",
                lambda *a: (lambda r: (r[0], r[1], r[2][::-1]))(_recurrence(*a))),
    ),
))


# -- clip_gradient ------------------------------------------------------------------------------------------


def _clip_ref(grad, threshold, mode):
    return module("gradient_flow").clip_gradient(grad, threshold, mode)


def _with_norm(rng: np.random.Generator, shape: tuple[int, ...], norm: float) -> np.ndarray:
    g = rng.standard_normal(shape)
    return g * (norm / np.linalg.norm(g))


def _clip_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, (shape, mode) in enumerate([((3, 5), "norm"), ((7,), "norm"), ((2, 3, 4), "norm"), ((4, 6), "value")]):
        norm = float(rng.uniform(100, 1000))
        threshold = round(float(rng.uniform(0.5, 20)), 3)
        cases.append(Case((_with_norm(rng, shape, norm), threshold, mode),
                          label=f"random case {k + 1} (shape {shape}, norm {norm:.4g}, threshold {threshold}, "
                                f"mode {mode!r})"))
    small = _with_norm(rng, (3, 2), 0.8)
    cases.append(Case((small, 1.0, "norm"), label="a norm below the threshold: nothing changes"))
    cases.append(Case((small, 0.25, "value"), label="by value: only the entries beyond the threshold change"))
    cases.append(Case((np.zeros((2, 3)), 1.0, "norm"), label="a zero gradient (norm 0: no division by 0)"))
    cases.append(Case((np.array([[3e200, -4e200], [1e199, 0.0]]), 5.0, "norm"),
                      label="an exploded gradient with entries of 1e200 (squares overflow to inf)"))
    cases.append(Case((np.array([1e200, -3.0, 0.5]), 2.0, "value"), label="by value, with an entry of 1e200"))
    cases.append(Case((np.array([250.0]), 10.0, "norm"), label="a gradient of one entry"))
    return cases


def _clip_naive(grad, threshold, mode, *, eps=0.0, always=False, per_entry=False, naive_norm=False):
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.sqrt(np.sum(grad * grad))) if naive_norm else module("gradient_flow").stable_norm(grad)
        if mode == "value" or per_entry:
            return np.clip(grad, -threshold, threshold), norm
        if always or norm > threshold:
            return grad * threshold / (norm + eps), norm
        return grad.copy(), norm


register(Exercise(
    name="initialization.clip_gradient",
    reference=_clip_ref,
    cases=_clip_cases,
    names=("clipped", "norm"),
    rtol=2e-8,
    atol=1e-12,
    mistakes=(
        Mistake("mode 'norm' rescales the whole vector to length threshold (g * threshold / ||g||); clipping every "
                "entry to [-threshold, threshold] is mode 'value', and it changes the direction.",
                lambda g, c, m: _clip_naive(g, c, m, per_entry=True)),
        Mistake("only a gradient whose norm EXCEEDS the threshold is rescaled; a smaller one stays as it is.",
                lambda g, c, m: _clip_naive(g, c, m, always=True)),
        Mistake("squaring entries of 1e200 overflows to inf (np.linalg.norm does that too): divide by the largest "
                "|entry| first and multiply it back after the square root.",
                lambda g, c, m: _clip_naive(g, c, m, naive_norm=True)),
    ),
))
