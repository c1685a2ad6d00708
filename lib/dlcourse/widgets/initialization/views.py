"""The slider views of notebook 04_initialization (Tokyo DL 2 "Initialization", I2DL "Training Neural Networks
II", TUM ML "Deep learning 2"): drawing only.

* :class:`ActivationStatsView`: the lectures' deep stack ``h_l = f(h_{l-1} W_l)``
  *while it trains* on the digits, from one of four initializations (N(0, 0.01²),
  Xavier, Kaiming, N(0, 1)), tanh or ReLU: per layer, the histogram of the
  activations at a chosen step, their standard deviation and the share of units
  that pass no gradient (dead ReLUs, saturated tanh units) over the training
  steps, and the loss. Notebook 02's GradientFlowView shows one pass at
  initialization; this one shows what training then does to each layer: a tiny
  start that never moves, Xavier's shrinking ReLU layers that training first has
  to re-scale, saturated tanh units that stay saturated, N(0, 1) diverging.
* :class:`InitialLossView`: a ReLU MLP on the digits with every weight drawn
  from N(0, std²): the loss before training against std (the ideal is
  -log(1/K) = log 10 for K = 10 classes), and the first epochs of SGD from
  that start: too large a std starts with a huge loss (or diverges), too small
  a one starts at log 10 but hardly moves.

The first view trains with the student's ``forward_activations`` and
``weight_gradients``, with the reference standing in while they are stubs or
when they fail a check made first (the title then says which function to fix,
so a diverging run is never blamed on the initialization when the function
is wrong). Each of its eight runs (four initializations, two activations) is
made the first time the sliders ask for it and kept, so the step slider, and
any later visit, only redraws. The numbers come from
:mod:`dlcourse.widgets.initialization.compute`. Small matrix products are run
on one BLAS thread: on two cores the threads cost more than they save at these
sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np

from dlcourse import data
from dlcourse.widgets.core import FunctionMissing, Slider, View, WithFallback, display_clip, one_blas_thread
from dlcourse.widgets.initialization.checked import CheckedFunction, student_problems
from dlcourse.widgets.initialization.compute import (
    ACTIVATIONS,
    SATURATED,
    StackTraining,
    TrainingRun,
    activation_rows,
    histogram_rows,
    initial_loss,
    mlp_weights,
    standardize,
    train_mlp,
    train_stack,
)

__all__ = ["ActivationStatsView", "InitialLossView"]


class ActivationStatsView(View):
    """Layer statistics of a deep stack while it trains on the digits: what happens to them after step 0.

    L bias-free layers ``h_l = f(h_{l-1} W_l)`` of ``width`` units (the first has the 64 pixels as inputs) and
    a linear read-out are trained by minibatch SGD; every ``every`` steps the activations of a fixed probe
    batch are summarised per layer. ``forward_activations`` and ``weight_gradients`` are the student's, if
    given: checked once on a small stack first (against the reference where it exists, and the backward pass
    against central differences of the forward pass), so a wrong function is named instead of a training run
    that it made diverge being blamed on the initialization.
    """

    # (label, std of the weights, or None, gain g = std * sqrt(fan_in), or None); the stack is square, fan_in 64.
    PRESETS = (("N(0, 0.01²)", 0.01, None), ("Xavier", None, 1.0), ("Kaiming", None, math.sqrt(2.0)),
               ("N(0, 1)", 1.0, None))
    STD_LIMITS = (1e-8, 1e4)  # the std axis: values beyond are drawn at the border
    LOSS_LIMITS = (1e-2, 1e3)

    def __init__(self, forward_activations: Callable[..., Any] | None = None,
                 weight_gradients: Callable[..., Any] | None = None, *, depth: int = 6, steps: int = 150,
                 every: int = 5, learning_rate: float = 0.1, probe_size: int = 256, bins: int = 50,
                 seed: int = 0) -> None:
        if not 2 <= depth <= 12 or steps < every or every < 1:
            raise ValueError("depth must be between 2 and 12, and steps a multiple of every >= 1")
        digits = data.load_digits(seed=seed)
        self.X, X_val = standardize(digits.X_train, digits.X_val)
        self.y = np.asarray(digits.y_train)
        self.X_probe, self.y_probe = X_val[:probe_size], np.asarray(digits.y_val[:probe_size])
        self.width = self.X.shape[1]  # square layers: fan_in = fan_out = 64 everywhere
        self.depth, self.steps, self.every, self.learning_rate, self.seed = depth, steps, every, learning_rate, seed
        draw = np.random.default_rng(seed)
        self.directions = [draw.standard_normal((self.width, self.width)) for _ in range(depth)]
        self.readout = draw.standard_normal((self.width, 10)) / math.sqrt(self.width)
        self.edges = np.linspace(-3.0, 3.0, bins + 1)
        self.gains = [gain if gain is not None else std * math.sqrt(self.width) for _, std, gain in self.PRESETS]
        broken = student_problems(forward_activations, weight_gradients)
        x, ws = self.X_probe[:2], [d[:, :3] if i == 0 else d[:3, :3] for i, d in enumerate(self.directions)]
        self._forward = CheckedFunction("forward_activations", forward_activations, "init.forward_activations",
                                        broken.get("forward_activations", ""), probe=(x, ws, "relu"))
        self._backward = CheckedFunction("weight_gradients", weight_gradients, "init.weight_gradients",
                                         broken.get("weight_gradients", ""), probe=(x, ws, "relu", np.ones((2, 3))))
        self._runs: dict[tuple[int, str], StackTraining] = {}
        labels = ", ".join(f"{i} {label}" for i, (label, _, _) in enumerate(self.PRESETS))
        super().__init__({
            "init": Slider("int", 0, len(self.PRESETS) - 1, 1, 2, f"initialization ({labels})"),
            "activation": Slider("int", 0, 1, 1, 1, "activation: 0 tanh, 1 ReLU"),
            "step": Slider("int", 0, steps, every, 0, "training step"),
        }, figsize=(11, 6.4), title=f"{depth} layers of {self.width} units trained on the digits (SGD, learning "
                                    f"rate {learning_rate:g}): every layer, step by step")
        # The bin histogram_rows puts 0 into (ReLU's zeros): its spike is cut so the rest of a row stays visible.
        self._zero_bin = int(np.argmax(histogram_rows([np.zeros(1)], self.edges)[0]))
        self._build()
        self.update()

    # -- computation ---------------------------------------------------------------------------------

    def run(self, index: int, activation: str) -> StackTraining:
        """The training run of preset ``index`` with ``activation``; FunctionMissing where it cannot run.

        Made on first use and kept (one run takes about a tenth of a second; each of the eight is made once).
        """
        key = (index, activation)
        if key not in self._runs:
            missing = [f.name for f in (self._forward, self._backward) if not f.available()]
            if missing:
                self._missing += [name for name in missing if name not in self._missing]
                raise FunctionMissing(missing[0])
            with one_blas_thread():
                self._runs[key] = train_stack(
                    self._forward, self._backward, self.X, self.y, self.X_probe, self.y_probe, self.directions,
                    self.readout, self.gains[index], activation, steps=self.steps, every=self.every,
                    learning_rate=self.learning_rate, edges=self.edges, seed=self.seed)
        return self._runs[key]

    # -- drawing -----------------------------------------------------------------------------------------

    def _build(self) -> None:
        grid = self.fig.add_gridspec(2, 2, width_ratios=(1, 1.25))
        ax_h, ax_s = self.fig.add_subplot(grid[0, 0]), self.fig.add_subplot(grid[0, 1])
        ax_o, ax_l = self.fig.add_subplot(grid[1, 0]), self.fig.add_subplot(grid[1, 1])
        L, steps = self.depth, np.arange(0, self.steps + 1, self.every)
        colors = [matplotlib.colormaps["viridis"](0.9 * i / max(L - 1, 1)) for i in range(L)]
        self._ridges = [ax_h.stairs(np.zeros(len(self.edges) - 1), self.edges, baseline=float(L - layer),
                                    fill=True, color=colors[layer - 1], alpha=0.9) for layer in range(1, L + 1)]
        ax_h.set(xlim=(self.edges[0], self.edges[-1]), ylim=(-0.1, L + 0.05),
                 yticks=[L - layer + 0.4 for layer in range(1, L + 1)],
                 yticklabels=[str(layer) for layer in range(1, L + 1)], ylabel="layer",
                 xlabel="value of $h_l$ on the probe images (beyond ±3: edge bins)")
        ax_h.tick_params(axis="y", length=0)
        self._hist_title = ax_h.set_title("", fontsize=10)
        self._std_lines = [ax_s.plot(steps, np.ones_like(steps, dtype=float), color=c, lw=1.5,
                                     label=f"layer {i + 1}")[0] for i, c in enumerate(colors)]
        ax_s.set(yscale="log", ylim=self.STD_LIMITS, xlim=(0, self.steps), ylabel="std of $h_l$",
                 title="spread of each layer's activations")
        ax_s.legend(loc="lower right", fontsize=7, ncol=3, frameon=False)
        self._off_lines = [ax_o.plot(steps, np.zeros_like(steps, dtype=float), color=c, lw=1.5)[0]
                           for c in colors]
        ax_o.set(ylim=(-2, 102), xlim=(0, self.steps), xlabel="training step", ylabel="% of units",
                 title="units that pass (almost) no gradient")
        self._off_text = ax_o.text(0.02, 0.95, "", transform=ax_o.transAxes, va="top", fontsize=8)
        (self._loss_line,) = ax_l.plot([], [], color="0.3", lw=0.8)
        ax_l.set(yscale="log", ylim=self.LOSS_LIMITS, xlim=(0, self.steps), xlabel="training step",
                 ylabel="minibatch loss", title="training")
        ax_l.axhline(math.log(10), color="k", ls="--", lw=0.8)
        self._loss_text = ax_l.text(0.98, 0.95, "", transform=ax_l.transAxes, ha="right", va="top", fontsize=9)
        self._cursors = [ax.axvline(0, color="tab:red", lw=1) for ax in (ax_s, ax_o, ax_l)]
        for ax in (ax_s, ax_l):
            ax.minorticks_off()
        self.axes = (ax_h, ax_s, ax_o, ax_l)
        self.animate(*self._ridges, *self._std_lines, *self._off_lines, self._loss_line, *self._cursors,
                     self._off_text, self._loss_text, self._hist_title)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        index, activation = int(p["init"]), ACTIVATIONS[int(p["activation"])]
        k = min(max(round(p["step"] / self.every), 0), self.steps // self.every)  # the snapshot shown
        step = k * self.every
        training = [*self._ridges, *self._std_lines, *self._off_lines, self._loss_line, *self._cursors,
                    self._off_text, self._loss_text, self._hist_title]
        with self.part(*training):
            run = self.run(index, activation)
            heights = activation_rows(run.hist[k], skip=self._zero_bin)
            for layer, ridge in enumerate(self._ridges):
                ridge.set_data(self.depth - 1 - layer + 0.85 * heights[layer], self.edges,
                               baseline=self.depth - 1 - layer)
            for layer, (s_line, o_line) in enumerate(zip(self._std_lines, self._off_lines, strict=True)):
                s_line.set_ydata(display_clip(run.stds[:, layer], *self.STD_LIMITS))
                o_line.set_ydata(100 * np.nan_to_num(run.off[:, layer], nan=0.0))
            self._loss_line.set_data(np.arange(self.steps), display_clip(run.losses, *self.LOSS_LIMITS))
            for cursor in self._cursors:
                cursor.set_xdata([step, step])
            label = self.PRESETS[index][0]
            self._hist_title.set_text(f"{activation}, {label}: histograms at step {step}")
            self._off_text.set_text("ReLU: 0 on every probe image (dead)" if activation == "relu"
                                    else f"tanh: |h| > {SATURATED} (saturated)")
            self._loss_text.set_text(self._status(run, k, step))
        self.show_fallbacks(self._forward, self._backward)

    def _status(self, run: StackTraining, k: int, step: int) -> str:
        if run.diverged_at is not None and step > run.diverged_at:
            return (f"diverged at step {run.diverged_at}: the loss became inf or NaN\n"
                    "(the weights are too large for this learning rate)")
        return f"probe accuracy at step {step}: {run.accuracy[k]:.0%}"

    def show_fallbacks(self, *functions: WithFallback) -> None:
        """As View.show_fallbacks, but a function that fails its check is named as such ("fix ... first")."""
        fix = [name for name in self._missing if any(f.name == name and f.broken for f in functions)]
        implement = [name for name in self._missing if name not in fix]
        self._missing = []
        notes = [f"fix `{name}` first: {next(f.broken for f in functions if f.name == name)}" for name in fix]
        if implement:
            notes.append(f"implement {', '.join(f'`{name}`' for name in implement)} first")
        reasons = "; ".join(f.note for f in functions if f.note)
        if reasons:
            notes.append(f"using the reference: {reasons}")
        text = f"{self.base_title}\n({'; '.join(notes)})" if notes else self.base_title
        if text != self.title.get_text():
            self.title.set_text(text)
            self.invalidate()


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
