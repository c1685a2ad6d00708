"""The computations of notebook 07's views (I2DL lecture 11, "Recurrent Neural Networks"; TUM ML "Deep
Learning 2", vanishing and exploding gradients): NumPy and PyTorch, no drawing.

* The eigenvalue argument, numerically. ``A_t = W^t A_0``: each step back through a recurrence
  multiplies the gradient by ``W^T`` (and, in a tanh RNN, by tanh' <= 1). :func:`recurrent_matrix`
  draws a matrix with a chosen spectral radius; :func:`power_norms` measures ``||(W^T)^k g||``
  (the lecture's linear recurrence); :func:`bptt_input_gradients` runs a tanh RNN forward and
  backward with the student's ``rnn_forward`` / ``rnn_backward`` and measures how much gradient
  reaches the input k steps before the loss.
* The long-delay task. :func:`delayed_recall` makes the data (a one-symbol copy task: remember the
  symbol of the first step through ``delay`` steps of noise); :class:`RecurrentClassifier` is a
  torch.nn RNN or LSTM with a linear read-out of its last state; :func:`train_recall` trains one with
  ``dlcourse.train.fit`` and :func:`recall_sweep` trains each model at several delays, the
  precomputed numbers a slider then only looks up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcourse import train

__all__ = [
    "MODELS", "RecallRun", "RecallSweep", "RecurrentClassifier", "bptt_input_gradients", "delayed_recall",
    "moving_average", "power_norms", "recall_sweep", "recurrent_matrix", "spectral_radius", "train_recall",
]

# The three models the notebook compares: (label, kind, forget-gate bias or None for torch's default init).
MODELS: tuple[tuple[str, str, float | None], ...] = (
    ("vanilla RNN", "rnn", None),
    ("LSTM, torch's default init", "lstm", None),
    ("LSTM, forget bias 2", "lstm", 2.0),
)


# -- the eigenvalue argument -------------------------------------------------------------------------

def spectral_radius(W: np.ndarray) -> float:
    """The largest modulus of W's eigenvalues."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def recurrent_matrix(H: int, radius: float = 1.0, seed: int = 0) -> np.ndarray:
    """A random (H, H) matrix of spectral radius ``radius``: Gaussian entries, rescaled.

    Its eigenvalues fill a disc (the circular law) whose edge is at ``radius``; scaling the matrix by
    c scales every eigenvalue by c, so one draw serves every radius a slider asks for.
    """
    if H < 1 or not radius > 0:
        raise ValueError(f"need H >= 1 and radius > 0, got H={H}, radius={radius}")
    W = np.random.default_rng(seed).standard_normal((H, H))
    return radius * W / spectral_radius(W)


def power_norms(W: np.ndarray, g: np.ndarray, steps: int) -> np.ndarray:
    """``||(W^T)^k g||`` for k = 0..steps: a gradient g sent k steps back through the linear
    recurrence ``A_t = A_{t-1} W`` (rows as in ``h W``), shape (steps + 1,).

    With W = Q Λ Q^-1 this is ``||Q^-T Λ^k Q^T g||``: it shrinks like ρ^k when the spectral radius ρ is
    below 1 and grows like ρ^k above (I2DL lecture 11; TUM ML DL2's W^t = V diag(D)^t V^-1).
    """
    out = np.empty(steps + 1)
    v = np.asarray(g, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            out[k] = np.linalg.norm(v)
            v = v @ W.T  # one step back: dA_{t-1} = dA_t W^T (row vectors)
    return out


def bptt_input_gradients(rnn_forward: Callable[..., Any], rnn_backward: Callable[..., Any], x: np.ndarray,
                         h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray,
                         dout: np.ndarray) -> np.ndarray:
    """How much gradient reaches the input k steps before the loss, k = 0..T-1, shape (T,).

    Runs ``rnn_forward(x, h0, Wx, Wh, b)`` (x (N, T, D)) and backpropagates a loss on the LAST hidden
    state only (``dh[:, -1] = dout``, (N, H); zeros elsewhere) with ``rnn_backward``. Entry k is the
    norm of ``dx[:, T-1-k]``: without the hidden-state gradient carried back in time it would be 0 for
    every k > 0.
    """
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros_like(np.asarray(h, dtype=np.float64))
    dh[:, -1] = dout
    dx = np.asarray(rnn_backward(dh, cache)[0], dtype=np.float64)
    return np.linalg.norm(dx, axis=(0, 2))[::-1]


# -- the long-delay task -------------------------------------------------------------------------------

def delayed_recall(n: int, delay: int, n_symbols: int = 4, noise: float = 0.5,
                   seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Remember a symbol through ``delay`` steps of noise (a one-symbol copy task; Hochreiter &
    Schmidhuber 1997 study such long time lags).

    Step 0 shows one of ``n_symbols`` symbols, one-hot in the first n_symbols input channels, and a
    marker 1 in the last channel. Steps 1..delay carry Gaussian noise of std ``noise`` on the symbol
    channels (the marker is 0). The label is the symbol of step 0, to be read off the LAST hidden
    state: guessing gives 1/n_symbols.

    Returns X (n, delay + 1, n_symbols + 1) float32 and y (n,) int64.
    """
    if n < 1 or delay < 0 or n_symbols < 2 or noise < 0:
        raise ValueError(f"need n >= 1, delay >= 0, n_symbols >= 2, noise >= 0; got {n}, {delay}, {n_symbols}, {noise}")
    rng = np.random.default_rng(seed)
    X = np.zeros((n, delay + 1, n_symbols + 1), dtype=np.float32)
    y = rng.integers(0, n_symbols, n)
    X[np.arange(n), 0, y] = 1.0
    X[:, 0, n_symbols] = 1.0  # the marker: "this is the step to remember"
    X[:, 1:, :n_symbols] = noise * rng.standard_normal((n, delay, n_symbols))
    return X, y.astype(np.int64)


class RecurrentClassifier(nn.Module):
    """A one-layer ``torch.nn.RNN`` (tanh) or ``torch.nn.LSTM`` and a linear read-out of its last state.

    ``forget_bias``: for an LSTM, the forget gate's bias (torch's bias_ih gets it, bias_hh 0, so the
    sum is ``forget_bias``); None keeps torch's default, uniform in ±1/sqrt(H), so f starts near 1/2.
    ``forward(x)``: x (N, T, D) -> class scores (N, C).
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, n_classes: int,
                 forget_bias: float | None = None) -> None:
        super().__init__()
        if kind not in ("rnn", "lstm"):
            raise ValueError(f"kind must be 'rnn' or 'lstm', got {kind!r}")
        if forget_bias is not None and kind != "lstm":
            raise ValueError("forget_bias is a parameter of the LSTM; a vanilla RNN has no gates")
        layer = nn.RNN if kind == "rnn" else nn.LSTM
        self.recurrent = layer(input_size, hidden_size, batch_first=True)
        if forget_bias is not None:
            H = hidden_size
            with torch.no_grad():  # torch's gate blocks are i, f, g, o: the forget gate is the second
                self.recurrent.bias_ih_l0[H:2 * H] = forget_bias
                self.recurrent.bias_hh_l0[H:2 * H] = 0.0
        self.readout = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.recurrent(x)  # (N, T, H), every step's hidden state
        return self.readout(h[:, -1])  # (N, C): only the last state is read


@dataclass(frozen=True)
class RecallRun:
    """One training run on the delayed-recall task: test accuracy and the loss of every step."""

    accuracy: float
    losses: np.ndarray  # (steps,)


def train_recall(kind: str, delay: int, *, forget_bias: float | None = None, hidden_size: int = 32,
                 steps: int = 500, batch_size: int = 64, learning_rate: float = 3e-3, noise: float = 0.5,
                 n_symbols: int = 4, n_test: int = 1000, seed: int = 0,
                 device: torch.device | str | None = None) -> RecallRun:
    """Train a :class:`RecurrentClassifier` on ``steps`` fresh batches of the delayed-recall task.

    Adam, gradients clipped to norm 1 (``max_grad_norm``), one pass over ``steps * batch_size``
    sequences (no sequence is seen twice), then the accuracy on ``n_test`` new ones. The model's
    weights come from ``torch.manual_seed(seed)``, the data from seeds derived from ``seed``: the same
    arguments give the same run (on the CPU, with deterministic algorithms and one thread).
    """
    X, y = delayed_recall(steps * batch_size, delay, n_symbols, noise, seed=10_000 + seed)
    X_test, y_test = delayed_recall(n_test, delay, n_symbols, noise, seed=20_000 + seed)
    device = train.select_device(device)
    torch.manual_seed(seed)
    model = RecurrentClassifier(kind, n_symbols + 1, hidden_size, n_symbols, forget_bias).to(device)
    loss_fn = nn.CrossEntropyLoss()
    history = train.fit(model, (X, y), loss_fn, torch.optim.Adam(model.parameters(), lr=learning_rate),
                        epochs=1, batch_size=batch_size, max_grad_norm=1.0, seed=seed, progress=False)
    accuracy = train.evaluate(model, (X_test, y_test), loss_fn, [train.accuracy])["accuracy"]
    return RecallRun(float(accuracy), np.asarray(history.step["loss"], dtype=np.float64))


@dataclass(frozen=True)
class RecallSweep:
    """Every model of ``names`` trained at every delay: ``accuracy`` (M, len(delays)), ``losses``
    (M, len(delays), steps), ``chance`` = 1 / n_symbols."""

    delays: tuple[int, ...]
    names: tuple[str, ...]
    accuracy: np.ndarray
    losses: np.ndarray
    chance: float


def recall_sweep(delays: Sequence[int], models: Sequence[tuple[str, str, float | None]] = MODELS,
                 **kwargs: Any) -> RecallSweep:
    """:func:`train_recall` for every (model, delay); ``models`` as in :data:`MODELS`, ``kwargs`` go to it."""
    runs = [[train_recall(kind, d, forget_bias=fb, **kwargs) for d in delays] for _, kind, fb in models]
    return RecallSweep(tuple(int(d) for d in delays), tuple(name for name, _, _ in models),
                       np.array([[r.accuracy for r in row] for row in runs]),
                       np.array([[r.losses for r in row] for row in runs]),
                       1.0 / kwargs.get("n_symbols", 4))


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each run of ``window`` consecutive values along the last axis (length n - window + 1)."""
    values = np.asarray(values, dtype=np.float64)
    if not 1 <= window <= values.shape[-1]:
        raise ValueError(f"window must be between 1 and {values.shape[-1]}, got {window}")
    c = np.cumsum(values, axis=-1)
    c = np.concatenate([np.zeros((*values.shape[:-1], 1)), c], axis=-1)
    return (c[..., window:] - c[..., :-window]) / window


def chance_loss(n_symbols: int = 4) -> float:
    """The cross entropy of a uniform guess, log(n_symbols)."""
    return math.log(n_symbols)
