"""Fully connected ReLU networks with a hand-written backward pass (I2DL "Optimization and
Backpropagation"; the TwoLayerNet of Ishida's "Deep Learning 2", with its homework's third layer).

A network of L affine layers is a dict of parameters ``W1, b1, ..., WL, bL``
(W_l of shape (D_{l-1}, D_l), b_l of shape (D_l,)). For a batch X (N, D_0):

    z_l = a_{l-1} W_l + b_l,   a_l = max(0, z_l)   for l < L,   a_0 = X
    scores = z_L,              loss = softmax cross entropy of scores, mean over the batch
                               + reg * sum_l ||W_l||^2   (L2 regularization of the weights, optional)

The backward pass walks the layers in reverse with the affine and ReLU
backward passes of :mod:`dlcourse.reference.layers`:
``dscores = (softmax - onehot) / N``, ``dW_l = a_{l-1}^T dz_l``,
``db_l = sum_n dz_l``, ``da_{l-1} = dz_l W_l^T``, ``dz_{l-1} = da_{l-1} * [z_{l-1} > 0]``;
the L2 term adds ``2 reg W_l`` to each ``dW_l`` (I2DL lecture 7, "Loss in Compute Graph": full loss =
data loss + reg loss; the biases are not regularized).

Beside them: :func:`count_parameters` (weights and biases of a network of given
sizes) and :func:`full_batch_descent`, gradient descent on one fixed batch: the
"overfit a tiny batch first" check of I2DL lecture 6 ("How to Start").
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from dlcourse.reference import layers

__all__ = ["count_parameters", "full_batch_descent", "init_mlp", "mlp_loss", "mlp_scores", "num_layers"]


def num_layers(params: dict[str, np.ndarray]) -> int:
    """L, the number of affine layers, checking that params holds exactly W1, b1, ..., WL, bL."""
    if not isinstance(params, dict) or not params:
        raise ValueError("params must be a non-empty dict {'W1': ..., 'b1': ..., ...}")
    L = len(params) // 2
    expected = {f"{p}{i}" for i in range(1, L + 1) for p in ("W", "b")}
    if set(params) != expected:
        raise ValueError(f"params must hold W1, b1, ..., WL, bL; got keys {sorted(params)}")
    for i in range(1, L + 1):
        W, b = np.asarray(params[f"W{i}"]), np.asarray(params[f"b{i}"])
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W{i} must be (D_in, D_out) and b{i} (D_out,), got {W.shape} and {b.shape}")
        if i > 1 and W.shape[0] != np.asarray(params[f"W{i - 1}"]).shape[1]:
            raise ValueError(f"W{i} has {W.shape[0]} rows but layer {i - 1} has "
                             f"{np.asarray(params[f'W{i - 1}']).shape[1]} outputs")
    return L


def init_mlp(sizes: Sequence[int], rng: np.random.Generator, scale: float | None = None
             ) -> dict[str, np.ndarray]:
    """Random parameters for layer sizes ``(D_0, D_1, ..., D_L)``.

    Inputs:
    - sizes: the input size, the hidden sizes, then the number of classes (at least two entries)
    - rng: a numpy Generator
    - scale: the standard deviation of every weight; None uses sqrt(2 / fan_in)
      (Kaiming He et al. 2015, made for ReLU layers). Biases start at 0.

    Returns: {'W1': (D_0, D_1), 'b1': (D_1,), ..., 'WL': (D_{L-1}, D_L), 'bL': (D_L,)}.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output size, all >= 1, got {sizes}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    if scale is not None and not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    params: dict[str, np.ndarray] = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        std = np.sqrt(2.0 / fan_in) if scale is None else scale
        params[f"W{i}"] = std * rng.standard_normal((fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params


def mlp_scores(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """The class scores (N, C) of the network for inputs X (N, D_0): the forward pass alone."""
    L = num_layers(params)
    a = np.asarray(X, dtype=np.float64)
    for i in range(1, L + 1):
        a, _ = layers.affine_forward(a, params[f"W{i}"], params[f"b{i}"])
        if i < L:
            a, _ = layers.relu_forward(a)
    return a


def mlp_loss(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, reg: float = 0.0
             ) -> tuple[float, dict[str, np.ndarray]]:
    """Softmax cross-entropy loss of the network and its gradient with respect to every parameter.

    Inputs:
    - params: W1, b1, ..., WL, bL (see the module docstring)
    - X: (N, D_0) inputs
    - y: (N,) integer labels in [0, C), C = D_L
    - reg: the L2 strength lambda >= 0: the loss adds reg * sum_l sum(W_l ** 2) (weights only)

    Returns a tuple of:
    - loss: a float, the mean over the batch
    - grads: a dict with the keys of params, each gradient the shape of its parameter
    """
    L = num_layers(params)
    if not isinstance(reg, numbers.Real) or isinstance(reg, bool) or not (np.isfinite(reg) and reg >= 0):
        raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
    a = np.asarray(X, dtype=np.float64)
    caches = []
    for i in range(1, L + 1):
        a, affine_cache = layers.affine_forward(a, params[f"W{i}"], params[f"b{i}"])
        relu_cache = None
        if i < L:  # the last layer's output are the scores: no ReLU
            a, relu_cache = layers.relu_forward(a)
        caches.append((affine_cache, relu_cache))
    loss, dout = layers.softmax_cross_entropy(a, y)
    grads: dict[str, np.ndarray] = {}
    for i in range(L, 0, -1):
        affine_cache, relu_cache = caches[i - 1]
        if relu_cache is not None:
            dout = layers.relu_backward(dout, relu_cache)
        dout, grads[f"W{i}"], grads[f"b{i}"] = layers.affine_backward(dout, affine_cache)
    if reg:
        for i in range(1, L + 1):
            W = np.asarray(params[f"W{i}"], dtype=np.float64)
            loss += float(reg * np.sum(W * W))
            grads[f"W{i}"] = grads[f"W{i}"] + 2.0 * reg * W  # d(reg * W^2)/dW = 2 reg W
    return loss, {k: grads[k] for k in params}  # in the order of params


def count_parameters(sizes: Sequence[int]) -> int:
    """The number of weights and biases of a fully connected network of layer sizes (D_0, D_1, ..., D_L).

    Layer l has a (D_{l-1}, D_l) weight matrix and D_l biases: (D_{l-1} + 1) D_l numbers. The inputs are
    not a layer and have no parameters. For the digits network (64, 128, 10): 65 * 128 + 129 * 10 = 9,610.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output size, all >= 1, got {sizes}")
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(sizes))


def full_batch_descent(loss_fn: Callable[..., tuple[float, dict[str, np.ndarray]]],
                       params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                       learning_rate: float, steps: int) -> np.ndarray:
    """Plain gradient descent on one fixed batch; the loss before the first step and after every step.

    The "overfit a tiny batch first" check (I2DL lecture 6, "How to Start": a network with a correct backward
    pass drives the loss on a handful of examples towards 0). ``params`` is not changed: the updates act on
    a copy, ``theta <- theta - learning_rate * grad`` for every parameter at once.

    Inputs:
    - loss_fn: loss_fn(params, X, y) -> (loss, grads), grads with the keys of params
    - params: a dict of arrays
    - X, y: the batch
    - learning_rate: a number >= 0
    - steps: the number of updates, >= 0

    Returns: losses, shape (steps + 1,): losses[0] at params, losses[k] after k updates.
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if not isinstance(learning_rate, numbers.Real) or not (np.isfinite(learning_rate) and learning_rate >= 0):
        raise ValueError(f"learning_rate must be a finite number >= 0, got {learning_rate!r}")
    current = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    losses = np.empty(int(steps) + 1)
    for k in range(int(steps) + 1):
        loss, grads = loss_fn(current, X, y)
        losses[k] = loss
        if k < steps:  # the last evaluation only measures where the updates ended
            current = {name: value - learning_rate * grads[name] for name, value in current.items()}
    return losses
