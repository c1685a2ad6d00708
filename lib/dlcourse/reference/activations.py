"""Activation functions that keep a gradient for negative inputs: ELU and the parametric ReLU (I2DL "Training
Neural Networks II" (activation functions); KIOS ML lecture 6, "Parametric Leaky ReLU").

The ReLU passes no gradient where its input is negative, so a unit whose input is negative for every sample
is dead for good. Two of the lectures' remedies live here, each as a forward/backward pair in the
convention of :mod:`dlcourse.reference.layers` (``X_forward(...) -> (out, cache)``,
``X_backward(dout, cache) -> (dx, ...)``):

* **ELU** (Clevert et al. 2016): ``x`` for ``x > 0`` and ``alpha (e^x - 1)`` otherwise. Smooth for
  alpha = 1, it saturates at ``-alpha`` for very negative inputs, so its mean output is closer to zero than
  the ReLU's; its slope there is ``alpha e^x > 0``.
* **PReLU** (He et al. 2015, the paper of Kaiming initialization): ``max(0, x) + a min(0, x)`` with the
  negative slope ``a`` *learned*, one per feature (``torch.nn.PReLU(num_parameters=D)``): "one more
  parameter to backprop into". Its gradient ``da`` sums over the batch, as every shared parameter's does.

At the kink ``x = 0`` both take the left branch, like PyTorch: ELU's slope there is ``alpha``, PReLU's is
``a``. Everything is float64; no function changes its arguments.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlcourse.reference.layers import _array, _check_dout

__all__ = ["elu", "elu_backward", "elu_forward", "prelu", "prelu_backward", "prelu_forward"]


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


# -- ELU ------------------------------------------------------------------------------------

def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, float]]:
    """ELU elementwise: ``x`` where ``x > 0``, ``alpha (e^x - 1)`` where ``x <= 0``.

    ``expm1`` of the negative part only: ``e^x`` is never evaluated for a large positive x (it overflows
    to inf above 709), and ``e^x - 1`` keeps its digits for tiny |x|.

    Inputs: x of any shape; alpha, a finite number (1 in the paper and in torch.nn.ELU).
    Returns out (the shape of x) and cache = (x, out, alpha).
    """
    alpha = _finite("alpha", alpha)
    x = _array(x, "x")
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    return out, (x, out, alpha)


def elu_backward(dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    """Backward pass of ELU: slope 1 where x > 0, ``alpha e^x`` where x <= 0. Returns dx.

    (``alpha e^x`` equals ``out + alpha``, but for very negative x that sum cancels to 0 while ``e^x`` is
    still a tiny positive number.)
    """
    x, _, alpha = cache
    dout = _check_dout(dout, x.shape, "elu_backward")
    return dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def elu(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """ELU and its elementwise derivative (the notebook's exercise), each the shape of x."""
    out, cache = elu_forward(x, alpha)
    return out, elu_backward(np.ones_like(out), cache)


# -- PReLU ----------------------------------------------------------------------------------

def prelu_forward(x: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Parametric ReLU with one learned negative slope per feature.

    Inputs:
    - x: (N, D) inputs
    - a: (D,) slopes for x <= 0 (a = 0 is the ReLU, a = 0.01 the leaky ReLU, a = 1 the identity)

    Returns a tuple of:
    - out: (N, D), ``x`` where x > 0 and ``a * x`` elsewhere (a broadcast over the batch)
    - cache: (x, a)
    """
    x, a = _array(x, "x"), _array(a, "a")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {x.shape}")
    if a.shape != (x.shape[1],):
        raise ValueError(f"a must have shape (D,) = ({x.shape[1]},), one slope per feature, got {a.shape}")
    return np.where(x > 0, x, a * x), (x, a)


def prelu_backward(dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Backward pass of :func:`prelu_forward`.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from prelu_forward

    Returns a tuple of:
    - dx: (N, D), ``dout`` where x > 0 and ``a * dout`` elsewhere
    - da: (D,), ``sum over n of dout[n, d] * min(0, x[n, d])``: every sample used the same slope, so their
      contributions add up (like a bias's gradient)
    """
    x, a = cache
    dout = _check_dout(dout, x.shape, "prelu_backward")
    negative = x <= 0
    return np.where(negative, a * dout, dout), np.sum(np.where(negative, x * dout, 0.0), axis=0)


def prelu(x: np.ndarray, a: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out, dx, da) of PReLU on x with slopes a and upstream gradient dout (the notebook's test wrapper)."""
    out, cache = prelu_forward(x, a)
    return (out, *prelu_backward(dout, cache))
