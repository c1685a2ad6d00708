"""The slider views of notebook 02_backprop (I2DL "Optimization and Backpropagation", "Training Neural
Networks": activation functions, weight initialization, vanishing gradients): drawing only.

* :class:`GradientFlowView`: one forward and backward pass through a deep
  fully connected net on a batch of digits. Depth, activation and the scale of
  the initial weights against the gradient norm each layer receives, the spread
  of its activations and the mean slope of its activation function: where
  gradients vanish (sigmoid, small weights) or explode (large weights).
* :class:`TwoLayerTrainingView`: a two-layer ReLU net trained by full-batch
  gradient descent on a 2-D toy problem. Hidden width, learning rate and
  number of steps against the loss curve and the decision boundary.

Both run the student's own functions (``affine_forward``, ``affine_backward``,
``sigmoid_backward``, ``leaky_relu_backward``, ``softmax_cross_entropy``,
``two_layer_loss``) when given, with the reference standing in while those
are stubs; the numbers come from :mod:`dlcourse.widgets.backprop.compute`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.lazy_reference import reference
from dlcourse.widgets.backprop.compute import (
    ACTIVATIONS,
    TWO_LAYER_PARAMS,
    LayerFunctions,
    class_probabilities,
    decision_boundary,
    finite_params,
    gradient_flow,
    init_two_layer,
    packed_two_layer_loss,
    train_two_layer,
    unpack,
)
from dlcourse.widgets.core import Slider, View, WithFallback, display_clip, one_blas_thread

__all__ = ["GradientFlowView", "TwoLayerTrainingView"]


class GradientFlowView(View):
    """Depth, activation and weight scale against per-layer gradient norms (vanishing gradients).

    X: (N, D) inputs and y: (N,) labels of a batch; the student's layer
    functions are optional keyword arguments (see :class:`LayerFunctions`).
    Weights are drawn once (seeded) and only rescaled by the sliders:
    W_l = gain * Z_l / sqrt(fan_in) with Z_l standard normal.
    """

    MAX_DEPTH = 20
    WIDTH = 64
    GRAD_LIM = (1e-12, 1e4)

    def __init__(self, X: np.ndarray, y: np.ndarray, *, seed: int = 0, **functions: Callable[..., Any] | None
                 ) -> None:
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"need X (N, D) and y (N,), got {self.X.shape} and {self.y.shape}")
        self.fns = LayerFunctions(**functions)
        C = int(self.y.max()) + 1
        rng = np.random.default_rng(seed)
        D, H = self.X.shape[1], self.WIDTH
        self._Z_first = rng.standard_normal((D, H))
        self._Z_hidden = [rng.standard_normal((H, H)) for _ in range(self.MAX_DEPTH - 2)]
        self._Z_last = rng.standard_normal((H, C))
        super().__init__({
            "depth": Slider("int", 2, self.MAX_DEPTH, 1, 10, "layers L"),
            "activation": Slider("int", 0, len(ACTIVATIONS) - 1, 1, 0, "activation (0 σ, 1 tanh, 2 ReLU, 3 leaky)"),
            "gain": Slider("log", 0.1, 10.0, 0.05, 1.0, "weight scale g (std g/√fan_in)"),
        }, figsize=(10, 3.4), title="Gradient flow through a deep network at initialization")
        self._build()
        self.update()

    def weights(self, depth: int, gain: float) -> list[np.ndarray]:
        """W_1 .. W_L for this depth: the fixed draws, scaled to std gain / sqrt(fan_in)."""
        Zs = [self._Z_first, *self._Z_hidden[:depth - 2], self._Z_last]
        return [gain * Z / np.sqrt(Z.shape[0]) for Z in Zs]

    def _build(self) -> None:
        ax_g, ax_a, ax_s = self.fig.subplots(1, 3)
        xlim = (0.5, self.MAX_DEPTH + 0.5)
        (self.grad_line,) = ax_g.plot([], [], "o-", color="tab:red", ms=4)
        ax_g.set(yscale="log", xlim=xlim, ylim=self.GRAD_LIM, xlabel="layer l", ylabel="‖∂L/∂W_l‖",
                 title="gradient reaching each layer")
        ax_g.minorticks_off()
        self.text = ax_g.text(0.97, 0.95, "", transform=ax_g.transAxes, ha="right", va="top", fontsize=9)
        (self.std_line,) = ax_a.plot([], [], "o-", color="tab:blue", ms=4)
        ax_a.set(yscale="log", xlim=xlim, ylim=(1e-6, 1e4), xlabel="hidden layer l", ylabel="std of a_l",
                 title="spread of the activations")
        ax_a.minorticks_off()
        (self.slope_line,) = ax_s.plot([], [], "o-", color="tab:green", ms=4)
        ax_s.axhline(0.25, color="0.6", lw=0.8, ls="--")
        ax_s.text(self.MAX_DEPTH, 0.27, "σ' ≤ 1/4", ha="right", fontsize=8, color="0.4")
        ax_s.set(xlim=xlim, ylim=(0, 1.05), xlabel="hidden layer l", ylabel="mean f'(z_l)",
                 title="mean slope of the activation")
        self.axes = (ax_g, ax_a, ax_s)
        self.animate(self.grad_line, self.std_line, self.slope_line, self.text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        depth, name = int(p["depth"]), ACTIVATIONS[int(p["activation"])]
        with self.part(self.grad_line, self.std_line, self.slope_line, self.text):
            with one_blas_thread(), np.errstate(all="ignore"):  # exploding activations are part of the picture
                flow = gradient_flow(self.X, self.y, self.weights(depth, p["gain"]), name, self.fns)
            layers = np.arange(1, depth + 1)
            self.grad_line.set_data(layers, display_clip(flow["grad_norm"], *self.GRAD_LIM))
            self.std_line.set_data(layers[:-1], display_clip(flow["act_std"], 1e-6, 1e4))
            self.slope_line.set_data(layers[:-1], np.nan_to_num(flow["slope"], nan=0.0))
            g = flow["grad_norm"]
            ratio = g[0] / g[-1] if g[-1] > 0 else np.inf
            self.text.set_text(f"{name}: first/last {ratio:.0e}")  # short: every glyph is drawn on each update
        self.show_fallbacks(*self.fns.all())


class TwoLayerTrainingView(View):
    """A two-layer ReLU net trained by gradient descent on 2-D points: boundary and loss curve.

    X: (N, 2) points, y: (N,) labels. ``two_layer_loss(params, X, y) -> (loss,
    grads)`` is the student's, if given. For each (width, learning rate) the
    run is trained once for MAX_STEPS steps and kept, so the steps slider only
    picks a snapshot.
    """

    MAX_STEPS = 60  # each (width, learning rate) retrains from scratch within the 50 ms of a slider update
    GRID = 50
    LOSS_LIM = (1e-3, 1e1)

    def __init__(self, X: np.ndarray, y: np.ndarray,
                 two_layer_loss: Callable[..., tuple[float, dict[str, np.ndarray]]] | None = None,
                 *, seed: int = 0) -> None:
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if self.X.ndim != 2 or self.X.shape[1] != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"need X (N, 2) and y (N,), got {self.X.shape} and {self.y.shape}")
        self.num_classes = int(self.y.max()) + 1
        self.seed = seed
        self._loss = WithFallback(
            "two_layer_loss", None if two_layer_loss is None else packed_two_layer_loss(two_layer_loss),
            packed_two_layer_loss(reference("mlp.mlp_loss")))
        self._runs: dict[tuple[int, float], tuple[np.ndarray, list[dict[str, np.ndarray]], str]] = {}
        super().__init__({
            "width": Slider("int", 1, 64, 1, 32, "hidden units H"),
            "learning_rate": Slider("log", 1e-3, 30.0, 0.05, 3.0, "learning rate"),
            "steps": Slider("int", 0, self.MAX_STEPS, 1, self.MAX_STEPS, "steps"),
        }, figsize=(9, 3.6), title="A two-layer network learns a decision boundary")
        self._build()
        self.update()

    def loss_and_grads(self, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
                       ) -> tuple[float, dict[str, np.ndarray]]:
        """The (student's or reference) two-layer loss, through the fallback."""
        shapes = [(), *(params[k].shape for k in TWO_LAYER_PARAMS)]
        flat = self._loss(*(params[k] for k in TWO_LAYER_PARAMS), X, y,
                          shape=(sum(math.prod(s) for s in shapes),))
        loss, *grads = unpack(flat, shapes)
        return float(loss), dict(zip(TWO_LAYER_PARAMS, grads, strict=True))

    def run(self, width: int, learning_rate: float) -> tuple[np.ndarray, list[dict[str, np.ndarray]], str]:
        """(losses, snapshots, fallback note) of one training run, cached."""
        key = (int(width), float(learning_rate))
        if key not in self._runs:
            if len(self._runs) > 32:
                self._runs.clear()
            params = init_two_layer(key[0], self.num_classes, np.random.default_rng(self.seed))
            with one_blas_thread():
                losses, snapshots = train_two_layer(self.loss_and_grads, params, self.X, self.y, key[1],
                                                    self.MAX_STEPS)
            self._runs[key] = (losses, snapshots, self._loss.note)
        return self._runs[key]

    def _build(self) -> None:
        ax_b, ax_l = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        lo, hi = self.X.min(axis=0) - 0.4, self.X.max(axis=0) + 0.4
        self._gx, self._gy = np.linspace(lo[0], hi[0], self.GRID), np.linspace(lo[1], hi[1], self.GRID)
        self._grid = np.stack(np.meshgrid(self._gx, self._gy), axis=-1).reshape(-1, 2)  # (GRID², 2)
        ax_b.scatter(self.X[:, 0], self.X[:, 1], c=self.y, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
        (self.boundary,) = ax_b.plot([], [], color="k", lw=2)
        ax_b.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xticks=[], yticks=[],
                 title="decision boundary (p = 1/2)")
        self.acc_text = ax_b.text(0.02, 0.03, "", transform=ax_b.transAxes, fontsize=9)  # no bbox: 5x the cost
        (self.loss_line,) = ax_l.plot([], [], color="tab:blue")
        (self.loss_marker,) = ax_l.plot([], [], "o", color="tab:red", ms=5)
        ax_l.set(yscale="log", xlim=(0, self.MAX_STEPS), ylim=self.LOSS_LIM, xlabel="step",
                 ylabel="cross-entropy loss", title="training loss")
        ax_l.minorticks_off()
        self.loss_text = ax_l.text(0.97, 0.95, "", transform=ax_l.transAxes, ha="right", va="top", fontsize=9)
        self.axes = (ax_b, ax_l)
        self.animate(self.boundary, self.acc_text, self.loss_line, self.loss_marker, self.loss_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        with self.part(self.boundary, self.acc_text, self.loss_line, self.loss_marker, self.loss_text):
            losses, snapshots, note = self.run(int(p["width"]), float(p["learning_rate"]))
            k = int(p["steps"])
            current = snapshots[k]
            with one_blas_thread(), np.errstate(all="ignore"):
                probs = class_probabilities(current, self._grid) if finite_params(current) else None
                train_probs = class_probabilities(current, self.X) if probs is not None else None
            if probs is None or not np.all(np.isfinite(probs)):
                self.boundary.set_data([], [])
                self.acc_text.set_text("diverged")
            else:
                self.boundary.set_data(*decision_boundary(self._gx, self._gy, probs))
                accuracy = np.mean(train_probs.argmax(axis=1) == self.y)
                self.acc_text.set_text(f"training accuracy {accuracy:.0%}")
            steps = np.arange(self.MAX_STEPS)
            shown = display_clip(losses, *self.LOSS_LIM)
            self.loss_line.set_data(steps, shown)
            at = min(k, self.MAX_STEPS - 1)
            self.loss_marker.set_data([at], [shown[at]])
            last = losses[at]
            self.loss_text.set_text(f"loss {last:.3g}" if np.isfinite(last) else "loss diverged")
            self._loss.note = note  # the note of the run shown, not of the last one trained
        self.show_fallbacks(self._loss)
