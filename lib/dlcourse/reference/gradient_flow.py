"""Vanishing and exploding gradients from repeated multiplication, and gradient clipping (I2DL lecture 11,
"Long-term dependencies"; TUM ML "Deep learning 2", vanishing and exploding gradients; Pascanu et al. 2013).

The lecture's simplest recurrence forgets the input and the nonlinearity: ``A_t = theta A_{t-1}``, so
``A_T = theta^T A_0`` (here ``^T`` is the T-th power; a transpose is written ``theta.T``). If theta has an
eigendecomposition ``theta = Q Lambda Q.T`` with orthogonal Q, then ``A_T = Q Lambda^T Q.T A_0``: each
eigen-direction is scaled by ``lambda^T``, which vanishes for ``|lambda| < 1`` and explodes for
``|lambda| > 1``. The backward pass repeats the same product with ``theta.T``
(``dL/dA_{t-1} = theta.T dL/dA_t``), so the gradient that reaches early steps vanishes or explodes in the
same way. A deep linear network whose layers all share one matrix is the same computation.

Clipping (:func:`clip_gradient`) is the lecture's remedy for the exploding side: cut a gradient that is
too large before the step, either each entry to ``[-c, c]`` ("value", which changes the direction) or the
whole vector to length ``c`` ("norm", which keeps the direction).

Vectors are 1-D here, ``A_t`` of shape (D,), as in the lecture's notation ``theta A``. Everything is
float64; no function changes its arguments.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlcourse.reference.layers import _array

__all__ = [
    "CLIP_MODES", "clip_gradient", "eigen_matrix", "fit_recurrence", "orthogonal_matrix", "recurrence_backward",
    "recurrence_forward", "stable_norm",
]

CLIP_MODES = ("norm", "value")


def _steps(T: object) -> int:
    if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 0:
        raise ValueError(f"T must be an integer >= 0 (the number of steps), got {T!r}")
    return int(T)


def _square(theta: object) -> np.ndarray:
    theta = _array(theta, "theta")
    if theta.ndim != 2 or theta.shape[0] != theta.shape[1]:
        raise ValueError(f"theta must be a square matrix (D, D), got shape {theta.shape}")
    return theta


def _vector(v: object, name: str, d: int) -> np.ndarray:
    v = _array(v, name)
    if v.shape != (d,):
        raise ValueError(f"{name} must have shape (D,) = ({d},), got {v.shape}")
    return v


def orthogonal_matrix(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal (d, d) matrix, uniform over rotations and reflections (QR of a Gaussian matrix,
    with the signs of R's diagonal moved into Q so that the distribution is uniform; Mezzadri 2007)."""
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    q, r = np.linalg.qr(rng.standard_normal((int(d), int(d))))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def eigen_matrix(eigenvalues: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``theta = Q diag(eigenvalues) Q.T`` with a random orthogonal Q: a symmetric (D, D) matrix whose
    eigenvalues are the given ones (the lecture's decomposition, built backwards)."""
    lam = _array(eigenvalues, "eigenvalues")
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty vector (D,), got shape {lam.shape}")
    q = orthogonal_matrix(lam.size, rng)
    return (q * lam) @ q.T


def recurrence_forward(theta: np.ndarray, a0: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The states of ``A_t = theta A_{t-1}`` for t = 0..T.

    Inputs:
    - theta: (D, D), the matrix every step multiplies by
    - a0: (D,), the start A_0
    - T: the number of steps, an integer >= 0

    Returns a tuple of:
    - states: (T + 1, D), row t is A_t (row 0 is a copy of a0)
    - cache: the same states (the backward pass needs every A_{t-1})
    """
    theta = _square(theta)
    a0 = _vector(a0, "a0", theta.shape[0])
    states = np.empty((_steps(T) + 1, a0.size))
    states[0] = a0
    for t in range(1, states.shape[0]):
        states[t] = theta @ states[t - 1]
    return states, states


def recurrence_backward(theta: np.ndarray, a0: np.ndarray, T: int,
                        dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through T steps of ``A_t = theta A_{t-1}`` for the loss ``L = dout . A_T``.

    Inputs:
    - theta: (D, D); a0: (D,); T: an integer >= 0
    - dout: (D,), dL/dA_T

    Returns a tuple of:
    - dtheta: (D, D), dL/dtheta. theta is used at every step, so the contributions of the steps add up:
      ``sum over t = 1..T of outer(g_t, A_{t-1})`` with ``g_t = dL/dA_t`` (I2DL: "add the derivatives at
      different times for each weight")
    - da0: (D,), dL/dA_0 = (theta.T)^T dout
    - grad_norms: (T + 1,), entry t is the Euclidean norm of dL/dA_t (entry T is ||dout||)
    """
    states, _ = recurrence_forward(theta, a0, T)
    theta = _square(theta)
    g = _vector(dout, "dout", theta.shape[0]).copy()
    T = states.shape[0] - 1
    dtheta = np.zeros_like(theta)
    norms = np.empty(T + 1)
    norms[T] = stable_norm(g)
    for t in range(T, 0, -1):
        dtheta += np.outer(g, states[t - 1])  # A_t = theta A_{t-1}: dA_t/dtheta[i, j] = A_{t-1}[j] e_i
        g = theta.T @ g  # dL/dA_{t-1}
        norms[t - 1] = stable_norm(g)
    return dtheta, g, norms


def stable_norm(x: np.ndarray) -> float:
    """The Euclidean norm of all entries of x, without overflow or underflow: entries are divided by the
    largest |entry| before squaring (np.linalg.norm squares first, so 1e200 becomes inf)."""
    x = _array(x, "x")
    biggest = float(np.max(np.abs(x))) if x.size else 0.0
    if biggest == 0.0 or not math.isfinite(biggest):
        return biggest
    return biggest * math.sqrt(float(np.sum(np.square(x / biggest))))


def clip_gradient(grad: np.ndarray, threshold: float, mode: str = "norm") -> tuple[np.ndarray, float]:
    """Cut a gradient that is too large (I2DL lecture 11, "Gradient clipping").

    Inputs:
    - grad: an array of any shape (all its entries are one gradient vector g)
    - threshold: c > 0
    - mode: "norm": if ||g|| > c, rescale g to length c, ``g * c / ||g||`` (the direction is kept; the
      formula of torch.nn.utils.clip_grad_norm_, without its 1e-6 in the denominator); otherwise g as it is.
      "value": clip every entry to [-c, c] (torch.nn.utils.clip_grad_value_; the direction can change).

    Returns a tuple of:
    - clipped: a new array, the shape of grad
    - norm: ||g||, the Euclidean norm of grad before clipping (computed without overflow), a float
    """
    if mode not in CLIP_MODES:
        raise ValueError(f"mode must be one of {CLIP_MODES}, got {mode!r}")
    if (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
            or not math.isfinite(threshold) or threshold <= 0):
        raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
    grad = _array(grad, "grad")
    if not np.all(np.isfinite(grad)):
        raise ValueError("grad holds NaN or inf: clipping cannot repair it (lower the learning rate)")
    norm = stable_norm(grad)
    if mode == "value":
        return np.clip(grad, -threshold, threshold), norm
    if norm > threshold:
        return grad * (threshold / norm), norm
    return grad.copy(), norm


def fit_recurrence(theta0: np.ndarray, a0: np.ndarray, target: np.ndarray, T: int, learning_rate: float,
                   steps: int, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent on ``L(theta) = 1/2 ||theta^T a0 - target||^2``, the gradient clipped by its norm
    to ``threshold`` before every step when one is given (None: plain gradient descent).

    Returns (theta after ``steps`` steps, losses (steps + 1,) before each step and after the last, norms
    (steps,) of the gradient before clipping). Once the loss or the gradient is no longer finite, training
    stops: the remaining losses and norms are NaN, and theta is the matrix at which it stopped.
    """
    theta = _square(theta0).copy()
    a0 = _vector(a0, "a0", theta.shape[0])
    target = _vector(target, "target", theta.shape[0])
    losses, norms = np.full(steps + 1, np.nan), np.full(steps, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            error = recurrence_forward(theta, a0, T)[0][-1] - target
            losses[k] = 0.5 * float(error @ error)
            if k == steps or not np.isfinite(losses[k]):
                break
            dtheta = recurrence_backward(theta, a0, T, error)[0]
            if not np.all(np.isfinite(dtheta)):
                break
            norms[k] = stable_norm(dtheta)
            if threshold is not None:
                dtheta = clip_gradient(dtheta, threshold)[0]
            theta = theta - learning_rate * dtheta
    return theta, losses, norms
