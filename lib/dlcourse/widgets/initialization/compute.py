"""The computations of notebook 04's views (Tokyo DL 2 "Initialization", I2DL "Training Neural Networks II",
TUM ML "Deep learning 2"): plain NumPy.

* The deep-stack experiment: unit Gaussian inputs and N(0, 1) matrices drawn
  once (:func:`deep_stack`), scaled by the gain slider; the activations and
  weight gradients come from the student's ``forward_activations`` and
  ``weight_gradients`` (or the reference), and are summarised here per layer
  (:func:`layer_stds`, :func:`histogram_rows`).
* A ReLU MLP on the digits from weights N(0, std²): its loss before training
  (:func:`initial_loss`) and a few epochs of minibatch SGD (:func:`train_mlp`),
  the view's own engine, which takes no function of the student's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIVATIONS", "TrainingRun", "activation_rows", "deep_stack", "histogram_rows", "initial_loss", "layer_stds",
    "mlp_weights", "softmax_cross_entropy", "standardize", "train_mlp",
]

ACTIVATIONS = ("tanh", "relu")


# -- computations: the deep stack ----------------------------------------------------------------

def deep_stack(width: int, depth: int, n_samples: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unit Gaussian inputs x (n_samples, width) and ``depth`` matrices of N(0, 1) entries (width, width).

    A weight matrix of gain g is ``g / sqrt(width) * Z``: scaling the same
    random directions keeps the picture still while only the scale changes.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, width))
    return x, [rng.standard_normal((width, width)) for _ in range(depth)]


def histogram_rows(arrays: Sequence[np.ndarray], edges: np.ndarray) -> np.ndarray:
    """Fraction of each array's entries per bin, shape (len(arrays), len(edges) - 1).

    Values beyond the edges are counted in the first or last bin, so a layer
    that explodes shows as a spike at the border instead of vanishing. Equal
    bins; one ``bincount`` for all rows.
    """
    bins = len(edges) - 1
    lo, width = edges[0], (edges[-1] - edges[0]) / bins
    out = np.zeros((len(arrays), bins))
    if not len(arrays):
        return out
    flat = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    with np.errstate(invalid="ignore", over="ignore"):
        idx = [np.clip(np.nan_to_num((a - lo) / width, nan=0.0, posinf=bins, neginf=-1), 0, bins - 1).astype(np.int64)
               + row * bins for row, a in enumerate(flat)]
    counts = np.bincount(np.concatenate(idx), minlength=len(arrays) * bins).reshape(len(arrays), bins)
    sizes = np.array([max(a.size, 1) for a in flat], dtype=np.float64)
    return counts / sizes[:, None]


def activation_rows(rows: np.ndarray) -> np.ndarray:
    """Each histogram row scaled so its tallest bin is 1 (a ridge plot's row height)."""
    peak = rows.max(axis=1, keepdims=True)
    return rows / np.where(peak > 0, peak, 1.0)


def layer_stds(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The standard deviation of each array (one per layer): shape (len(arrays),), inf/nan where it blew up."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([float(np.std(a)) for a in arrays])


# -- computations: a ReLU MLP on the digits -----------------------------------------------------

def standardize(X_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Zero mean, unit variance per feature, from the training set (constant pixels stay 0)."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return [(a - mean) / std for a in (X_train, *others)]


def mlp_weights(sizes: Sequence[int], std: float, seed: int = 0) -> list[np.ndarray]:
    """Weights N(0, std²) of an MLP with layer sizes (D, H, ..., K): matrices (sizes[i], sizes[i+1])."""
    rng = np.random.default_rng(seed)
    return [std * rng.standard_normal((a, b)) for a, b in itertools.pairwise(sizes)]


def _forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
    """ReLU after every layer but the last; returns [X, h_1, ..., scores]."""
    hs = [X]
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        s = hs[-1] @ w + b
        hs.append(np.maximum(s, 0.0) if i < len(weights) - 1 else s)
    return hs


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross entropy of softmax(scores) (N, K) for labels y (N,), and dL/dscores."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    return float(-log_p[np.arange(n), y].mean()), dscores / n


def initial_loss(weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Cross entropy of the MLP with these weights (zero biases) on (X, y): the loss before training."""
    with np.errstate(over="ignore", invalid="ignore"):
        scores = _forward(weights, [np.zeros(w.shape[1]) for w in weights], X)[-1]
        return softmax_cross_entropy(scores, y)[0]


@dataclass(frozen=True)
class TrainingRun:
    """Minibatch losses (steps,), validation accuracy after each epoch (epochs,), steps per epoch."""

    losses: np.ndarray
    val_accuracy: np.ndarray
    steps_per_epoch: int

    @property
    def diverged(self) -> bool:
        return not np.all(np.isfinite(self.losses))


def train_mlp(weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
              *, learning_rate: float, epochs: int, batch_size: int = 64, seed: int = 0) -> TrainingRun:
    """Plain minibatch SGD on the softmax cross entropy from the given weights (copied) and zero biases.

    Stops early, filling the rest with NaN, once the loss is no longer finite.
    """
    ws = [w.copy() for w in weights]
    bs = [np.zeros(w.shape[1]) for w in ws]
    n = len(y)
    steps = math.ceil(n / batch_size)
    losses = np.full(epochs * steps, np.nan)
    acc = np.full(epochs, np.nan)
    order = np.random.default_rng(seed)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            perm = order.permutation(n)
            for k in range(steps):
                idx = perm[k * batch_size:(k + 1) * batch_size]
                hs = _forward(ws, bs, X[idx])
                loss, ds = softmax_cross_entropy(hs[-1], y[idx])
                losses[epoch * steps + k] = loss
                if not np.isfinite(loss):
                    return TrainingRun(losses, acc, steps)
                for i in range(len(ws) - 1, -1, -1):
                    dw, db = hs[i].T @ ds, ds.sum(axis=0)
                    if i > 0:
                        ds = (ds @ ws[i].T) * (hs[i] > 0)
                    ws[i] -= learning_rate * dw
                    bs[i] -= learning_rate * db
            acc[epoch] = float(np.mean(_forward(ws, bs, X_val)[-1].argmax(axis=1) == y_val))
    return TrainingRun(losses, acc, steps)
