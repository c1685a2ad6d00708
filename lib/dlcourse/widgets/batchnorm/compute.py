"""The computations of notebook 05's views (I2DL lecture 8, Tokyo DL2 "Normalization", KIOS lecture 6): plain NumPy.

* A ReLU MLP on the digits trained by plain SGD, with or without batch norm
  after every hidden layer (:func:`train_curve`): the batch norm is the
  student's ``batchnorm_forward`` / ``batchnorm_backward`` (or the reference),
  every other piece is this module's own. The weights are Kaiming-normal
  directions drawn once (:func:`kaiming_directions`) times an init scale, so
  a slider changes only the scale, never the random numbers. With batch norm
  the hidden layers have no bias (beta shifts), as in Tokyo DL2's MLP.
* The same kind of MLP trained by Adam with decoupled weight decay and
  inverted dropout after the hidden layer, on a small training set with noisy
  labels (:func:`noisy_subset`, :func:`train_regularized`): the accuracy on
  the (noisy) training labels and on the clean validation set, epoch by epoch.
  The dropout is the student's ``dropout_forward`` / ``dropout_backward``.

A training run of :func:`train_curve` stops at the first loss that is not
finite or exceeds ``BLOWUP`` times the first loss (the rest of its curve is
NaN): that is divergence, and a view draws it as such. (In float64 NumPy a
diverging network rarely reaches inf; its loss explodes by many orders of
magnitude and its ReLUs die, which the float32 networks of the notebook turn
into NaN.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "RegularizedRun", "kaiming_directions", "noisy_subset", "preactivation_stds", "standardize", "train_curve",
    "train_regularized",
]

Pair = tuple[Callable[..., Any], Callable[..., Any]]  # (forward, backward) of a layer with a cache

BLOWUP = 1e3  # a loss this many times the first one means the run diverged


def standardize(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Zero mean, unit variance per feature with the training set's statistics (constant pixels stay 0)."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return [(a - mean) / std for a in (X_train, *others)]


def noisy_subset(X: np.ndarray, y: np.ndarray, n: int, noise: float, num_classes: int = 10,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples of (X, y) drawn without replacement, a share ``noise`` of them given a random label.

    A random label may happen to be the right one, so about ``noise * (K - 1) / K``
    of the labels end up wrong. Returns X_small (n, D) and the noisy labels (n,).
    """
    if not 0 < n <= len(y) or not 0.0 <= noise <= 1.0:
        raise ValueError(f"need 0 < n <= {len(y)} and noise in [0, 1], got n={n}, noise={noise}")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), n, replace=False)
    labels = np.array(y[idx], dtype=np.int64)
    flip = rng.random(n) < noise
    labels[flip] = rng.integers(0, num_classes, int(flip.sum()))
    return np.array(X[idx], dtype=np.float64), labels


def _cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross entropy of softmax(scores) (N, K) for labels y (N,), and dL/dscores (N, K).

    Private: a public function of the library that computes an exercise's answer would hand it to
    students (the hand-out keeps dlcourse.widgets).
    """
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    return float(-log_p[np.arange(n), y].mean()), dscores / n


def kaiming_directions(sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """Weights N(0, 2 / fan_in) for layer sizes (D, H_1, ..., K): matrices (sizes[i], sizes[i + 1]).

    Multiplied by an init scale s, their std is s times Kaiming's: s = 1 is
    Kaiming initialization, s << 1 makes the signal vanish, s >> 1 explode.
    """
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((a, b)) * math.sqrt(2.0 / a) for a, b in itertools.pairwise(sizes)]


# -- batch norm against plain SGD -------------------------------------------------------------------------


def _bn_param() -> dict[str, Any]:
    return {"mode": "train", "momentum": 0.9, "eps": 1e-5}


def preactivation_stds(X: np.ndarray, weights: Sequence[np.ndarray], batchnorm: Pair | None = None) -> np.ndarray:
    """Std of what enters each hidden ReLU on the batch X, at these weights (zero biases, gamma 1, beta 0).

    Without batch norm that is ``h @ W``; with it, the normalized ``BN(h @ W)``. Shape (L,) for L hidden layers.
    """
    h, stds = X, []
    with np.errstate(over="ignore", invalid="ignore"):
        for w in weights[:-1]:
            a = h @ w
            if batchnorm is not None:
                a = batchnorm[0](a, np.ones(a.shape[1]), np.zeros(a.shape[1]), _bn_param())[0]
            stds.append(float(np.std(a)))
            h = np.maximum(a, 0.0)
    return np.array(stds)


def train_curve(X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], learning_rate: float, *,
                batchnorm: Pair | None = None, epochs: int = 5, batch_size: int = 64, seed: int = 0) -> np.ndarray:
    """Minibatch SGD on the softmax cross entropy from copies of ``weights``; the loss of every step.

    Hidden layers: ``relu(h @ W + b)`` without batch norm, ``relu(BN(h @ W))``
    with it (batchnorm = (forward, backward) in the reference's convention,
    gamma and beta trained too). Returns the minibatch losses, shape
    (epochs * ceil(N / batch_size),), NaN from the first step whose loss is not
    finite or above BLOWUP times the first loss (divergence) on.
    """
    ws = [np.array(w, dtype=np.float64) for w in weights]
    L = len(ws) - 1  # hidden layers
    bs = [np.zeros(w.shape[1]) for w in ws]  # only the output layer's is used with batch norm
    gammas = [np.ones(w.shape[1]) for w in ws[:-1]]
    betas = [np.zeros(w.shape[1]) for w in ws[:-1]]
    params = [_bn_param() for _ in range(L)]
    n = len(y)
    steps = math.ceil(n / batch_size)
    losses = np.full(epochs * steps, np.nan)
    order = np.random.default_rng(seed)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            perm = order.permutation(n)
            for k in range(steps):
                idx = perm[k * batch_size:(k + 1) * batch_size]
                hs, caches, h = [X[idx]], [], X[idx]
                for i in range(L):
                    a = h @ ws[i]
                    if batchnorm is not None:
                        a, cache = batchnorm[0](a, gammas[i], betas[i], params[i])
                        caches.append(cache)
                    else:
                        a = a + bs[i]
                    h = np.maximum(a, 0.0)
                    hs.append(h)
                loss, ds = _cross_entropy(h @ ws[-1] + bs[-1], y[idx])
                if not math.isfinite(loss) or (epoch + k > 0 and loss > BLOWUP * losses[0]):
                    return losses
                losses[epoch * steps + k] = loss
                dh = ds @ ws[-1].T
                ws[-1] -= learning_rate * (hs[L].T @ ds)
                bs[-1] -= learning_rate * ds.sum(axis=0)
                for i in range(L - 1, -1, -1):
                    da = dh * (hs[i + 1] > 0)
                    if batchnorm is not None:
                        da, dgamma, dbeta = batchnorm[1](da, caches[i])
                        gammas[i] -= learning_rate * dgamma
                        betas[i] -= learning_rate * dbeta
                    else:
                        bs[i] -= learning_rate * da.sum(axis=0)
                    if i > 0:
                        dh = da @ ws[i].T
                    ws[i] -= learning_rate * (hs[i].T @ da)
    return losses


# -- dropout and weight decay against the generalization gap -------------------------------------------------


@dataclass(frozen=True)
class RegularizedRun:
    """Accuracy on the training labels and on the validation set after each epoch, both shape (epochs,)."""

    train_accuracy: np.ndarray
    val_accuracy: np.ndarray

    @property
    def gap(self) -> float:
        """Training minus validation accuracy at the end: how much the network learned that does not generalize."""
        return float(self.train_accuracy[-1] - self.val_accuracy[-1])


def train_regularized(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *, p: float,
                      weight_decay: float, dropout: Pair | None = None, hidden: int = 128, epochs: int = 40,
                      batch_size: int = 100, learning_rate: float = 3e-3, seed: int = 0) -> RegularizedRun:
    """A 64-hidden-10 ReLU MLP trained by AdamW, with inverted dropout (drop probability p) after the hidden layer.

    ``dropout`` = (dropout_forward, dropout_backward) in the reference's
    convention (``dropout_forward(x, p, mode, rng) -> (out, cache)``); None
    applies no dropout. Weight decay is decoupled (AdamW): every weight matrix
    shrinks by ``learning_rate * weight_decay`` of itself per step; biases are
    not decayed. Accuracies are measured in test mode (no dropout).
    """
    D, K = X.shape[1], int(max(y.max(), y_val.max())) + 1
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((D, hidden)) * math.sqrt(2.0 / D), "b1": np.zeros(hidden),
              "W2": rng.standard_normal((hidden, K)) * math.sqrt(2.0 / hidden), "b2": np.zeros(K)}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    n = len(y)
    steps = math.ceil(n / batch_size)
    train_acc, val_acc = np.zeros(epochs), np.zeros(epochs)

    def accuracy(A: np.ndarray, labels: np.ndarray) -> float:
        hidden_out = np.maximum(A @ params["W1"] + params["b1"], 0.0)
        return float(np.mean((hidden_out @ params["W2"] + params["b2"]).argmax(axis=1) == labels))

    for epoch in range(epochs):
        perm = rng.permutation(n)
        for k in range(steps):
            idx = perm[k * batch_size:(k + 1) * batch_size]
            h = np.maximum(X[idx] @ params["W1"] + params["b1"], 0.0)
            cache = None
            if dropout is not None and p > 0:
                h, cache = dropout[0](h, p, "train", rng)
            _, ds = _cross_entropy(h @ params["W2"] + params["b2"], y[idx])
            dh = ds @ params["W2"].T
            if cache is not None:
                dh = dropout[1](dh, cache)
            dh = dh * (h != 0)  # ReLU: where the hidden unit (or its dropout) gave 0, no gradient
            grads = {"W2": h.T @ ds, "b2": ds.sum(axis=0), "W1": X[idx].T @ dh, "b1": dh.sum(axis=0)}
            t += 1
            for key, g in grads.items():
                if key.startswith("W"):  # decoupled: the decay never enters m or v (Loshchilov and Hutter)
                    params[key] *= 1.0 - learning_rate * weight_decay
                m[key] = b1 * m[key] + (1 - b1) * g
                v[key] = b2 * v[key] + (1 - b2) * g * g
                params[key] -= learning_rate * (m[key] / (1 - b1**t)) / (np.sqrt(v[key] / (1 - b2**t)) + eps)
        train_acc[epoch], val_acc[epoch] = accuracy(X, y), accuracy(X_val, y_val)
    return RegularizedRun(train_acc, val_acc)
