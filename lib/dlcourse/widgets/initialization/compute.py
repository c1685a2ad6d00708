"""The computations of notebook 04's views (Tokyo DL 2 "Initialization", I2DL "Training Neural Networks II",
TUM ML "Deep learning 2"): plain NumPy.

* The deep-stack experiment: unit Gaussian inputs and N(0, 1) matrices drawn
  once (:func:`deep_stack`), scaled by the gain slider; the activations and
  weight gradients come from the student's ``forward_activations`` and
  ``weight_gradients`` (or the reference), and are summarised here per layer
  (:func:`layer_stds`, :func:`histogram_rows`).
* The same stack trained on the digits (:func:`train_stack`): the statistics of
  every layer on a fixed probe batch, recorded every few steps of minibatch SGD,
  so a view can show how they move *during* training; the forward and backward
  passes are the student's (passed in as functions).
* A ReLU MLP on the digits from weights N(0, std²): its loss before training
  (:func:`initial_loss`) and a few epochs of minibatch SGD (:func:`train_mlp`),
  the view's own engine, which takes no function of the student's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIVATIONS", "SATURATED", "StackTraining", "TrainingRun", "activation_rows", "deep_stack", "histogram_rows",
    "initial_loss", "layer_stds", "mlp_weights", "off_fraction", "standardize",
    "train_mlp", "train_stack",
]

ACTIVATIONS = ("tanh", "relu")
SATURATED = 0.99  # a tanh unit with |h| above this passes less than 2 % of the gradient (1 - h² < 0.02)


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


def activation_rows(rows: np.ndarray, skip: int | None = None) -> np.ndarray:
    """Each histogram row scaled so its tallest bin is 1 (a ridge plot's row height).

    ``skip``: a bin left out when finding the tallest one, and cut at 1 (the bin of 0, whose spike of ReLU
    zeros would flatten the rest of the row).
    """
    rest = rows if skip is None else np.delete(rows, skip, axis=1)
    peak = rest.max(axis=1, keepdims=True) if rest.size else np.zeros((rows.shape[0], 1))
    return np.minimum(rows / np.where(peak > 0, peak, 1.0), 1.0)


def layer_stds(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The standard deviation of each array (one per layer): shape (len(arrays),), inf/nan where it blew up."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([float(np.std(a)) for a in arrays])


def off_fraction(hs: Sequence[np.ndarray], activation: str) -> np.ndarray:
    """Per layer, the fraction of units that pass (almost) no gradient on this batch: shape (len(hs),).

    ReLU: units that are 0 for every sample (dead on this batch: their slope is 0 everywhere). tanh: entries
    with |h| > SATURATED (saturated: slope 1 - h² < 0.02). NaN where a layer holds NaN or inf.
    """
    out = np.empty(len(hs))
    for i, h in enumerate(hs):
        h = np.asarray(h, dtype=np.float64)
        if not np.all(np.isfinite(h)):
            out[i] = np.nan
        elif activation == "relu":
            out[i] = float(np.mean(np.all(h <= 0.0, axis=0)))
        else:
            out[i] = float(np.mean(np.abs(h) > SATURATED))
    return out


@dataclass(frozen=True)
class StackTraining:
    """What :func:`train_stack` recorded. S snapshots (every ``every`` steps, step 0 first), L layers.

    ``stds`` (S, L): std of h_l on the probe batch; ``off`` (S, L): fraction of dead (ReLU) or saturated
    (tanh) units (:func:`off_fraction`); ``hist`` (S, L, bins): histogram rows of h_l; ``accuracy`` (S,):
    probe accuracy; ``losses`` (steps,): the minibatch loss of every step. After a divergence everything is
    NaN and ``diverged_at`` is the step whose loss was not finite (None: trained to the end).
    """

    snapshot_steps: np.ndarray
    stds: np.ndarray
    off: np.ndarray
    hist: np.ndarray
    accuracy: np.ndarray
    losses: np.ndarray
    diverged_at: int | None


def train_stack(forward: Callable[..., object], backward: Callable[..., object], X: np.ndarray, y: np.ndarray,
                X_probe: np.ndarray, y_probe: np.ndarray, directions: Sequence[np.ndarray], readout: np.ndarray,
                gain: float, activation: str, *, steps: int, every: int, learning_rate: float,
                edges: np.ndarray, batch_size: int = 64, seed: int = 0) -> StackTraining:
    """Train L bias-free layers ``h_l = f(h_{l-1} W_l)`` and a linear read-out by minibatch SGD on softmax
    cross entropy, recording every layer's statistics on the probe batch every ``every`` steps.

    ``W_l = gain / sqrt(fan_in) * directions[l]`` (the same random directions for every gain); the read-out
    (M_L, K) starts as ``readout`` for every gain. ``forward(x, weights, activation) -> [h_1, ..., h_L]`` and
    ``backward(x, weights, activation, dout) -> [dW_1, ..., dW_L]`` (for L = sum(h_L * dout)) are the
    notebook's exercises: the student's, or the reference.
    """
    ws = [gain / math.sqrt(z.shape[0]) * z for z in directions]
    v = readout.copy()
    n_snap = steps // every + 1
    L, bins = len(ws), len(edges) - 1
    stds, off, acc = np.full((n_snap, L), np.nan), np.full((n_snap, L), np.nan), np.full(n_snap, np.nan)
    hist = np.zeros((n_snap, L, bins))
    losses = np.full(steps, np.nan)
    order = np.random.default_rng(seed)
    queue = np.empty(0, dtype=np.int64)
    diverged = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step in range(steps + 1):
            if step % every == 0:
                k = step // every
                hs = list(forward(X_probe, ws, activation))
                stds[k], off[k] = layer_stds(hs), off_fraction(hs, activation)
                hist[k] = histogram_rows(hs, edges)
                acc[k] = float(np.mean(np.argmax(hs[-1] @ v, axis=1) == y_probe))
            if step == steps:
                break
            if len(queue) < batch_size:  # a new epoch: another permutation, drawn once
                queue = np.concatenate([queue, order.permutation(len(y))])
            idx, queue = queue[:batch_size], queue[batch_size:]
            xb = X[idx]
            hs = list(forward(xb, ws, activation))
            loss, dscores = _softmax_cross_entropy(hs[-1] @ v, y[idx])
            losses[step] = loss
            if not np.isfinite(loss):
                diverged = step
                break
            grads = list(backward(xb, ws, activation, dscores @ v.T))
            v = v - learning_rate * (hs[-1].T @ dscores)
            ws = [w - learning_rate * g for w, g in zip(ws, grads, strict=True)]
    if diverged is not None:
        first_missing = diverged // every + 1  # snapshots after the divergence stay NaN (histograms empty)
        hist[first_missing:] = 0.0
    return StackTraining(np.arange(n_snap) * every, stds, off, hist, acc, losses, diverged)


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


# Private, and not exported: the hand-out must not hand out an answer to notebook 02's softmax_cross_entropy.
def _softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
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
        return _softmax_cross_entropy(scores, y)[0]


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
                loss, ds = _softmax_cross_entropy(hs[-1], y[idx])
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
