"""The computations of notebook 03's views (I2DL lectures 5 and 6, "Scaling Optimization", "Training NNs I"):
plain NumPy.

* Three 2-D loss surfaces (:data:`SURFACES`) with their gradients and
  Hessians, and :func:`trajectory`, the path of an update rule
  ``update(w, dw, config) -> (w, config)`` on one of them.
* :func:`wrong_steps`: whether a path cannot come from a correct update
  rule, so that a view blames the function, not the slider setting.
* Softmax regression on real data: its loss and gradient, per-sample
  gradients, the noise of a mini-batch gradient (:func:`gradient_noise`,
  :func:`gradient_cloud`) and mini-batch training with an update rule
  (:func:`minibatch_run`).

The notebook hands :func:`trajectory`, :func:`surface_losses`,
:func:`softmax_regression_loss`, :func:`per_sample_gradients` and
:func:`gradient_noise` to its students: none of them is an exercise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "OPTIMIZERS", "SURFACES", "GradientCloud", "Surface", "gradient_cloud", "gradient_noise", "minibatch_losses",
    "minibatch_run", "per_sample_gradients", "softmax_regression_loss", "surface_losses", "trajectory", "wrong_steps",
]

Update = Callable[..., tuple[np.ndarray, dict[str, Any]]]


# -- 2-D loss surfaces ----------------------------------------------------------------------

@dataclass(frozen=True)
class Surface:
    """A 2-D loss f(w) with its gradient and Hessian, a start point and a window to draw it in."""

    name: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]  # f(x, y), elementwise on arrays
    grad: Callable[[np.ndarray], np.ndarray]  # (2,) -> (2,)
    hessian: Callable[[np.ndarray], np.ndarray]  # (2,) -> (2, 2)
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    f_min: float  # the smallest value: losses are drawn as f - f_min
    minima: tuple[tuple[float, float], ...]
    note: str  # what to look for, one line


# Ravine: f = (a x² + b y²) / 2 with curvatures a = 0.1 and b = 4 (condition number 40).
# Plain gradient descent needs α < 2/b to stay stable and then crawls along x at a rate α a.
_A, _B = 0.1, 4.0
RAVINE = Surface(
    "ravine",
    lambda x, y: 0.5 * (_A * x**2 + _B * y**2),
    lambda w: np.array([_A * w[0], _B * w[1]]),
    lambda w: np.diag([_A, _B]),
    start=(-9.0, 1.5), xlim=(-10.0, 2.0), ylim=(-3.0, 3.0), f_min=0.0, minima=((0.0, 0.0),),
    note="curvatures 0.1 and 4: SGD is stable only for α < 0.5",
)

# Rosenbrock's banana, f = (1 - x)² + 100 (y - x²)²: a curved valley, minimum at (1, 1).
ROSENBROCK = Surface(
    "Rosenbrock",
    lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    lambda w: np.array([-2 * (1 - w[0]) - 400 * w[0] * (w[1] - w[0] ** 2), 200 * (w[1] - w[0] ** 2)]),
    lambda w: np.array([[2 - 400 * (w[1] - 3 * w[0] ** 2), -400 * w[0]], [-400 * w[0], 200.0]]),
    start=(-1.2, 1.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), f_min=0.0, minima=((1.0, 1.0),),
    note="a curved valley to (1, 1): SGD needs α ≲ 1e-3",
)

# A saddle at the origin, f = x²/2 + y⁴/4 - y²/2, with minima at (0, ±1) (f = -1/4).
# Started a hair off the ridge: the gradient along y is tiny until y has grown.
SADDLE = Surface(
    "saddle",
    lambda x, y: 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2,
    lambda w: np.array([w[0], w[1] ** 3 - w[1]]),
    lambda w: np.array([[1.0, 0.0], [0.0, 3 * w[1] ** 2 - 1]]),
    start=(-2.5, 1e-3), xlim=(-3.0, 3.0), ylim=(-2.0, 2.0), f_min=-0.25, minima=((0.0, 1.0), (0.0, -1.0)),
    note="a saddle at (0, 0), minima at (0, ±1); start 0.001 off the ridge",
)

SURFACES: tuple[Surface, ...] = (RAVINE, ROSENBROCK, SADDLE)

# Display name -> (reference rule, which sliders it reads, fixed hyperparameters).
OPTIMIZERS: dict[str, tuple[str, tuple[str, ...], dict[str, float]]] = {
    "SGD": ("sgd", ("learning_rate",), {}),
    "momentum": ("sgd_momentum", ("learning_rate", "momentum"), {}),
    "Nesterov": ("nesterov", ("learning_rate", "momentum"), {}),
    "Adagrad": ("adagrad", ("adaptive_lr",), {}),
    "RMSProp": ("rmsprop", ("adaptive_lr",), {"decay_rate": 0.9}),  # the lecture's "often 0.9"
    "Adam": ("adam", ("adaptive_lr",), {}),
}


def trajectory(update: Update, surface: Surface, steps: int, config: dict[str, Any] | None,
               limit: float = 1e4) -> np.ndarray:
    """Run ``update`` from ``surface.start`` for ``steps`` steps, carrying ``config``.

    Returns the path, shape (steps + 1, 2): row 0 is the start. Once a step
    leaves the box ``|w| < limit`` (or is not finite) the run has diverged: the
    rows after it are NaN, so a line plot simply ends there.
    """
    path = np.full((steps + 1, 2), np.nan)
    w = np.array(surface.start, dtype=np.float64)
    config = dict(config) if config is not None else None  # the caller's dict stays as it was
    path[0] = w
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(1, steps + 1):
            w, config = update(w, surface.grad(w), config)
            w = np.array(w, dtype=np.float64)  # a copy: a rule may update w in place
            if w.shape != (2,):
                raise ValueError(f"the update returned shape {w.shape}, not (2,)")
            if not np.all(np.abs(w) < limit):
                break
            path[k] = w
    return path


def wrong_steps(path: np.ndarray, surface: Surface, reference_path: np.ndarray | None, check: int = 4) -> str:
    """Why a path (K, 2) cannot come from a correct update rule, or "" when nothing shows it.

    With the reference's path at the same settings, the first ``check`` steps
    must agree: every correct form of a rule (PyTorch's momentum buffer, Adam's
    rearranged step) takes the same steps up to rounding, also where both
    diverge. Without the reference, the first step must go downhill, against
    the gradient at the start, as the first step of every rule of the notebook
    does at any positive learning rate: a step uphill is a sign or a formula,
    never a learning rate too large.
    """
    k = min(check + 1, len(path))
    if reference_path is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            same = np.allclose(path[:k], reference_path[:k], rtol=1e-6, atol=1e-9, equal_nan=True)
        return "" if same else "takes other steps than the lecture's rule"
    if len(path) < 2 or not np.all(np.isfinite(path[1])):
        return ""
    gradient = surface.grad(np.asarray(path[0], dtype=np.float64))
    return "steps uphill at the start" if float(np.dot(path[1] - path[0], gradient)) >= 0 else ""


def surface_losses(surface: Surface, path: np.ndarray) -> np.ndarray:
    """f(w) - f_min along a path (K, 2): shape (K,), NaN where the path is NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        return surface.f(path[:, 0], path[:, 1]) - surface.f_min


# -- softmax regression on real data ---------------------------------------------------------

def softmax_regression_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of a linear softmax classifier, and its gradient.

    Inputs:
    - W: weights, shape (D, C)
    - X: inputs, shape (N, D) (a column of ones gives the bias)
    - y: labels in 0..C-1, shape (N,)

    Returns: (loss, dW) with dW of shape (D, C).
    """
    n = X.shape[0]
    # Scores laid out (C, N) in memory, so the row max below reduces contiguous rows: 10x faster.
    S = (W.T @ X.T).T  # (N, C)
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    Z = E.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(Z[:, 0])) - np.mean(S[rows, y]))
    P = E / Z
    P[rows, y] -= 1.0
    return loss, X.T @ P / n


def per_sample_gradients(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of every sample's own loss, flattened: shape (N, D*C); their mean is dW."""
    S = X @ W
    S = S - S.max(axis=1, keepdims=True)
    P = np.exp(S)
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(X.shape[0]), y] -= 1.0
    return (X[:, :, None] * P[:, None, :]).reshape(X.shape[0], -1)  # x_i (p_i - e_{y_i})ᵀ


def gradient_noise(per_sample: np.ndarray, batch_sizes: np.ndarray) -> np.ndarray:
    """Root-mean-square error of a mini-batch gradient, relative to the full gradient's norm.

    A batch of m samples drawn without replacement from n has
    ``E||g_B - g||² = tr(Σ)/m · (n - m)/(n - 1)``, with Σ the covariance of the
    per-sample gradients: noise falls as 1/sqrt(m) and is 0 for the full batch.
    Returns ``sqrt(E||g_B - g||²) / ||g||`` for each m, shape (len(batch_sizes),).
    """
    n = per_sample.shape[0]
    g = per_sample.mean(axis=0)
    trace = float(np.mean(np.sum((per_sample - g) ** 2, axis=1)))
    m = np.asarray(batch_sizes, dtype=np.float64)
    return np.sqrt(trace / m * (n - m) / max(n - 1, 1)) / np.linalg.norm(g)


def minibatch_run(update: Update, X: np.ndarray, y: np.ndarray, batch_size: int, learning_rate: float,
                  steps: int, seed: int = 0, every: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch training of softmax regression from W = 0 with an update rule.

    Each step draws ``batch_size`` samples without replacement (a fresh
    shuffle each epoch) and calls ``update(W, dW, config)`` with
    ``config = {"learning_rate": learning_rate}`` at first. Returns the loss
    on all of (X, y) after 0, every, 2·every, ..., steps steps (shape
    (steps // every + 1,)) and the loss of each step's own mini-batch, taken
    before that step (shape (steps,)).
    """
    n = X.shape[0]
    if not 1 <= batch_size <= n or steps % every:
        raise ValueError(f"need 1 <= batch_size <= {n} and steps a multiple of {every}")
    rng = np.random.default_rng(seed)
    W = np.zeros((X.shape[1], int(y.max()) + 1))
    config: dict[str, Any] | None = {"learning_rate": learning_rate}
    full, batch = [softmax_regression_loss(W, X, y)[0]], np.empty(steps)
    order, pos = rng.permutation(n), 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(steps):
            if pos + batch_size > n:
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            batch[k], dW = softmax_regression_loss(W, X[idx], y[idx])
            W, config = update(W, dW, config)
            W = np.asarray(W, dtype=np.float64)
            if (k + 1) % every == 0:
                if batch_size == n and k + 1 < steps:
                    continue  # the next batch is all the data: its loss is this one (filled in below)
                full.append(softmax_regression_loss(W, X, y)[0])
    if batch_size == n:
        full = [*batch[::every], full[-1]]
    return np.array(full), batch


def minibatch_losses(update: Update, X: np.ndarray, y: np.ndarray, batch_size: int, learning_rate: float,
                     steps: int, seed: int, *, every: int) -> np.ndarray:
    """:func:`minibatch_run`'s two curves in one array (what WithFallback can check and return)."""
    return np.concatenate(minibatch_run(update, X, y, batch_size, learning_rate, steps, seed, every=every))


class GradientCloud(NamedTuple):
    """Mini-batch gradients at W = 0 in 2-D, and their noise (see :func:`gradient_cloud`)."""

    clouds: list[np.ndarray]  # per batch size: (cloud, 2) batch-mean gradients in the 2-D coordinates
    g_coords: np.ndarray  # (2,) the full gradient in those coordinates
    noise_m: np.ndarray  # batch sizes from 1 to N, about 200 of them, log-spaced
    noise: np.ndarray  # the relative noise at each of noise_m
    noise_at: dict[int, float]  # the relative noise at each of batch_sizes


def gradient_cloud(X: np.ndarray, y: np.ndarray, batch_sizes: list[int], rng: np.random.Generator,
                   cloud: int) -> GradientCloud:
    """Per-sample gradients of softmax regression at W = 0, a 2-D view of them, and batch means for every batch size.

    X: (N, D) inputs with their bias column, y: (N,) labels. The two
    coordinates are along the full gradient and along the direction of largest
    noise across it; each batch size gets ``cloud`` batch means, drawn without
    replacement.
    """
    W0 = np.zeros((X.shape[1], int(y.max()) + 1))
    G = per_sample_gradients(W0, X, y)  # (N, D*C)
    g = G.mean(axis=0)
    u1 = g / np.linalg.norm(g)
    R = (G - g) - np.outer((G - g) @ u1, u1)  # noise orthogonal to the mean direction
    u2 = rng.standard_normal(G.shape[1])
    for _ in range(10):  # power iteration: the direction of largest noise (for display: rough is fine)
        u2 = R.T @ (R @ u2)
        u2 /= np.linalg.norm(u2)
    coords = G @ np.column_stack([u1, u2])  # (N, 2)
    # Batch means for all sizes at once: shuffle, then running means of the first m rows.
    order = np.argsort(rng.random((cloud, len(coords))), axis=1)
    running = np.cumsum(coords[order], axis=1)  # (cloud, N, 2)
    noise_m = np.unique(np.geomspace(1, len(coords), 200).astype(int))
    return GradientCloud(
        clouds=[running[:, m - 1] / m for m in batch_sizes],
        g_coords=np.array([np.linalg.norm(g), 0.0]),
        noise_m=noise_m,
        noise=gradient_noise(G, noise_m),
        noise_at=dict(zip(batch_sizes, gradient_noise(G, np.array(batch_sizes)), strict=True)),
    )
