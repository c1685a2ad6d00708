"""Slider views of notebook 02_backprop (I2DL "Optimization and Backpropagation", "Training
Neural Networks": activation functions, weight initialization, vanishing gradients).

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
``two_layer_loss``) when given, and fall back to the reference while those
are stubs, saying so in the title. The computations are the plain functions
at the top. The reference is imported inside functions, so this module imports
where it is absent (the grading sandbox).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlcourse.widgets.core import View, WithFallback, one_blas_thread

__all__ = [
    "ACTIVATIONS", "GradientFlowView", "LayerFunctions", "TwoLayerTrainingView", "class_probabilities",
    "decision_boundary", "gradient_flow", "init_two_layer", "one_blas_thread", "train_two_layer",
    "two_layer_scores",
]

ACTIVATIONS = ("sigmoid", "tanh", "ReLU", "leaky ReLU")
LEAKY_ALPHA = 0.01  # the lecture's max(0.01 x, x)



def _layers() -> Any:
    """dlcourse.reference.layers, imported on first use (it is absent when grading)."""
    from dlcourse.reference import layers

    return layers


_MLP: Any = None


def _mlp() -> Any:
    """dlcourse.reference.mlp, imported on first use and kept: a training run calls it every step."""
    global _MLP
    if _MLP is None:
        from dlcourse.reference import mlp

        _MLP = mlp
    return _MLP


def _pack(outputs: Sequence[Any], shapes: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Several arrays as one flat vector, after checking each one's shape (a ValueError if wrong)."""
    outputs = list(outputs)
    if len(outputs) != len(shapes):
        raise ValueError(f"expected {len(shapes)} outputs, got {len(outputs)}")
    arrays = [np.asarray(o, dtype=np.float64) for o in outputs]
    for k, (a, shape) in enumerate(zip(arrays, shapes, strict=True)):
        if a.shape != tuple(shape):
            raise ValueError(f"output {k} has shape {a.shape}, expected {tuple(shape)}")
    return np.concatenate([a.ravel() for a in arrays])


def _unpack(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


# -- computations -------------------------------------------------------------------------

class LayerFunctions:
    """The layer functions a forward/backward pass runs: the student's where they work.

    Each student function is optional; ``notes()`` says which ones the reference
    replaced on the last call, for the figure title.
    """

    def __init__(self, affine_forward: Callable[..., Any] | None = None,
                 affine_backward: Callable[..., Any] | None = None,
                 sigmoid_backward: Callable[..., Any] | None = None,
                 leaky_relu_backward: Callable[..., Any] | None = None,
                 softmax_cross_entropy: Callable[..., Any] | None = None) -> None:
        # The reference is looked up only when a fallback needs it (it is absent when grading).
        self._forward = WithFallback(
            "affine_forward", None if affine_forward is None else (lambda x, w, b: affine_forward(x, w, b)[0]),
            lambda x, w, b: _layers().affine_forward(x, w, b)[0])

        def grads(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., np.ndarray]:
            # The student's backward gets the cache of the student's own forward.
            return lambda x, w, b, dout: _pack(backward(dout, forward(x, w, b)[1]), (x.shape, w.shape, b.shape))

        student_grads = None
        if affine_forward is not None and affine_backward is not None:
            student_grads = grads(affine_forward, affine_backward)
        self._affine_grads = WithFallback(
            "affine_backward", student_grads,
            lambda *args: grads(_layers().affine_forward, _layers().affine_backward)(*args))
        self._sigmoid = WithFallback("sigmoid_backward", sigmoid_backward,
                                     lambda dout, cache: _layers().sigmoid_backward(dout, cache))
        self._leaky = WithFallback("leaky_relu_backward", leaky_relu_backward,
                                   lambda dout, cache: _layers().leaky_relu_backward(dout, cache))

        def loss(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
            return lambda scores, y: _pack(fn(scores, y), ((), scores.shape))

        self._loss = WithFallback(
            "softmax_cross_entropy", None if softmax_cross_entropy is None else loss(softmax_cross_entropy),
            lambda scores, y: loss(_layers().softmax_cross_entropy)(scores, y))

    def all(self) -> tuple[WithFallback, ...]:
        return (self._forward, self._affine_grads, self._sigmoid, self._leaky, self._loss)

    def reset(self) -> None:
        """Forget the notes of earlier passes (a function not called this time used no reference)."""
        for f in self.all():
            f.note = ""

    def affine_forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._forward(x, w, b, shape=(x.shape[0], w.shape[1]))

    def affine_backward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
                        ) -> list[np.ndarray]:
        flat = self._affine_grads(x, w, b, dout, shape=(x.size + w.size + b.size,))
        return _unpack(flat, (x.shape, w.shape, b.shape))

    @staticmethod
    def activation(name: str, z: np.ndarray) -> tuple[np.ndarray, Any]:
        """Forward pass of an activation, (out, cache) with the caches of the notebook's forward functions:
        sigmoid and tanh keep their output, (leaky) ReLU keeps (x, alpha)."""
        if name == "sigmoid":
            e = np.exp(-np.abs(z))  # never overflows
            s = np.where(z >= 0, 1.0, e) / (1.0 + e)
            return s, s
        if name == "tanh":
            t = np.tanh(z)
            return t, t
        alpha = 0.0 if name == "ReLU" else LEAKY_ALPHA
        return np.where(z > 0, z, alpha * z), (z, alpha)

    def activation_backward(self, name: str, dout: np.ndarray, cache: Any) -> np.ndarray:
        if name == "sigmoid":
            return self._sigmoid(dout, cache, shape=dout.shape)
        if name == "tanh":
            return dout * (1.0 - cache * cache)  # no student version: tanh' = 1 - tanh^2
        return self._leaky(dout, cache, shape=dout.shape)

    def softmax_cross_entropy(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        flat = self._loss(scores, y, shape=(1 + scores.size,))
        return float(flat[0]), flat[1:].reshape(scores.shape)


def gradient_flow(X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], activation: str,
                  fns: LayerFunctions | None = None) -> dict[str, Any]:
    """One forward and backward pass of an MLP with zero biases; what each layer sees.

    Inputs:
    - X: (N, D) inputs; y: (N,) labels
    - weights: [W_1 (D, H_1), ..., W_L (H_{L-1}, C)], L >= 1; the activation follows every layer but the last
    - activation: one of ACTIVATIONS
    - fns: the layer functions to run (default: the reference)

    Returns a dict:
    - grad_norm: (L,) the Frobenius norm of dL/dW_l
    - act_std: (L-1,) the standard deviation of each hidden layer's activations a_l
    - slope: (L-1,) the mean local derivative f'(z_l) of each hidden layer's activation
    - loss: the softmax cross-entropy loss
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    fns = fns or LayerFunctions()
    fns.reset()
    L = len(weights)
    a, inputs, caches = X, [], []
    act_std, slope = np.empty(L - 1), np.empty(L - 1)
    for i, W in enumerate(weights):
        b = np.zeros(W.shape[1])
        inputs.append(a)
        z = fns.affine_forward(a, W, b)
        if i < L - 1:
            a, cache = fns.activation(activation, z)
            caches.append(cache)
            act_std[i] = np.std(a)
            slope[i] = np.mean(fns.activation_backward(activation, np.ones_like(z), cache))
        else:
            a = z
    loss, dout = fns.softmax_cross_entropy(a, y)
    grad_norm = np.empty(L)
    for i in range(L - 1, -1, -1):
        W = weights[i]
        dx, dW, _ = fns.affine_backward(inputs[i], W, np.zeros(W.shape[1]), dout)
        grad_norm[i] = np.linalg.norm(dW)
        if i > 0:
            dout = fns.activation_backward(activation, dx, caches[i - 1])
    return {"grad_norm": grad_norm, "act_std": act_std, "slope": slope, "loss": loss}


def two_layer_scores(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """The scores relu(X W1 + b1) W2 + b2 of a two-layer net, (N, C)."""
    return np.maximum(X @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]


def class_probabilities(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """softmax of the two-layer net's scores, (N, C); no overflow for finite scores."""
    scores = two_layer_scores(params, X)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def init_two_layer(width: int, num_classes: int, rng: np.random.Generator, num_inputs: int = 2
                   ) -> dict[str, np.ndarray]:
    """Kaiming-normal weights (std sqrt(2 / fan_in)) and zero biases, as the notebook's init_params."""
    return {"W1": np.sqrt(2.0 / num_inputs) * rng.standard_normal((num_inputs, width)), "b1": np.zeros(width),
            "W2": np.sqrt(2.0 / width) * rng.standard_normal((width, num_classes)), "b2": np.zeros(num_classes)}


def train_two_layer(loss_fn: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray],
                                      tuple[float, dict[str, np.ndarray]]],
                    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, learning_rate: float,
                    steps: int) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """Full-batch gradient descent: the loss before each step, and the parameters after each.

    Returns (losses (steps,), snapshots): snapshots[k] holds the parameters
    after k steps (snapshots[0] is the start), steps + 1 in all. Stops early,
    padding with the last values, once the loss is no longer finite (diverged).
    """
    losses = np.full(steps, np.inf)
    snapshots = [{k: v.copy() for k, v in params.items()}]
    current = snapshots[0]
    with np.errstate(all="ignore"):  # a diverging run overflows: that is what it shows
        for k in range(steps):
            loss, grads = loss_fn(current, X, y)
            losses[k] = loss
            if not np.isfinite(loss):
                snapshots.extend([current] * (steps - k))
                break
            current = {name: value - learning_rate * grads[name] for name, value in current.items()}
            snapshots.append(current)
    return losses, snapshots


# -- views ---------------------------------------------------------------------------------

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
            "depth": ("int", 2, self.MAX_DEPTH, 1, 10, "layers L"),
            "activation": ("int", 0, len(ACTIVATIONS) - 1, 1, 0, "activation (0 σ, 1 tanh, 2 ReLU, 3 leaky)"),
            "gain": ("log", 0.1, 10.0, 0.05, 1.0, "weight scale g (std g/√fan_in)"),
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
        with one_blas_thread(), np.errstate(all="ignore"):  # exploding activations are part of the picture
            flow = gradient_flow(self.X, self.y, self.weights(depth, p["gain"]), name, self.fns)
        layers = np.arange(1, depth + 1)
        self.grad_line.set_data(layers, _clip(flow["grad_norm"], *self.GRAD_LIM))
        self.std_line.set_data(layers[:-1], _clip(flow["act_std"], 1e-6, 1e4))
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
        names = ("W1", "b1", "W2", "b2")

        def packed(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
            def run(W1, b1, W2, b2, X, y):  # arrays only, so WithFallback copies each one
                params = dict(zip(names, (W1, b1, W2, b2), strict=True))
                loss, grads = fn(params, X, y)
                return _pack([loss, *(grads[k] for k in names)], [(), W1.shape, b1.shape, W2.shape, b2.shape])
            return run

        self._loss = WithFallback("two_layer_loss", None if two_layer_loss is None else packed(two_layer_loss),
                                  lambda *args: packed(_mlp().mlp_loss)(*args))
        self._runs: dict[tuple[int, float], tuple[np.ndarray, list[dict[str, np.ndarray]], str]] = {}
        super().__init__({
            "width": ("int", 1, 64, 1, 32, "hidden units H"),
            "learning_rate": ("log", 1e-3, 30.0, 0.05, 3.0, "learning rate"),
            "steps": ("int", 0, self.MAX_STEPS, 1, self.MAX_STEPS, "steps"),
        }, figsize=(9, 3.6), title="A two-layer network learns a decision boundary")
        self._build()
        self.update()

    def loss_and_grads(self, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
                       ) -> tuple[float, dict[str, np.ndarray]]:
        """The (student's or reference) two-layer loss, through the fallback."""
        shapes = [(), *(params[k].shape for k in ("W1", "b1", "W2", "b2"))]
        flat = self._loss(params["W1"], params["b1"], params["W2"], params["b2"], X, y,
                          shape=(sum(math.prod(s) for s in shapes),))
        loss, *grads = _unpack(flat, shapes)
        return float(loss), dict(zip(("W1", "b1", "W2", "b2"), grads, strict=True))

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
        losses, snapshots, note = self.run(int(p["width"]), float(p["learning_rate"]))
        k = int(p["steps"])
        current = snapshots[k]
        with one_blas_thread(), np.errstate(all="ignore"):
            probs = class_probabilities(current, self._grid) if _finite(current) else None
            train_probs = class_probabilities(current, self.X) if probs is not None else None
        if probs is None or not np.all(np.isfinite(probs)):
            self.boundary.set_data([], [])
            self.acc_text.set_text("diverged")
        else:
            self.boundary.set_data(*decision_boundary(self._gx, self._gy, probs))
            accuracy = np.mean(train_probs.argmax(axis=1) == self.y)
            self.acc_text.set_text(f"training accuracy {accuracy:.0%}")
        steps = np.arange(self.MAX_STEPS)
        shown = _clip(losses, *self.LOSS_LIM)
        self.loss_line.set_data(steps, shown)
        at = min(k, self.MAX_STEPS - 1)
        self.loss_marker.set_data([at], [shown[at]])
        last = losses[at]
        self.loss_text.set_text(f"loss {last:.3g}" if np.isfinite(last) else "loss diverged")
        self._loss.note = note  # the note of the run shown, not of the last one trained
        self.show_fallbacks(self._loss)


def decision_boundary(gx: np.ndarray, gy: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curves where a class's probability is 1/2, as x and y arrays with NaN between pieces.

    probs: (len(gy) * len(gx), C) on the grid of meshgrid(gx, gy). With two classes
    this is the decision boundary; with more, where each class starts to win outright.
    """
    import contourpy

    C = probs.shape[1]
    pieces = []
    for k in range(1 if C == 2 else 0, C):
        z = probs[:, k].reshape(len(gy), len(gx))
        for line in contourpy.contour_generator(gx, gy, z).lines(0.5):
            pieces += [line, np.full((1, 2), np.nan)]
    if not pieces:
        return np.array([]), np.array([])
    xy = np.concatenate(pieces)
    return xy[:, 0], xy[:, 1]


def _finite(params: dict[str, np.ndarray]) -> bool:
    return all(np.all(np.isfinite(v)) for v in params.values())


def _clip(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values put into [lo, hi] for a log plot; inf and nan shown at hi (exploded or diverged)."""
    return np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=hi, posinf=hi, neginf=lo), lo, hi)
