"""The slider views of notebook 02_backprop (I2DL "Introduction to Neural Networks", "Optimization and
Backpropagation"; Tokyo DL2's TwoLayerNet): drawing only.

* :class:`GradientFlowView`: the backward pass through a two-layer network
  built from the student's own layer functions, node by node, on one held-out
  digit: the gradient arriving at the scores, at the hidden activations before
  and after the activation function, and at the pixels, with the step the
  backward pass has reached, the loss (cross entropy or hinge) and the
  activation as sliders; and a central-difference check that says when the
  gradients drawn are wrong because a function is.
* :class:`TwoLayerTrainingView`: a two-layer ReLU net trained by full-batch
  gradient descent on a 2-D toy problem. Hidden width, learning rate and
  number of steps against the loss curve and the decision boundary.

Both run the student's own functions (``affine_forward``, ``affine_backward``,
``sigmoid_backward``, ``leaky_relu_backward``, ``softmax_cross_entropy``,
``svm_loss``, ``two_layer_loss``) when given, with the reference standing in
while those are stubs; the numbers come from :mod:`dlcourse.widgets.backprop.compute`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection

from dlcourse.lazy_reference import reference
from dlcourse.widgets.backprop.compute import (
    ACTIVATIONS,
    LOSSES,
    TWO_LAYER_PARAMS,
    WALK,
    LayerFunctions,
    backward_walk,
    class_probabilities,
    decision_boundary,
    directional_check,
    finite_params,
    init_two_layer,
    packed_two_layer_loss,
    train_flow_network,
    train_two_layer,
    unpack,
    walk_check,
)
from dlcourse.widgets.core import Slider, View, WithFallback, display_clip, one_blas_thread

__all__ = ["GradientFlowView", "TwoLayerTrainingView"]

PANEL_TITLES = {"s": "∂L/∂s (scores)", "a1": "∂L/∂a₁ = ∂L/∂s W₂ᵀ", "z1": "∂L/∂z₁ = ∂L/∂a₁ ⊙ f′(z₁)",
                "x": "∂L/∂x (pixels)"}
CHECK_TOLERANCE = 1e-4  # central differences in float64 agree to ~1e-8; a wrong backward is off by 1e-1 or more


def _image_shape(D: int) -> tuple[int, int]:
    side = math.isqrt(D)
    return (side, side) if side * side == D else (1, D)


class GradientFlowView(View):
    """The gradient flowing back through a two-layer network of the student's layers, node by node, for one digit.

    X: (N, D) inputs and y: (N,) labels; the first half trains the network
    (once per activation, full-batch gradient descent on the cross entropy, run
    by the same functions), the second half are the held-out digits shown. The
    student's layer functions are optional keyword arguments (see
    :class:`LayerFunctions`). Each gradient is drawn divided by its largest
    entry (its norm is printed), so that the pattern shows whatever its size;
    entries that are exactly 0 are marked with a cross.
    """

    HIDDEN = 32
    TRAIN_STEPS = 200
    LEARNING_RATE = 0.5

    def __init__(self, X: np.ndarray, y: np.ndarray, *, seed: int = 0, **functions: Callable[..., Any] | None
                 ) -> None:
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],) or self.X.shape[0] < 4:
            raise ValueError(f"need X (N, D) and y (N,) with N >= 4, got {self.X.shape} and {self.y.shape}")
        self.fns = LayerFunctions(**functions)
        self.seed = seed
        half = self.X.shape[0] // 2
        self.X_train, self.y_train = self.X[:half], self.y[:half]
        self.X_shown, self.y_shown = self.X[half:], self.y[half:]
        self.num_classes = int(self.y.max()) + 1
        self._nets: dict[str, dict[str, np.ndarray]] = {}  # activation -> trained parameters, made on first use
        super().__init__({
            "example": Slider("int", 0, len(self.y_shown) - 1, 1, 0, "held-out digit"),
            "activation": Slider("int", 0, len(ACTIVATIONS) - 1, 1, 2, "activation (0 σ, 1 tanh, 2 ReLU, 3 leaky)"),
            "loss": Slider("int", 0, len(LOSSES) - 1, 1, 0, "loss (0 cross entropy, 1 hinge)"),
            "steps": Slider("int", 0, len(WALK), 1, len(WALK), "backward steps done"),
        }, figsize=(11, 3.6), title="The backward pass through your two-layer network, for one digit")
        self._build()
        self.update()

    def network(self, activation: str) -> dict[str, np.ndarray]:
        """The network trained with this activation (trained on first use, then kept)."""
        if activation not in self._nets:
            with one_blas_thread():
                self._nets[activation] = train_flow_network(
                    self.X_train, self.y_train, activation, self.fns, hidden=self.HIDDEN, steps=self.TRAIN_STEPS,
                    learning_rate=self.LEARNING_RATE, seed=self.seed)
        return self._nets[activation]

    def _build(self) -> None:
        axes = self.fig.subplots(1, 5, gridspec_kw={"width_ratios": [1, 1, 1.5, 1.5, 1.2]})
        ax_in, ax_x, ax_z1, ax_a1, ax_s = axes
        shape = _image_shape(self.X.shape[1])
        lo, hi = float(self.X.min()), float(self.X.max())
        self.digit = ax_in.imshow(np.zeros(shape), cmap="gray_r", vmin=lo, vmax=hi if hi > lo else lo + 1)
        ax_in.set(xticks=[], yticks=[], title="x (forward →)")
        self.digit_text = ax_in.text(0.5, -0.08, "", transform=ax_in.transAxes, ha="center", va="top", fontsize=9)
        self.images = {"x": ax_x.imshow(np.zeros(shape), cmap="RdBu_r", vmin=-1, vmax=1)}
        ax_x.set(xticks=[], yticks=[], title=PANEL_TITLES["x"])
        self.stems: dict[str, LineCollection] = {}
        self.zeros: dict[str, Any] = {}
        for node, ax, size in (("z1", ax_z1, self.HIDDEN), ("a1", ax_a1, self.HIDDEN), ("s", ax_s, self.num_classes)):
            ax.axhline(0, color="0.6", lw=0.8)
            self.stems[node] = ax.add_collection(LineCollection([], colors="tab:red", linewidths=2))
            (self.zeros[node],) = ax.plot([], [], "x", color="0.3", ms=4)
            ax.set(xlim=(-1, size), ylim=(-1.15, 1.15), yticks=[-1, 0, 1], title=PANEL_TITLES[node],
                   xlabel="class" if node == "s" else "hidden unit")
        self.norm_texts = {node: ax.text(0.98, 0.98, "", transform=ax.transAxes, ha="right", va="top",
                                         fontsize=8, color="0.25")
                           for node, ax in zip(("z1", "a1", "s"), (ax_z1, ax_a1, ax_s), strict=True)}
        self.norm_texts["x"] = ax_x.text(0.5, -0.08, "", transform=ax_x.transAxes, ha="center", va="top",
                                         fontsize=9)
        self.status = self.fig.text(0.5, 0.015, "", ha="center", va="bottom", fontsize=9)
        self.axes = tuple(axes)
        self.animate(self.digit, self.digit_text, *self.images.values(), *self.stems.values(), *self.zeros.values(),
                     *self.norm_texts.values(), self.status)
        self.layout()
        self.fig.subplots_adjust(bottom=0.2)

    def update(self, **params: float) -> None:
        p = self.merge(params)
        k, activation, loss = int(p["example"]), ACTIVATIONS[int(p["activation"])], LOSSES[int(p["loss"])]
        steps = int(p["steps"])
        x, label = self.X_shown[k], int(self.y_shown[k])
        self.digit.set_data(x.reshape(self.digit.get_array().shape))
        drawn = (*self.images.values(), *self.stems.values(), *self.zeros.values(), *self.norm_texts.values(),
                 self.status, self.digit_text)
        with self.part(*drawn):
            with one_blas_thread(), np.errstate(all="ignore"):  # a student's broken pass may overflow: shown as such
                net = self.network(activation)
                walk = backward_walk(x, label, net, activation, loss, self.fns)
                error = walk_check(x, label, net, activation, loss, self.fns, walk)
            for i, node in enumerate(WALK):
                self._draw_node(node, walk["grads"][node], reached=i < steps)
            predicted = int(np.argmax(walk["scores"]))
            self.digit_text.set_text(f"label {label}, predicted {predicted}\np(label) = {walk['probs'][label]:.2g}")
            # Short: every glyph of an animated text is rendered again on each update (most of an update's time).
            self.status.set_text(f"loss {walk['loss']:.3g} · step {steps}/{len(WALK)} · {self._check_text(error)}")
        if self.status.get_visible():  # drawn: now hide the nodes the backward pass has not reached
            for i, node in enumerate(WALK):
                for artist in (self.images.get(node), self.stems.get(node), self.zeros.get(node)):
                    if artist is not None:
                        artist.set_visible(i < steps)
        self.show_fallbacks(*self.fns.all())

    def _draw_node(self, node: str, grad: np.ndarray, reached: bool) -> None:
        grad = np.asarray(grad, dtype=np.float64)
        norm, top = float(np.linalg.norm(grad)), float(np.max(np.abs(grad))) if grad.size else 0.0
        shown = grad / top if top > 0 and np.isfinite(top) else np.zeros_like(grad)
        if node in self.images:
            self.images[node].set_data(shown.reshape(self.images[node].get_array().shape))
        else:
            idx = np.arange(grad.size)
            self.stems[node].set_segments([((i, 0.0), (i, v)) for i, v in zip(idx, shown, strict=True)])
            zero = idx[grad == 0]
            self.zeros[node].set_data(zero, np.zeros(zero.size))
        self.norm_texts[node].set_text(f"norm {norm:.2g}" if reached else "not yet")

    @staticmethod
    def _check_text(error: float) -> str:
        if not np.isfinite(error):
            return "not checked (at a kink)"
        if error == 0:
            return "check ok (all 0)"
        if error < CHECK_TOLERANCE:
            return f"check ok ({error:.0e})"
        return f"your backward pass is WRONG here: central differences disagree ({error:.1e})"


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
        self._runs: dict[tuple[int, float], tuple[np.ndarray, list[dict[str, np.ndarray]], str, float]] = {}
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

    def run(self, width: int, learning_rate: float) -> tuple[np.ndarray, list[dict[str, np.ndarray]], str, float]:
        """(losses, snapshots, fallback note, gradient error) of one training run, cached.

        The gradient error is :func:`directional_check` of the loss function at the start: above
        CHECK_TOLERANCE the function is wrong, and the run says nothing about the learning rate.
        """
        key = (int(width), float(learning_rate))
        if key not in self._runs:
            if len(self._runs) > 32:
                self._runs.clear()
            params = init_two_layer(key[0], self.num_classes, np.random.default_rng(self.seed))
            with one_blas_thread():
                with np.errstate(all="ignore"):  # a wrong function may overflow: the check then says so
                    error = directional_check(self.loss_and_grads, params, self.X, self.y)
                note = self._loss.note
                losses, snapshots = train_two_layer(self.loss_and_grads, params, self.X, self.y, key[1],
                                                    self.MAX_STEPS)
            self._runs[key] = (losses, snapshots, note or self._loss.note, error)
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
            losses, snapshots, note, error = self.run(int(p["width"]), float(p["learning_rate"]))
            k = int(p["steps"])
            current = snapshots[k]
            with one_blas_thread(), np.errstate(all="ignore"):
                probs = class_probabilities(current, self._grid) if finite_params(current) else None
                train_probs = class_probabilities(current, self.X) if probs is not None else None
            wrong = not error < CHECK_TOLERANCE  # NaN too: the function's own numbers are not finite
            if wrong:
                self.acc_text.set_text(f"your two_layer_loss is wrong: its gradient disagrees\nwith its own "
                                       f"loss ({error:.0e}), so this run is no test\nof the learning rate")
            if probs is None or not np.all(np.isfinite(probs)):
                self.boundary.set_data([], [])
                if not wrong:
                    self.acc_text.set_text("diverged: the learning rate is too large")
            else:
                self.boundary.set_data(*decision_boundary(self._gx, self._gy, probs))
                accuracy = np.mean(train_probs.argmax(axis=1) == self.y)
                if not wrong:
                    self.acc_text.set_text(f"training accuracy {accuracy:.0%}")
            steps = np.arange(self.MAX_STEPS)
            shown = display_clip(losses, *self.LOSS_LIM)
            self.loss_line.set_data(steps, shown)
            at = min(k, self.MAX_STEPS - 1)
            self.loss_marker.set_data([at], [shown[at]])
            last = losses[at]
            self.loss_text.set_text("your gradient is wrong" if wrong else
                                    f"loss {last:.3g}" if np.isfinite(last) else "loss diverged")
            self._loss.note = note  # the note of the run shown, not of the last one trained
        self.show_fallbacks(self._loss)
