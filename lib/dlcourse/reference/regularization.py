"""Regularizers (I2DL lecture 8 "Advanced Regularization", KIOS lecture 6, NYU "Regularization").

The NumPy references of notebook 05's regularization exercises: the L2 penalty
as a term of the loss, Adam with *decoupled* weight decay (AdamW), and the
shift of an image used for data augmentation. Dropout is in
:mod:`dlcourse.reference.layers` (``dropout_forward`` / ``dropout_backward``).

L2 regularization versus weight decay (Loshchilov and Hutter, "Decoupled
Weight Decay Regularization", ICLR 2019; I2DL lecture 8: "L2 regularization,
also (wrongly) called weight decay"):

- L2 regularization adds ``reg * sum(w**2)`` to the loss, so its gradient
  ``2 reg w`` joins the data gradient before the optimizer sees it.
- Weight decay shrinks the weights directly, ``w <- (1 - lr * weight_decay) w``,
  next to the optimizer's step.

For plain SGD the two are the same rule (``weight_decay = 2 reg``). Under Adam
they are not: the L2 gradient is divided by Adam's ``sqrt(v_hat)`` like the
rest of the gradient, so weights with large gradients are hardly decayed.
:func:`adamw` decays every weight at the same rate ``lr * weight_decay``,
exactly as ``torch.optim.AdamW`` does (proven step by step in float64 in
tests/lib/reference/test_regularization.py). The lecture writes the decay as
``(1 - lambda) theta`` with its own "learning rate of weight decay" lambda;
that lambda is ``lr * weight_decay`` here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlcourse.reference import optim

__all__ = ["adamw", "l2_regularization", "shift_images"]

Config = dict[str, Any]

DEFAULT_WEIGHT_DECAY = 1e-2  # torch.optim.AdamW's default


def _number(value: object, name: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")
    return float(value)


def l2_regularization(weights: Sequence[np.ndarray], reg: float) -> tuple[float, list[np.ndarray]]:
    """The L2 penalty ``reg * sum_k sum(W_k**2)`` and its gradient for each weight array (I2DL lecture 4 and 8).

    I2DL's form ``lambda R(theta)`` with ``R(theta) = sum_i theta_i**2`` (KIOS
    writes ``lambda/2 W**2``, whose gradient lacks the factor 2). Biases and
    batch norm's gamma and beta are usually left out: pass only the weights.

    Inputs:
    - weights: a list of K arrays, each of any shape (W_1 (D, H), W_2 (H, C), ...)
    - reg: lambda >= 0, the regularization strength

    Returns a tuple of:
    - penalty: a float
    - grads: a list of K arrays, grads[k] = 2 reg W_k of the shape of W_k
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise ValueError("weights must be a list of arrays (one per layer), e.g. [W1, W2]; "
                         f"got {type(weights).__name__}")
    reg = _number(reg, "reg")
    arrays = [np.asarray(w, dtype=np.float64) for w in weights]
    penalty = reg * float(sum(np.sum(w * w) for w in arrays))
    return penalty, [2.0 * reg * w for w in arrays]


def adamw(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam with decoupled weight decay (AdamW), in the update-rule convention of :mod:`dlcourse.reference.optim`.

    First the weights are decayed, then Adam steps with the data gradient alone::

        w = w - lr * weight_decay * w                      (decay, never seen by m or v)
        w = w - lr * m_hat / (sqrt(v_hat) + epsilon)       (Adam, as optim.adam)

    Inputs:
    - w, dw: weights and the gradient of the data loss at w, same shape (D...)
    - config: dict or None, with adam's keys (learning_rate 1e-3, beta1 0.9,
      beta2 0.999, epsilon 1e-8; state m, v, t) and
      - weight_decay: >= 0 (default 1e-2, as torch.optim.AdamW)

    Returns: (next_w, config). w and dw are never written into.
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
    learning_rate = _number(config.setdefault("learning_rate", 1e-3), "config['learning_rate']")
    weight_decay = _number(config.setdefault("weight_decay", DEFAULT_WEIGHT_DECAY), "config['weight_decay']")
    w = np.asarray(w, dtype=np.float64)
    # Decay the weights we were given (theta_{t-1}), as torch.optim.AdamW does, then take Adam's step.
    return optim.adam(w * (1.0 - learning_rate * weight_decay), dw, config)


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift every image of a batch by (dy, dx) pixels; the pixels that come in are 0 (data augmentation).

    Positive dy moves the content down, positive dx to the right: the pixel at
    (r, c) moves to (r + dy, c + dx), and whatever leaves the frame is lost
    (no wrap-around, unlike ``np.roll``).

    Inputs:
    - images: (N, H, W)
    - dy, dx: integers, any sign; |dy| >= H or |dx| >= W leaves an empty image

    Returns: a new array (N, H, W), float64.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}"
                         + ("; for one image use images[None]" if images.ndim == 2 else ""))
    for name, value in (("dy", dy), ("dx", dx)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer number of pixels, got {value!r}")
    _, H, W = images.shape
    out = np.zeros_like(images)
    dy, dx = int(dy), int(dx)
    if abs(dy) >= H or abs(dx) >= W:
        return out
    # Destination rows [max(dy, 0), H + min(dy, 0)) receive source rows [max(-dy, 0), H - max(dy, 0)).
    out[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        images[:, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out
