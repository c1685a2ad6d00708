"""Slider views of notebook 04_initialization (Tokyo DL 2 "Initialization", I2DL
"Training Neural Networks II", TUM ML "Deep learning 2").

* :class:`ActivationStatsView`: the lectures' experiment. A stack of square
  layers ``h_l = f(h_{l-1} W_l)`` on unit Gaussian input, weights
  ``N(0, (g/√n)²)``: the histogram of every layer's activations, their
  standard deviation per layer (forward) and that of the weight gradients
  (backward), for a gain g, tanh or ReLU, and a depth. g = 1 is Xavier (for
  square layers both of the lectures' Xavier variances are 1/n), g = √2 is
  Kaiming; too small a g makes the signal vanish, too large explodes it (ReLU)
  or saturates it (tanh).
* :class:`InitialLossView`: a ReLU MLP on the digits with every weight drawn
  from N(0, std²): the loss before training against std (the ideal is
  -log(1/K) = log 10 for K = 10 classes), and the first epochs of SGD from
  that start: too large a std starts with a huge loss (or diverges), too small
  a one starts at log 10 but hardly moves.

The first view runs the student's ``forward_activations`` and
``weight_gradients`` when they work and falls back to the reference
(imported lazily) while they are stubs, or to its own short implementation
where the reference is absent (the grading sandbox). The computations are the plain
functions at the top; the random matrices are drawn once, so a slider only
rescales them. Small matrix products are run on one BLAS thread: on two cores
the threads cost more than they save at these sizes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcourse.widgets.core import View, WithFallback, one_blas_thread

__all__ = [
    "ActivationStatsView", "InitialLossView", "TrainingRun", "activation_rows", "deep_stack",
    "histogram_rows", "initial_loss", "mlp_weights", "softmax_cross_entropy", "stack_statistics",
    "standardize", "train_mlp",
]

ACTIVATIONS = ("tanh", "relu")





def _reference(name: str, local: Callable[..., Any]) -> Callable[..., Any]:
    """The reference function ``name``, imported only when called; ``local`` where it is absent
    (the grading sandbox), so a view never fails for want of it."""
    def call(*args: Any) -> Any:
        try:
            from dlcourse.reference import init
        except ImportError:
            return local(*args)
        return getattr(init, name)(*args)

    return call


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


def _stds(arrays: Sequence[np.ndarray]) -> np.ndarray:
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


def _clip_log(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values for a log axis: inside [lo, hi], NaN/inf shown at hi (blown up), zeros at lo."""
    return np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=hi, posinf=hi, neginf=lo), lo, hi)


# -- view 1: the activation statistics of a deep stack ---------------------------------------------

def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return np.tanh if name == "tanh" else (lambda s: np.maximum(s, 0.0))


def _stack_forward(x: np.ndarray, weights: Sequence[np.ndarray], activation: str) -> list[np.ndarray]:
    """[h_1, ..., h_L] of h_l = f(h_{l-1} W_l): the view's own forward pass."""
    f, hs = _activation(activation), [x]
    for w in weights:
        hs.append(f(hs[-1] @ w))
    return hs[1:]


def _stack_gradients(x: np.ndarray, weights: Sequence[np.ndarray], activation: str, dout: np.ndarray,
                     hs: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """[dL/dW_1, ..., dL/dW_L] for L = sum(h_L * dout), given the activations hs if known."""
    hs = [x, *(hs if hs is not None else _stack_forward(x, weights, activation))]
    grads: list[np.ndarray] = []
    dh = dout
    for layer in range(len(weights) - 1, -1, -1):
        out = hs[layer + 1]
        ds = dh * (1.0 - out * out if activation == "tanh" else (out > 0))  # through f: dL/ds_l
        grads.append(hs[layer].T @ ds)
        dh = ds @ weights[layer].T
    return grads[::-1]


def stack_statistics(x: np.ndarray, weights: Sequence[np.ndarray], activation: str,
                     dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """std of every h_l and of every dL/dW_l (L = sum(h_L * dout)) of a stack: two arrays (len(weights),).

    The view's own fast version, for its comparison curves; the student's
    functions draw the curve of the chosen gain.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        hs = _stack_forward(x, weights, activation)
        return _stds(hs), _stds(_stack_gradients(x, weights, activation, dout, hs))


class ActivationStatsView(View):
    """Per-layer activation histograms and the std per layer, forward and backward, of a deep stack.

    ``forward_activations(x, weights, activation) -> [h_1, ..., h_L]`` and
    ``weight_gradients(x, weights, activation, dout) -> [dW_1, ..., dW_L]``
    are the student's, if given; they draw the histograms and the red curves.
    The grey comparison curves (N(0, 0.01²), N(0, 1), Xavier, Kaiming) are
    precomputed here.
    """

    # (label, std or None, gain or None, line style); with width n, gain = std * sqrt(n).
    PRESETS = (("N(0, 0.01²)", 0.01, None, ":"), ("N(0, 1)", 1.0, None, "--"), ("Xavier", None, 1.0, "-."),
               ("Kaiming", None, math.sqrt(2.0), "-"))
    LIMITS = (1e-10, 1e10)  # std axes: values beyond are drawn at the border

    def __init__(self, forward_activations: Callable[..., Any] | None = None,
                 weight_gradients: Callable[..., Any] | None = None, *, width: int = 64,
                 n_samples: int = 128, max_depth: int = 15, bins: int = 60, seed: int = 0) -> None:
        if width < 2 or n_samples < 2 or not 2 <= max_depth <= 30:
            raise ValueError("width and n_samples must be at least 2, max_depth between 2 and 30")
        self.width, self.max_depth = width, max_depth
        self.x, self.Z = deep_stack(width, max_depth, n_samples, seed)
        self.dout = np.random.default_rng(seed + 1).standard_normal((n_samples, width))
        self.edges = np.linspace(-3.0, 3.0, bins + 1)
        self._forward = WithFallback("forward_activations", forward_activations,
                                     _reference("forward_activations", _stack_forward))
        self._backward = WithFallback("weight_gradients", weight_gradients,
                                      _reference("weight_gradients", _stack_gradients))
        self.presets = [(label, gain if gain is not None else std * math.sqrt(width), style)
                        for label, std, gain, style in self.PRESETS]
        # (activation, depth) -> per preset (forward stds, backward stds), for every depth.
        self._preset_stats: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        with one_blas_thread():
            for activation in ACTIVATIONS:
                for depth in range(2, max_depth + 1):
                    self._preset_stats[activation, depth] = [
                        stack_statistics(self.x, self.weights(g, depth), activation, self.dout)
                        for _, g, _ in self.presets]
        self._fwd_cache: dict[tuple[float, str], tuple[np.ndarray, np.ndarray]] = {}
        self._bwd_cache: dict[tuple[float, str, int], np.ndarray] = {}
        super().__init__({
            "gain": ("log", 10**-1.5, 10**1.5, 0.05, 1.0, "gain g (std = g/√n)"),
            "activation": ("int", 0, 1, 1, 0, "activation: 0 tanh, 1 ReLU"),
            "depth": ("int", 2, max_depth, 1, min(10, max_depth), "layers"),
        }, figsize=(11, 4.0), title=f"{max_depth} layers of {width} units on unit Gaussian input, "
                                    f"weights N(0, (g/√{width})²)")
        self._build()
        self.update()

    # -- computation, cached per slider value ------------------------------------------------

    def weights(self, gain: float, depth: int | None = None) -> list[np.ndarray]:
        scale = gain / math.sqrt(self.width)
        return [scale * z for z in self.Z[: depth or self.max_depth]]

    def forward_stats(self, gain: float, activation: str) -> tuple[np.ndarray, np.ndarray]:
        """(std of h_l for l = 1..max_depth, histogram rows (max_depth, bins)), by the student's function."""
        key = (round(gain, 12), activation)
        if key not in self._fwd_cache:
            if len(self._fwd_cache) > 256:
                self._fwd_cache.clear()
            shape = (self.max_depth, *self.x.shape)
            with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
                hs = self._forward(self.x, self.weights(gain), activation, shape=shape)
                self._fwd_cache[key] = (_stds(hs), histogram_rows(hs, self.edges))
        return self._fwd_cache[key]

    def backward_stats(self, gain: float, activation: str, depth: int) -> np.ndarray:
        """std of dL/dW_l for l = 1..depth, L = sum(h_depth * dout), by the student's function."""
        key = (round(gain, 12), activation, depth)
        if key not in self._bwd_cache:
            if len(self._bwd_cache) > 512:
                self._bwd_cache.clear()
            shape = (depth, self.width, self.width)
            with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
                grads = self._backward(self.x, self.weights(gain, depth), activation, self.dout, shape=shape)
                self._bwd_cache[key] = _stds(grads)
        return self._bwd_cache[key]

    # -- drawing ---------------------------------------------------------------------------------

    def _build(self) -> None:
        grid = self.fig.add_gridspec(1, 3, width_ratios=(1.2, 1, 1))
        ax_h = self.fig.add_subplot(grid[0])
        ax_f = self.fig.add_subplot(grid[1])
        ax_b = self.fig.add_subplot(grid[2])
        L = self.max_depth
        # One row per layer, layer 1 on top; rows deeper than the chosen depth are hidden.
        self._ridges = [ax_h.stairs(np.zeros(len(self.edges) - 1), self.edges, baseline=float(L - layer),
                                    fill=True, color=f"C{layer % 10}", alpha=0.85) for layer in range(1, L + 1)]
        ax_h.set(xlim=(self.edges[0], self.edges[-1]), ylim=(-0.1, L + 0.05),
                 yticks=[L - layer + 0.4 for layer in range(1, L + 1)],
                 yticklabels=[str(layer) for layer in range(1, L + 1)], ylabel="layer",
                 xlabel="value of $h_l$ (beyond ±3: edge bins)", title="histogram of $h_l$ per layer")
        ax_h.tick_params(axis="y", labelsize=7, length=0)
        layers = np.arange(1, L + 1)
        self._fwd_presets, self._bwd_presets = [], []
        for ax, store, what in ((ax_f, self._fwd_presets, "std of $h_l$ (forward)"),
                                (ax_b, self._bwd_presets, "std of $\\partial L/\\partial W_l$ (backward)")):
            for label, _, style in self.presets:
                (line,) = ax.plot(layers, np.ones(L), style, color="0.55", lw=1, label=label)
                store.append(line)
            ax.set(yscale="log", ylim=self.LIMITS, xlim=(0.5, L + 0.5), xticks=range(1, L + 1, 2),
                   xlabel="layer l", title=what)
            ax.minorticks_off()
        (self._fwd_line,) = ax_f.plot([], [], "o-", color="tab:red", ms=3, lw=2, label="gain g")
        (self._bwd_line,) = ax_b.plot([], [], "o-", color="tab:red", ms=3, lw=2)
        ax_f.legend(loc="lower left", fontsize=7, ncol=2, frameon=False)
        self._text = ax_f.text(0.03, 0.96, "", transform=ax_f.transAxes, va="top", fontsize=8)
        self.axes = (ax_h, ax_f, ax_b)
        self.animate(*self._ridges, *self._fwd_presets, *self._bwd_presets, self._fwd_line, self._bwd_line,
                     self._text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        gain, depth = float(p["gain"]), int(p["depth"])
        activation = ACTIVATIONS[int(p["activation"])]
        stds, hist = self.forward_stats(gain, activation)
        grads = self.backward_stats(gain, activation, depth)
        heights = activation_rows(hist)
        L = self.max_depth
        for layer, ridge in enumerate(self._ridges, start=1):
            ridge.set_visible(layer <= depth)
            if layer <= depth:
                ridge.set_data(L - layer + 0.85 * heights[layer - 1], self.edges, baseline=L - layer)
        layers = np.arange(1, depth + 1)
        self._fwd_line.set_data(layers, _clip_log(stds[:depth], *self.LIMITS))
        self._bwd_line.set_data(layers, _clip_log(grads, *self.LIMITS))
        for (f_stds, b_stds), f_line, b_line in zip(self._preset_stats[activation, depth], self._fwd_presets,
                                                    self._bwd_presets, strict=True):
            f_line.set_data(layers, _clip_log(f_stds, *self.LIMITS))
            b_line.set_data(layers, _clip_log(b_stds, *self.LIMITS))
        self._text.set_text(f"{activation}, std {gain / math.sqrt(self.width):.3g}")
        self.show_fallbacks(self._forward, self._backward)


# -- view 2: initial loss and the first epochs on the digits -------------------------------------

class InitialLossView(View):
    """A ReLU MLP on the digits, all weights N(0, std²), zero biases: initial loss and first epochs.

    X_* are raw features (standardized here with the training set's
    statistics), y_* integer labels 0..K-1.
    """

    def __init__(self, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *,
                 hidden_width: int = 64, max_hidden_layers: int = 3, epochs: int = 4, batch_size: int = 64,
                 learning_rate: float = 0.1, seed: int = 0) -> None:
        self.X, self.X_val = standardize(np.asarray(X_train, dtype=np.float64), np.asarray(X_val, dtype=np.float64))
        self.y, self.y_val = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
        if self.X.ndim != 2 or len(self.y) != len(self.X) or len(self.y_val) != len(self.X_val):
            raise ValueError("need X_train (N, D) with y_train (N,), and X_val (M, D) with y_val (M,)")
        self.num_classes = int(max(self.y.max(), self.y_val.max())) + 1
        self.hidden_width, self.epochs, self.batch_size = hidden_width, epochs, batch_size
        self.learning_rate, self.seed = learning_rate, seed
        self.ideal_loss = math.log(self.num_classes)  # -log(1/K)
        self.std_grid = np.logspace(-4, 0.5, 37)
        self._runs: dict[tuple[float, int], TrainingRun] = {}
        self._curves: dict[int, np.ndarray] = {}
        self._directions: dict[int, list[np.ndarray]] = {}
        super().__init__({
            "std": ("log", 1e-4, 10**0.5, 0.25, 1.0, "weight std"),
            "hidden_layers": ("int", 1, max_hidden_layers, 1, 2, "hidden layers"),
        }, figsize=(11, 3.6), title=f"A ReLU MLP on the digits ({hidden_width} units per hidden layer), "
                                    "weights N(0, std²)")
        self._build()
        self.update()

    def sizes(self, hidden_layers: int) -> list[int]:
        return [self.X.shape[1], *[self.hidden_width] * hidden_layers, self.num_classes]

    def directions(self, hidden_layers: int) -> list[np.ndarray]:
        """The N(0, 1) matrices every std rescales (the same for every std)."""
        if hidden_layers not in self._directions:
            self._directions[hidden_layers] = mlp_weights(self.sizes(hidden_layers), 1.0, self.seed)
        return self._directions[hidden_layers]

    def loss_curve(self, hidden_layers: int) -> np.ndarray:
        """Initial loss on the training set for every std of ``std_grid``."""
        if hidden_layers not in self._curves:
            z = self.directions(hidden_layers)
            with one_blas_thread():
                self._curves[hidden_layers] = np.array(
                    [initial_loss([s * w for w in z], self.X, self.y) for s in self.std_grid])
        return self._curves[hidden_layers]

    def run(self, std: float, hidden_layers: int) -> TrainingRun:
        key = (round(math.log10(std), 6), hidden_layers)
        if key not in self._runs:
            if len(self._runs) > 256:
                self._runs.clear()
            weights = [std * w for w in self.directions(hidden_layers)]
            with one_blas_thread():
                self._runs[key] = train_mlp(weights, self.X, self.y, self.X_val, self.y_val,
                                            learning_rate=self.learning_rate, epochs=self.epochs,
                                            batch_size=self.batch_size, seed=self.seed)
        return self._runs[key]

    def _build(self) -> None:
        ax_0, ax_t, ax_a = self.fig.subplots(1, 3)
        self._loss_lim = (0.5 * self.ideal_loss, 1e6)
        for ax in (ax_0, ax_t):
            ax.axhline(self.ideal_loss, color="k", ls="--", lw=0.8)
        kaiming = math.sqrt(2.0 / self.hidden_width)
        ax_0.axvline(kaiming, color="tab:green", lw=0.8)
        ax_0.text(kaiming * 1.1, 2e5, f"Kaiming\n√(2/{self.hidden_width})", color="tab:green", fontsize=7, va="top")
        ax_0.text(1.3e-4, self.ideal_loss * 1.3, f"-log(1/{self.num_classes}) = {self.ideal_loss:.3f}", fontsize=7)
        (self._curve,) = ax_0.plot(self.std_grid, np.ones_like(self.std_grid), color="tab:blue")
        (self._marker,) = ax_0.plot([], [], "o", color="tab:red", ms=7)
        ax_0.set(xscale="log", yscale="log", xlim=(self.std_grid[0], self.std_grid[-1]), ylim=self._loss_lim,
                 xlabel="weight std", ylabel="cross entropy", title="loss before training")
        (self._train_line,) = ax_t.plot([], [], color="tab:blue", lw=1)
        ax_t.set(yscale="log", xlim=(0, self.epochs), ylim=(1e-2, 1e6), xlabel="epoch",
                 title=f"training loss per step (SGD, lr {self.learning_rate:g})")
        ax_a.axhline(1.0 / self.num_classes, color="k", ls="--", lw=0.8)
        (self._acc_line,) = ax_a.plot([], [], "o-", color="tab:orange")
        ax_a.set(xlim=(0.5, self.epochs + 0.5), ylim=(0, 1), xticks=range(1, self.epochs + 1), xlabel="epoch",
                 ylabel="validation accuracy", title="validation accuracy")
        self._text = ax_t.text(0.97, 0.97, "", transform=ax_t.transAxes, ha="right", va="top", fontsize=8)
        self._acc_text = ax_a.text(0.03, 0.97, "", transform=ax_a.transAxes, va="top", fontsize=8)
        for ax in (ax_0, ax_t):
            ax.minorticks_off()
        self.axes = (ax_0, ax_t, ax_a)
        self.animate(self._curve, self._marker, self._train_line, self._acc_line, self._text, self._acc_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        std, hidden = float(p["std"]), int(p["hidden_layers"])
        curve = self.loss_curve(hidden)
        self._curve.set_ydata(_clip_log(curve, *self._loss_lim))
        with one_blas_thread():
            start = initial_loss([std * w for w in self.directions(hidden)], self.X, self.y)
        self._marker.set_data([std], _clip_log(np.array([start]), *self._loss_lim))
        run = self.run(std, hidden)
        steps = np.arange(len(run.losses)) / run.steps_per_epoch
        self._train_line.set_data(steps, _clip_log(run.losses, 1e-2, 1e6))
        self._acc_line.set_data(np.arange(1, self.epochs + 1), np.nan_to_num(run.val_accuracy, nan=0.0))
        self._train_line.set_color("tab:red" if run.diverged else "tab:blue")
        self._text.set_text("diverged (NaN)" if run.diverged else f"start {start:.4g}")
        last = run.val_accuracy[-1]
        self._acc_text.set_text(f"{0.0 if np.isnan(last) else last:.1%}")
