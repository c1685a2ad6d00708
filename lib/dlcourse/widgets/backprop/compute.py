"""The computations of notebook 02's views (I2DL "Introduction to Neural Networks", "Optimization and
Backpropagation"; Tokyo DL2): plain NumPy.

* :func:`backward_walk`: one example through a two-layer network built from
  :class:`LayerFunctions` (the student's layer functions, the reference standing
  in for those not done), and back: the gradient arriving at every node of the
  graph, from the loss down to the pixels, and a central-difference check of it
  (:func:`walk_check`). :func:`train_flow_network` trains that network once.
* :func:`train_two_layer` and its helpers: full-batch gradient descent of a
  two-layer ReLU net with a given loss function, the class probabilities on a
  grid, the decision boundary read off them, and :func:`directional_check`,
  which tells a wrong gradient from a learning rate that is too large.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlcourse.lazy_reference import reference
from dlcourse.widgets.fallback import WithFallback

__all__ = [
    "ACTIVATIONS", "LEAKY_ALPHA", "LOSSES", "TWO_LAYER_PARAMS", "WALK", "LayerFunctions", "backward_walk",
    "class_probabilities", "decision_boundary", "directional_check", "finite_params", "init_two_layer",
    "packed_two_layer_loss", "train_flow_network", "train_two_layer", "two_layer_scores", "unpack", "walk_check",
]

ACTIVATIONS = ("sigmoid", "tanh", "ReLU", "leaky ReLU")
LEAKY_ALPHA = 0.01  # the lecture's max(0.01 x, x)
TWO_LAYER_PARAMS = ("W1", "b1", "W2", "b2")
LOSSES = ("cross entropy", "hinge")
# The nodes of the two-layer graph whose gradients the backward pass computes, in the order it visits them:
# the scores s, the hidden activations a1, the hidden pre-activations z1, the input x.
WALK = ("s", "a1", "z1", "x")


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


def unpack(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """The arrays of these shapes, in order, from one flat vector (the inverse of packing them)."""
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


# -- adapters: each one wraps the student's function and the reference alike -----------------

def _affine_output(forward: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, w, b: forward(x, w, b)[0]


def _affine_gradients(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., np.ndarray]:
    # The backward pass gets the cache of the same side's forward pass.
    return lambda x, w, b, dout: _pack(backward(dout, forward(x, w, b)[1]), (x.shape, w.shape, b.shape))


def _loss_and_gradient(loss: Callable[..., Any]) -> Callable[..., np.ndarray]:
    return lambda scores, y: _pack(loss(scores, y), ((), scores.shape))


def packed_two_layer_loss(loss: Callable[..., tuple[float, dict[str, np.ndarray]]]) -> Callable[..., np.ndarray]:
    """``loss(params, X, y) -> (loss, grads)`` as a function of arrays only, returning one flat vector.

    So :class:`WithFallback` can copy every argument and check the result's size.
    """
    def run(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray, y: np.ndarray
            ) -> np.ndarray:
        params = dict(zip(TWO_LAYER_PARAMS, (W1, b1, W2, b2), strict=True))
        value, grads = loss(params, X, y)
        return _pack([value, *(grads[k] for k in TWO_LAYER_PARAMS)], [(), W1.shape, b1.shape, W2.shape, b2.shape])

    return run


# -- the deep network's forward and backward pass ----------------------------------------------

class LayerFunctions:
    """The layer functions a forward/backward pass runs: the student's where they work.

    Each student function is optional; the reference stands in for those
    missing or failing, and each one's ``note`` says so (see :meth:`all`).
    """

    def __init__(self, affine_forward: Callable[..., Any] | None = None,
                 affine_backward: Callable[..., Any] | None = None,
                 sigmoid_backward: Callable[..., Any] | None = None,
                 leaky_relu_backward: Callable[..., Any] | None = None,
                 softmax_cross_entropy: Callable[..., Any] | None = None,
                 svm_loss: Callable[..., Any] | None = None) -> None:
        ref_forward, ref_backward = reference("layers.affine_forward"), reference("layers.affine_backward")
        self._forward = WithFallback("affine_forward", None if affine_forward is None else
                                     _affine_output(affine_forward), _affine_output(ref_forward))
        student_grads = None
        if affine_forward is not None and affine_backward is not None:
            student_grads = _affine_gradients(affine_forward, affine_backward)
        self._affine_grads = WithFallback("affine_backward", student_grads,
                                          _affine_gradients(ref_forward, ref_backward))
        self._sigmoid = WithFallback("sigmoid_backward", sigmoid_backward, "layers.sigmoid_backward")
        self._leaky = WithFallback("leaky_relu_backward", leaky_relu_backward, "layers.leaky_relu_backward")
        self._loss = WithFallback(
            "softmax_cross_entropy", None if softmax_cross_entropy is None else
            _loss_and_gradient(softmax_cross_entropy), _loss_and_gradient(reference("layers.softmax_cross_entropy")))
        self._svm = WithFallback("svm_loss", None if svm_loss is None else _loss_and_gradient(svm_loss),
                                 _loss_and_gradient(reference("layers.svm_loss")))

    def all(self) -> tuple[WithFallback, ...]:
        return (self._forward, self._affine_grads, self._sigmoid, self._leaky, self._loss, self._svm)

    def reset(self) -> None:
        """Forget the notes of earlier passes (a function not called this time used no reference)."""
        for f in self.all():
            f.note = ""

    def affine_forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._forward(x, w, b, shape=(x.shape[0], w.shape[1]))

    def affine_backward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
                        ) -> list[np.ndarray]:
        flat = self._affine_grads(x, w, b, dout, shape=(x.size + w.size + b.size,))
        return unpack(flat, (x.shape, w.shape, b.shape))

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

    def svm_loss(self, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        flat = self._svm(scores, y, shape=(1 + scores.size,))
        return float(flat[0]), flat[1:].reshape(scores.shape)

    def loss(self, name: str, scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss called ``name`` (one of LOSSES) and its gradient with respect to the scores."""
        if name not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
        return self.softmax_cross_entropy(scores, y) if name == LOSSES[0] else self.svm_loss(scores, y)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def train_flow_network(X: np.ndarray, y: np.ndarray, activation: str, fns: LayerFunctions, *, hidden: int,
                       steps: int, learning_rate: float, seed: int) -> dict[str, np.ndarray]:
    """A two-layer network X (N, D) -> hidden -> C trained by full-batch gradient descent on the cross entropy,
    every pass run by ``fns``: Kaiming-normal start (std sqrt(2 / fan_in), seeded), zero biases.

    Returns {W1 (D, hidden), b1 (hidden,), W2 (hidden, C), b2 (C,)}; C = max(y) + 1.
    """
    _check_activation(activation)
    rng = np.random.default_rng(seed)
    params = init_two_layer(hidden, int(y.max()) + 1, rng, num_inputs=X.shape[1])
    for _ in range(steps):
        z1 = fns.affine_forward(X, params["W1"], params["b1"])
        a1, cache = fns.activation(activation, z1)
        scores = fns.affine_forward(a1, params["W2"], params["b2"])
        _, dscores = fns.softmax_cross_entropy(scores, y)
        da1, dW2, db2 = fns.affine_backward(a1, params["W2"], params["b2"], dscores)
        dz1 = fns.activation_backward(activation, da1, cache)
        _, dW1, db1 = fns.affine_backward(X, params["W1"], params["b1"], dz1)
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        params = {k: v - learning_rate * grads[k] for k, v in params.items()}
    return params


def _walk_loss(x: np.ndarray, label: int, params: dict[str, np.ndarray], activation: str, loss: str,
               fns: LayerFunctions) -> float:
    """The loss of one example (x (D,)), forward only."""
    z1 = fns.affine_forward(x[None], params["W1"], params["b1"])
    a1, _ = fns.activation(activation, z1)
    scores = fns.affine_forward(a1, params["W2"], params["b2"])
    return fns.loss(loss, scores, np.array([label]))[0]


def backward_walk(x: np.ndarray, label: int, params: dict[str, np.ndarray], activation: str, loss: str,
                  fns: LayerFunctions | None = None) -> dict[str, Any]:
    """One example forward through the two-layer network, then back, node by node (the chain rule on the graph
    x -> z1 = x W1 + b1 -> a1 = f(z1) -> s = a1 W2 + b2 -> L).

    Inputs:
    - x: (D,) one example; label: its class
    - params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
    - activation: one of ACTIVATIONS; loss: one of LOSSES
    - fns: the layer functions to run (default: the reference)

    Returns a dict:
    - loss: the loss of this example; probs: (C,) softmax of the scores; scores: (C,)
    - grads: {"s": (C,), "a1": (H,), "z1": (H,), "x": (D,)}, dL/d(node) for each node of WALK
    - params: {"W1": ..., "b1": ..., "W2": ..., "b2": ...}, dL/d(parameter), each the shape of its parameter
    - slope: (H,) the local derivative f'(z1) the activation's backward multiplies by
    """
    _check_activation(activation)
    fns = fns or LayerFunctions()
    fns.reset()
    X = np.asarray(x, dtype=np.float64)[None]
    y = np.array([int(label)])
    z1 = fns.affine_forward(X, params["W1"], params["b1"])
    a1, cache = fns.activation(activation, z1)
    scores = fns.affine_forward(a1, params["W2"], params["b2"])
    value, dscores = fns.loss(loss, scores, y)
    da1, dW2, db2 = fns.affine_backward(a1, params["W2"], params["b2"], dscores)
    dz1 = fns.activation_backward(activation, da1, cache)
    dx, dW1, db1 = fns.affine_backward(X, params["W1"], params["b1"], dz1)
    slope = fns.activation_backward(activation, np.ones_like(z1), cache)
    e = np.exp(scores[0] - scores[0].max())
    return {"loss": value, "scores": scores[0], "probs": e / e.sum(), "slope": slope[0],
            "grads": {"s": dscores[0], "a1": da1[0], "z1": dz1[0], "x": dx[0]},
            "params": {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}}


def walk_check(x: np.ndarray, label: int, params: dict[str, np.ndarray], activation: str, loss: str,
               fns: LayerFunctions, walk: dict[str, Any], *, h: float = 1e-6, seed: int = 0) -> float:
    """How far a :func:`backward_walk` is from central differences of the same forward pass.

    For the input and for each parameter in turn, along one random direction v: the relative error of
    dL/dtheta . v against (L(theta + h v) - L(theta - h v)) / 2h; the largest of the five. About 1e-8 when the
    backward pass is right; 1e-1 or more when any function in it is wrong (a wrong dW1 shows even where two
    wrong signs cancel in dL/dx). 0.0 where the loss is flat (both are 0: a satisfied hinge); NaN where a ReLU
    or a hinge margin sits within 1e-4 of its kink (the differences would straddle it).
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    z1 = x[None] @ params["W1"] + params["b1"]
    scores = LayerFunctions.activation(activation, z1)[0] @ params["W2"] + params["b2"]
    margins = scores[0] - scores[0, int(label)] + 1.0
    margins[int(label)] = 1.0
    near_relu_kink = activation in ("ReLU", "leaky ReLU") and np.min(np.abs(z1)) < 1e-4
    if near_relu_kink or (loss == "hinge" and np.min(np.abs(margins)) < 1e-4):
        return float("nan")
    worst = 0.0
    for name, value, grad in [("x", x, walk["grads"]["x"]), *((k, params[k], walk["params"][k]) for k in params)]:
        v = rng.standard_normal(np.shape(value))

        def moved(sign: float, name: str = name, value: np.ndarray = value, v: np.ndarray = v) -> float:
            point = value + sign * h * v
            return _walk_loss(point if name == "x" else x, label, {**params, name: point} if name != "x" else params,
                              activation, loss, fns)

        numerical = (moved(1.0) - moved(-1.0)) / (2 * h)
        analytic = float(np.sum(np.asarray(grad) * v))
        scale = max(abs(numerical), abs(analytic))
        if not np.isfinite(scale):
            return float("inf")
        if scale >= 1e-12:
            worst = max(worst, abs(analytic - numerical) / scale)
    return worst


# -- the two-layer network on 2-D points --------------------------------------------------------

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


def finite_params(params: dict[str, np.ndarray]) -> bool:
    """Whether every parameter is finite (a diverged run's are not)."""
    return all(np.all(np.isfinite(v)) for v in params.values())


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


def directional_check(loss_fn: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray],
                                        tuple[float, dict[str, np.ndarray]]],
                      params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, *, h: float = 1e-6,
                      seed: int = 0) -> float:
    """How far ``loss_fn``'s gradient is from its own loss: the relative error of grad . v against the central
    difference (L(p + h v) - L(p - h v)) / 2h along one random direction v in parameter space.

    About 1e-8 for a right gradient; 1e-1 or more for a wrong one (a flipped sign gives 2). So a run that goes
    wrong can be blamed on the function and not on the learning rate.
    """
    rng = np.random.default_rng(seed)
    v = {k: rng.standard_normal(np.shape(p)) for k, p in params.items()}
    _, grads = loss_fn(params, X, y)
    analytic = float(sum(np.sum(grads[k] * v[k]) for k in params))
    plus = loss_fn({k: p + h * v[k] for k, p in params.items()}, X, y)[0]
    minus = loss_fn({k: p - h * v[k] for k, p in params.items()}, X, y)[0]
    numerical = (plus - minus) / (2 * h)
    return abs(analytic - numerical) / max(abs(analytic), abs(numerical), 1e-10)
