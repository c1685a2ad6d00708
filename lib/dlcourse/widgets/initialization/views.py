"""The slider views of notebook 04_initialization (Tokyo DL 2 "Initialization", I2DL "Training Neural Networks
II", TUM ML "Deep learning 2"): drawing only.

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
``weight_gradients``, with the reference standing in while they are stubs;
its comparison curves (N(0, 0.01²), N(0, 1), Xavier, Kaiming) come from the
same functions. The numbers come from
:mod:`dlcourse.widgets.initialization.compute`; the random matrices are drawn
once, so a slider only rescales them. Small matrix products are run on one
BLAS thread: on two cores the threads cost more than they save at these sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.widgets.core import Slider, View, WithFallback, display_clip, one_blas_thread
from dlcourse.widgets.initialization.compute import (
    ACTIVATIONS,
    TrainingRun,
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    layer_stds,
    mlp_weights,
    standardize,
    train_mlp,
)

__all__ = ["ActivationStatsView", "InitialLossView"]


class ActivationStatsView(View):
    """Per-layer activation histograms and the std per layer, forward and backward, of a deep stack.

    ``forward_activations(x, weights, activation) -> [h_1, ..., h_L]`` and
    ``weight_gradients(x, weights, activation, dout) -> [dW_1, ..., dW_L]``
    are the student's, if given; they draw the histograms and the red curve of
    the chosen gain, and the grey comparison curves (N(0, 0.01²), N(0, 1),
    Xavier, Kaiming) of every depth, computed when the view is built.
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
        self._forward = WithFallback("forward_activations", forward_activations, "init.forward_activations")
        self._backward = WithFallback("weight_gradients", weight_gradients, "init.weight_gradients")
        self.presets = [(label, gain if gain is not None else std * math.sqrt(width), style)
                        for label, std, gain, style in self.PRESETS]
        self._fwd_cache: dict[tuple[float, str], tuple[np.ndarray, np.ndarray]] = {}
        self._bwd_cache: dict[tuple[float, str, int], np.ndarray] = {}
        super().__init__({
            "gain": Slider("log", 10**-1.5, 10**1.5, 0.05, 1.0, "gain g (std = g/√n)"),
            "activation": Slider("int", 0, 1, 1, 0, "activation: 0 tanh, 1 ReLU"),
            "depth": Slider("int", 2, max_depth, 1, min(10, max_depth), "layers"),
        }, figsize=(11, 4.0), title=f"{max_depth} layers of {width} units on unit Gaussian input, "
                                    f"weights N(0, (g/√{width})²)")
        # The comparison curves of every activation and depth, made now so that a slider only redraws.
        with self.part():
            for activation in ACTIVATIONS:
                self.preset_forward(activation, max_depth)
        with self.part():
            for activation in ACTIVATIONS:
                for depth in range(2, max_depth + 1):
                    self.preset_backward(activation, depth)
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
            if len(self._fwd_cache) > 256 + len(self.PRESETS) * len(ACTIVATIONS):
                self._fwd_cache.clear()
            shape = (self.max_depth, *self.x.shape)
            with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
                hs = self._forward(self.x, self.weights(gain), activation, shape=shape)
                self._fwd_cache[key] = (layer_stds(hs), histogram_rows(hs, self.edges))
        return self._fwd_cache[key]

    def backward_stats(self, gain: float, activation: str, depth: int) -> np.ndarray:
        """std of dL/dW_l for l = 1..depth, L = sum(h_depth * dout), by the student's function."""
        key = (round(gain, 12), activation, depth)
        if key not in self._bwd_cache:
            if len(self._bwd_cache) > 512 + len(self.PRESETS) * len(ACTIVATIONS) * self.max_depth:
                self._bwd_cache.clear()
            shape = (depth, self.width, self.width)
            with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
                grads = self._backward(self.x, self.weights(gain, depth), activation, self.dout, shape=shape)
                self._bwd_cache[key] = layer_stds(grads)
        return self._bwd_cache[key]

    def preset_forward(self, activation: str, depth: int) -> list[np.ndarray]:
        """Per comparison curve (PRESETS), the std of h_l for l = 1..depth."""
        return [self.forward_stats(gain, activation)[0][:depth] for _, gain, _ in self.presets]

    def preset_backward(self, activation: str, depth: int) -> list[np.ndarray]:
        """Per comparison curve (PRESETS), the std of dL/dW_l for l = 1..depth."""
        return [self.backward_stats(gain, activation, depth) for _, gain, _ in self.presets]

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
        layers = np.arange(1, depth + 1)
        L, ridges_shown = self.max_depth, 0
        with self.part(self._fwd_line, *self._fwd_presets):
            stds, hist = self.forward_stats(gain, activation)
            heights = activation_rows(hist)
            for layer, ridge in enumerate(self._ridges[:depth], start=1):
                ridge.set_data(L - layer + 0.85 * heights[layer - 1], self.edges, baseline=L - layer)
            ridges_shown = depth
            self._fwd_line.set_data(layers, display_clip(stds[:depth], *self.LIMITS))
            for f_stds, f_line in zip(self.preset_forward(activation, depth), self._fwd_presets, strict=True):
                f_line.set_data(layers, display_clip(f_stds, *self.LIMITS))
        for layer, ridge in enumerate(self._ridges, start=1):
            ridge.set_visible(layer <= ridges_shown)
        with self.part(self._bwd_line, *self._bwd_presets):
            self._bwd_line.set_data(layers, display_clip(self.backward_stats(gain, activation, depth), *self.LIMITS))
            for b_stds, b_line in zip(self.preset_backward(activation, depth), self._bwd_presets, strict=True):
                b_line.set_data(layers, display_clip(b_stds, *self.LIMITS))
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
            "std": Slider("log", 1e-4, 10**0.5, 0.25, 1.0, "weight std"),
            "hidden_layers": Slider("int", 1, max_hidden_layers, 1, 2, "hidden layers"),
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
        self._curve.set_ydata(display_clip(curve, *self._loss_lim))
        with one_blas_thread():
            start = initial_loss([std * w for w in self.directions(hidden)], self.X, self.y)
        self._marker.set_data([std], display_clip(np.array([start]), *self._loss_lim))
        run = self.run(std, hidden)
        steps = np.arange(len(run.losses)) / run.steps_per_epoch
        self._train_line.set_data(steps, display_clip(run.losses, 1e-2, 1e6))
        self._acc_line.set_data(np.arange(1, self.epochs + 1), np.nan_to_num(run.val_accuracy, nan=0.0))
        self._train_line.set_color("tab:red" if run.diverged else "tab:blue")
        self._text.set_text("diverged (NaN)" if run.diverged else f"start {start:.4g}")
        last = run.val_accuracy[-1]
        self._acc_text.set_text(f"{0.0 if np.isnan(last) else last:.1%}")
