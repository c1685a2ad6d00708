"""Numerical gradients by central differences, and gradient checks that explain failures.

``df/dx_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h``, one element at a time
(I2DL "Optimization and Backpropagation": gradient checking). The error is
O(h²); in float64, h = 1e-5 gives relative errors near 1e-8 for smooth
functions, while a wrong analytic gradient is typically off by 1e-1 or more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from dlcourse.checks.compare import _fail, rel_error

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "gradcheck"]

_Value = TypeVar("_Value", float, np.ndarray)  # what one probe of f returns


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of a scalar function ``f`` at ``x`` (same shape as x).

    ``x`` is changed in place while probing and restored afterwards, so ``f``
    may read it by reference (as in ``lambda _: loss(w)``).
    """
    x = _float_array(x, "x")
    return _central_differences(lambda v: float(f(v)), x, h, lambda fp, fm: fp - fm)


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``: the vector-Jacobian
    product a backward pass computes for an array-valued ``f``."""
    x = _float_array(x, "x")
    dout = np.asarray(dout, dtype=np.float64)

    def probe(v: np.ndarray) -> np.ndarray:
        return np.array(f(v), dtype=np.float64, copy=True)  # a copy: f may return a view of x

    def change(pos: np.ndarray, neg: np.ndarray) -> float:
        if pos.shape != dout.shape:
            raise ValueError(f"f(x) has shape {pos.shape} but dout has shape {dout.shape}")
        return np.sum((pos - neg) * dout)

    return _central_differences(probe, x, h, change)


def _central_differences(
    probe: Callable[[np.ndarray], _Value],
    x: np.ndarray,
    h: float,
    change: Callable[[_Value, _Value], float],
) -> np.ndarray:
    """The one loop both numerical gradients share: ``change(probe(x + h e_i), probe(x - h e_i)) / 2h``.

    ``x`` (any shape, float64) is perturbed in place one element at a time and each
    element is put back before the next, even when ``probe`` raises. Returns an array of x's shape.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            plus = probe(x)
            x[i] = old - h
            minus = probe(x)
        finally:
            x[i] = old
        grad[i] = change(plus, minus) / (2 * h)
    return grad


def _float_array(x: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(
            f"{name} must be float64 for a gradient check (got {x.dtype}): "
            "in float32 the rounding error of central differences swamps the signal."
        )
    return x


def _changed_in_place(now: dict[str, np.ndarray], before: dict[str, np.ndarray], where: str) -> bool:
    """Fail (and say so) when a call changed one of its arrays: every later number would be measured elsewhere."""
    for name, value in now.items():
        if isinstance(value, np.ndarray) and not np.array_equal(value, before[name], equal_nan=True):
            _fail(f"{where} changed `{name}` in place, so the gradient check cannot be trusted (it would probe "
                  f"another point than the one you differentiated at). Leave `{name}` as it is: compute into a new "
                  "array (`dx = dout * mask`, not `dx = dout; dx *= mask`), or work on a `.copy()`.")
            return True
    return False


def gradcheck(
    forward: Callable[..., np.ndarray],
    backward: Callable[[np.ndarray], Sequence[np.ndarray] | np.ndarray],
    inputs: dict[str, np.ndarray],
    *,
    dout: np.ndarray | None = None,
    seed: int = 0,
    tol: float = 1e-6,
    h: float = 1e-5,
) -> dict[str, float]:
    """Check an analytic backward pass against numerical gradients.

    ``forward(**inputs)`` returns the output array (not the cache);
    ``backward(dout)`` returns the gradients with respect to the inputs, in
    the order of ``inputs``. Raises a teaching ``AssertionError`` naming the
    first input whose gradient is wrong; returns the relative error per input.
    """
    names = list(inputs)
    pristine = {name: np.array(value, copy=True) for name, value in inputs.items()}
    out = np.asarray(forward(**inputs))
    if _changed_in_place(inputs, pristine, "forward"):
        return {}
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape)
    dout_before = np.array(dout, copy=True)
    grads = backward(dout)
    if _changed_in_place({"dout": dout, **inputs}, {"dout": dout_before, **pristine}, "backward"):
        return {}
    if isinstance(grads, np.ndarray):
        grads = (grads,)
    grads = list(grads)
    if len(grads) != len(names):
        wanted = ", ".join("d" + n for n in names)
        _fail(f"backward returned {len(grads)} gradient(s), expected {len(names)}: {wanted}.")
        return {}
    errors: dict[str, float] = {}
    for name, g in zip(names, grads, strict=True):
        x = inputs[name]

        def f(_x: np.ndarray, _name: str = name) -> np.ndarray:
            return np.asarray(forward(**inputs))

        num = eval_numerical_gradient_array(f, x, dout, h=h)
        g = np.asarray(g)
        if g.shape != num.shape:
            _fail(f"d{name}: shape {g.shape}, but {name} has shape {num.shape}; "
                  "a gradient has the shape of what it differentiates.")
            errors[name] = float("inf")
            continue
        err = rel_error(g, num)
        errors[name] = err
        if err > tol:
            hint = ""
            if rel_error(-g, num) < tol:
                hint = " It is the negative of the numerical gradient: a sign is flipped."
            elif np.allclose(g, 0) and not np.allclose(num, 0):
                hint = " Your gradient is all zeros: is the result assigned, or only computed?"
            _fail(f"d{name}: relative error {err:.2e} against the numerical gradient (tolerance {tol:g}).{hint}")
    return errors
