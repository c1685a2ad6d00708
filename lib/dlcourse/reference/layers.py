"""Layers and losses as NumPy forward/backward pairs (I2DL lectures 3, 4, 7 and 8).

Every layer has ``X_forward(...) -> (out, cache)`` and, right below it,
``X_backward(dout, cache) -> (dx, ...)``: the forward pass keeps in ``cache``
what the backward pass needs, and the backward pass turns the upstream
gradient ``dout = dL/dout`` into the gradients of its inputs ("Optimization
and Backpropagation": each node only needs its local derivative and the
gradient flowing into it). A loss returns its value and the gradient of that
value with respect to its first argument. Everything is float64.

Bad input (wrong ndim, mismatched shapes, labels out of range, ...) raises a
``ValueError`` whose message says what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "affine_backward", "affine_forward", "binary_cross_entropy", "dropout_backward",
    "dropout_forward", "leaky_relu_backward", "leaky_relu_forward", "mse_loss",
    "relu_backward", "relu_forward", "sigmoid_backward", "sigmoid_forward",
    "softmax_cross_entropy", "svm_loss", "tanh_backward", "tanh_forward",
]

# Inside the log of the binary cross entropy, p is clipped to [BCE_EPS, 1 - BCE_EPS].
BCE_EPS = 1e-12


def _array(a: object, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None


def _check_dout(dout: object, shape: tuple[int, ...], layer: str) -> np.ndarray:
    dout = _array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(
            f"{layer}: dout has shape {dout.shape}, but the forward output had shape {shape}"
        )
    return dout


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError(f"{names} are empty: a mean over no elements is undefined")


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Fully connected layer ``out = x w + b`` ("Introduction to Neural Networks").

    Each example is flattened to a row of D = d1 * ... * dk numbers (matrix
    derivatives tutorial, section 1.1), so the batch becomes an (N, D) matrix.

    Inputs:
    - x: (N, d1, ..., dk) inputs
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M)
    - cache: (x, w, b), x in its original shape
    """
    x, w, b = _array(x, "x"), _array(w, "w"), _array(b, "b")
    if x.ndim < 2:
        raise ValueError(
            f"x must have shape (N, d1, ..., dk) with a batch axis first, got {x.shape}; "
            "for a single example use x[None]"
        )
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D (D, M), got shape {w.shape}")
    N, D = x.shape[0], int(np.prod(x.shape[1:]))
    if w.shape[0] != D:
        hint = " (is w transposed?)" if w.shape[1] == D else ""
        raise ValueError(
            f"x {x.shape} has D = {D} features per example, but w {w.shape} has "
            f"{w.shape[0]} rows; w must be (D, M){hint}"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({w.shape[1]},), got {b.shape}")
    out = x.reshape(N, D) @ w + b  # b is broadcast over the N rows
    return out, (x, w, b)


def affine_backward(
    dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of the affine layer.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w, b) from affine_forward

    Returns a tuple of:
    - dx: (N, d1, ..., dk), the shape of x
    - dw: (D, M)
    - db: (M,)
    """
    x, w, _ = cache
    N = x.shape[0]
    dout = _check_dout(dout, (N, w.shape[1]), "affine_backward")
    # Matrix derivatives tutorial, eqs. (21), (22) and section 3.2: for Y = XW + 1b,
    # dX = dout W^T, dW = X^T dout, and db sums dout over the batch (the rows).
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ReLU ``max(0, x)`` elementwise (lecture 7, "Rectified Linear Units").

    Inputs: x of any shape. Returns out (the shape of x) and cache = x.
    """
    x = _array(x, "x")
    return np.maximum(x, 0.0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of ReLU: the gradient flows only where x > 0 (0 at the kink, like PyTorch).

    Inputs: dout and cache = x, same shape. Returns dx, same shape.
    """
    x = cache
    dout = _check_dout(dout, x.shape, "relu_backward")
    return dout * (x > 0)


def leaky_relu_forward(x: np.ndarray, alpha: float) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    """Leaky ReLU: x where x > 0, alpha * x elsewhere (lecture 7, "Leaky ReLU").

    The small negative slope keeps a gradient alive where ReLU would "die".
    Inputs: x of any shape; alpha, the slope for x <= 0 (the lectures use 0.01 and 0.1).
    Returns out (the shape of x) and cache = (x, alpha).
    """
    x = _array(x, "x")
    if not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")
    alpha = float(alpha)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout: np.ndarray, cache: tuple[np.ndarray, float]) -> np.ndarray:
    """Backward pass of leaky ReLU: slope 1 where x > 0, alpha elsewhere. Returns dx."""
    x, alpha = cache
    dout = _check_dout(dout, x.shape, "leaky_relu_backward")
    return np.where(x > 0, dout, alpha * dout)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid ``1 / (1 + exp(-x))`` elementwise (lecture 7, "Sigmoid Activation").

    Written with z = exp(-|x|) <= 1, so no exp overflows: for x >= 0 it is
    1 / (1 + z), for x < 0 the equal z / (1 + z).

    Inputs: x of any shape. Returns out (the shape of x) and cache = out.
    """
    x = _array(x, "x")
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0, z) / (1.0 + z)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of the sigmoid, ``dx = dout * s * (1 - s)`` with s its output. Returns dx."""
    s = cache
    dout = _check_dout(dout, s.shape, "sigmoid_backward")
    return dout * s * (1.0 - s)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tanh elementwise (lecture 7, "TanH Activation": zero-centred, still saturates).

    Inputs: x of any shape. Returns out (the shape of x) and cache = out.
    """
    out = np.tanh(_array(x, "x"))
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of tanh, ``dx = dout * (1 - t^2)`` with t its output. Returns dx."""
    t = cache
    dout = _check_dout(dout, t.shape, "tanh_backward")
    return dout * (1.0 - t * t)


def dropout_forward(
    x: np.ndarray, p: float, mode: str, rng: np.random.Generator | None
) -> tuple[np.ndarray, tuple[str, np.ndarray | None]]:
    """Inverted dropout (lecture 8, "Dropout").

    In 'train' mode each unit is zeroed with probability p and the survivors
    are scaled by 1 / (1 - p), so E[out] = x and 'test' mode is the identity:
    the lecture's "weight scaling inference rule" moved into training.

    Inputs:
    - x: inputs of any shape
    - p: the probability of DROPPING a unit, 0 <= p < 1 (PyTorch's convention)
    - mode: 'train' or 'test'
    - rng: a numpy Generator; the mask is ``(rng.random(x.shape) >= p) / (1 - p)``.
      Not used (and may be None) in 'test' mode.

    Returns a tuple of:
    - out: the shape of x
    - cache: (mode, mask), mask None in 'test' mode
    """
    x = _array(x, "x")
    if not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
        raise ValueError(f"p is the drop probability and must be in [0, 1), got {p!r}")
    if mode == "test":
        return x.copy(), (mode, None)
    if mode != "train":
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy Generator (np.random.default_rng(seed)) in 'train' mode, "
            f"got {type(rng).__name__}"
        )
    mask = (rng.random(x.shape) >= p) / (1.0 - p)
    return x * mask, (mode, mask)


def dropout_backward(dout: np.ndarray, cache: tuple[str, np.ndarray | None]) -> np.ndarray:
    """Backward pass of inverted dropout: dout through the same mask (or unchanged in 'test').

    Inputs: dout (the shape of x), cache from dropout_forward. Returns dx.
    """
    mode, mask = cache
    dout = _array(dout, "dout")
    if mode == "test":
        return dout.copy()
    dout = _check_dout(dout, mask.shape, "dropout_backward")
    return dout * mask


def mse_loss(pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over ALL elements, as ``torch.nn.functional.mse_loss``
    ("Introduction to Neural Networks", "Regression Loss").

    Inputs: pred and y of the same shape (any).
    Returns loss = mean((pred - y)^2) and dpred = 2 (pred - y) / pred.size.
    """
    pred, y = _array(pred, "pred"), _array(y, "y")
    _same_shape(pred, y, "pred and y")
    diff = pred - y
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def _scores_and_labels(scores: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """scores as a non-empty (N, C) float64 array and y as (N,) integer labels in [0, C), or a ValueError."""
    scores = _array(scores, "scores")
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty (N, C) array, got shape {scores.shape}")
    N, C = scores.shape
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},), one label per row, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if np.any((y < 0) | (y >= C)):
        bad = y[(y < 0) | (y >= C)][0]
        raise ValueError(f"labels must be in [0, C) = [0, {C}), got {bad}")
    return scores, y


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax followed by cross entropy, averaged over the batch
    (lecture 7, "Softmax Formulation"; lecture 4, "Derivatives of Cross Entropy Loss").

    L = mean_i [log sum_k exp(s_ik) - s_{i, y_i}], computed after subtracting
    each row's maximum: this changes nothing mathematically but keeps exp()
    from overflowing for large scores (logsumexp).

    Inputs:
    - scores: (N, C) class scores (logits)
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns loss (a float) and dscores (N, C) = (softmax(scores) - onehot(y)) / N.
    """
    scores, y = _scores_and_labels(scores, y)
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -float(np.mean(log_probs[rows, y]))
    # Lecture 4: dL/ds = y_hat - y, divided by N because the loss is a batch mean.
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    return loss, dscores / N


def svm_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass hinge (SVM) loss with margin 1, averaged over the batch
    (lecture 7, "Hinge Loss (Multiclass SVM Loss)").

    L_i = sum over k != y_i of max(0, s_ik - s_{i, y_i} + 1): every wrong class
    whose score comes within 1 of the true class's score costs the difference.
    Once the true class wins by a margin of at least 1 the loss is exactly 0 and
    so is the gradient: the hinge saturates, unlike the cross entropy.

    The gradient is the subgradient that PyTorch's ``multi_margin_loss`` uses:
    a term whose margin is exactly 0 (at the kink) contributes nothing. Note
    that ``multi_margin_loss`` also divides each L_i by C; this loss does not
    (the lecture's convention).

    Inputs:
    - scores: (N, C) class scores
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns loss (a float) and dscores (N, C): for each example, +1/N for every
    wrong class with a positive margin, and minus their count / N at the true class.
    """
    scores, y = _scores_and_labels(scores, y)
    N = scores.shape[0]
    rows = np.arange(N)
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0  # the true class is not compared with itself
    active = margins > 0  # strictly: at the kink (margin 0) the term is flat from the right, as in PyTorch
    loss = float(np.sum(margins[active])) / N
    dscores = active.astype(np.float64)
    dscores[rows, y] = -active.sum(axis=1)  # s_{y_i} appears, negated, in every active term
    return loss, dscores / N


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross entropy of probabilities p against targets y, averaged over ALL
    elements ("Introduction to Neural Networks", "Binary Cross Entropy").

    L = -mean(y log p + (1 - y) log(1 - p)). Inside the logs, p is clipped to
    [eps, 1 - eps] with eps = BCE_EPS = 1e-12, so p = 0 or 1 gives a large but
    finite loss (at most -log(1e-12) ≈ 27.6 per element) instead of inf.
    dp is the lecture's ``(p - y) / (p (1 - p))`` / size evaluated at the clipped
    p, so it stays finite and points the right way at p = 0 or 1 (PyTorch also
    keeps this gradient finite there, with a different clamp).

    Inputs: p (probabilities in [0, 1]) and y (targets in [0, 1], normally 0 or 1),
    the same shape (any). Returns loss (a float) and dp (the shape of p).
    """
    p, y = _array(p, "p"), _array(y, "y")
    _same_shape(p, y, "p and y")
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("p must hold probabilities in [0, 1]: pass sigmoid outputs, not scores")
    if np.any((y < 0) | (y > 1)) or np.any(np.isnan(y)):
        raise ValueError("y must hold targets in [0, 1] (labels 0 or 1)")
    pc = np.clip(p, BCE_EPS, 1.0 - BCE_EPS)
    loss = -float(np.mean(y * np.log(pc) + (1.0 - y) * np.log1p(-pc)))
    dp = (pc - y) / (pc * (1.0 - pc)) / p.size
    return loss, dp
