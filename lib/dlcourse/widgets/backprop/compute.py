"""The computations of notebook 02's views (I2DL "Optimization and Backpropagation", "Training Neural
Networks"; Tokyo DL2): plain NumPy.

* :func:`gradient_flow`: one forward and backward pass through a deep fully
  connected net with zero biases, run by :class:`LayerFunctions` (the
  student's layer functions, the reference standing in for those not done).
* :func:`train_two_layer` and its helpers: full-batch gradient descent of a
  two-layer ReLU net with a given loss function, the class probabilities on a
  grid, and the decision boundary read off them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlcourse.lazy_reference import reference
from dlcourse.widgets.fallback import WithFallback

__all__ = [
    "ACTIVATIONS", "LEAKY_ALPHA", "TWO_LAYER_PARAMS", "LayerFunctions", "class_probabilities", "decision_boundary",
    "finite_params", "gradient_flow", "init_two_layer", "packed_two_layer_loss", "train_two_layer",
    "two_layer_scores", "unpack",
]

ACTIVATIONS = ("sigmoid", "tanh", "ReLU", "leaky ReLU")
LEAKY_ALPHA = 0.01  # the lecture's max(0.01 x, x)
TWO_LAYER_PARAMS = ("W1", "b1", "W2", "b2")


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
                 softmax_cross_entropy: Callable[..., Any] | None = None) -> None:
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
