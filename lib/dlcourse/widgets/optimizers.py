"""Slider views of notebook 03_optimizers (I2DL lectures 5 and 6, "Scaling Optimization", "Training NNs I").

* :class:`OptimizerPathsView`: every update rule of the notebook racing on a
  2-D loss surface (an ill-conditioned ravine, Rosenbrock's banana, a saddle),
  with sliders for the learning rates, the momentum and the number of steps.
* :class:`BatchNoiseView`: mini-batch gradient descent on the real digits
  (softmax regression): how the batch size sets the noise of the gradient
  estimate, and what that noise does to the loss curve.

Both run the student's own update rules (``update(w, dw, config) -> (w,
config)``) when given and fall back to the reference, saying so in the
title, while those are stubs. The computations are the plain functions at the
top, which tests call directly; the reference is imported inside functions,
so this module imports where it is absent (the grading sandbox).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from dlcourse.widgets.core import View, WithFallback

__all__ = [
    "OPTIMIZERS", "SURFACES", "BatchNoiseView", "OptimizerPathsView", "Surface", "gradient_noise",
    "minibatch_run", "per_sample_gradients", "softmax_regression_loss", "surface_losses", "trajectory",
]

Update = Callable[..., tuple[np.ndarray, dict[str, Any]]]


def _ref() -> Any:
    from dlcourse.reference import optim

    return optim


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
_COLORS = ("tab:gray", "tab:blue", "tab:cyan", "tab:olive", "tab:orange", "tab:red")


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


def _run_losses(update: Update, X: np.ndarray, y: np.ndarray, batch_size: int, learning_rate: float,
                steps: int, seed: int) -> np.ndarray:
    """:func:`minibatch_run`'s two curves in one array (what WithFallback can check and return)."""
    return np.concatenate(minibatch_run(update, X, y, batch_size, learning_rate, steps, seed,
                                        every=BatchNoiseView.EVERY))


class _Cache(OrderedDict):
    """A small least-recently-used cache: slider values come back often while dragging."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


# -- views ---------------------------------------------------------------------------------------

def _unit(surface: Surface, path: np.ndarray) -> np.ndarray:
    """Coordinates of the surface's window mapped onto [0, 1]², clipped well outside it (diverged runs)."""
    lo = np.array([surface.xlim[0], surface.ylim[0]])
    hi = np.array([surface.xlim[1], surface.ylim[1]])
    return np.clip((path - lo) / (hi - lo), -10.0, 11.0)


class OptimizerPathsView(View):
    """Six update rules on a 2-D loss surface: the paths, and the loss against the step.

    ``updates`` maps display names of :data:`OPTIMIZERS` ("SGD", "momentum",
    "Nesterov", "Adagrad", "RMSProp", "Adam") to the student's rules; a
    missing or unfinished one is replaced by the reference. The SGD family
    shares one learning rate, the adaptive rules another: their steps have
    different units (α·gradient against about α per coordinate).

    Every surface is drawn in the same unit square (its window is written in
    the corner) and losses are relative to the start, (f - f*)/(f(w0) - f*), so
    the axes never change. Each surface's static picture is saved once it has
    been drawn: moving back to a surface already seen blits like any other
    slider; the first visit of a surface costs one full redraw.
    """

    MAX_STEPS = 150
    LOSS_LIM = (1e-8, 1e3)

    def __init__(self, updates: dict[str, Update | None] | None = None, surface: int = 0) -> None:
        updates = dict(updates or {})
        unknown = set(updates) - set(OPTIMIZERS)
        if unknown:
            raise ValueError(f"unknown optimizer(s) {sorted(unknown)}; known: {list(OPTIMIZERS)}")
        ref = _ref()
        self._rules = {
            name: WithFallback(rule, partial(trajectory, updates[name]) if updates.get(name) else None,
                               partial(trajectory, getattr(ref, rule)))
            for name, (rule, _, _) in OPTIMIZERS.items()
        }
        self._paths = _Cache(6 * 48)
        self._surface_index = surface
        self._saved: dict[int, Any] = {}  # surface -> the background of its last full draw
        self._full_draw_needed = False
        super().__init__({
            "surface": ("int", 0, len(SURFACES) - 1, 1, surface, "surface: 0 ravine, 1 Rosenbrock, 2 saddle"),
            "learning_rate": ("log", 1e-4, 1.0, 0.1, 0.05, "α of SGD, momentum, Nesterov"),
            "adaptive_lr": ("log", 1e-3, 1.0, 0.1, 0.1, "α of Adagrad, RMSProp, Adam"),
            "momentum": ("float", 0.0, 0.99, 0.01, 0.9, "momentum β"),
            "steps": ("int", 1, self.MAX_STEPS, 1, self.MAX_STEPS, "steps"),
        }, figsize=(9.6, 4.0), title="Optimizers on a 2-D loss surface")
        self._build()
        self.update()

    def _build(self) -> None:
        from matplotlib import colormaps

        ax_map, ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.25, 1)})
        # Per surface, in the unit square: a banded image of log f (the bands read as contour
        # lines), its minima, the start, and two notes. Only the chosen surface's are visible.
        cmap = colormaps["viridis"].resampled(14)
        self._static: list[list[Any]] = []
        u = np.linspace(0, 1, 200)
        box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8}
        for s in SURFACES:
            grid = np.column_stack([c.ravel() for c in np.meshgrid(np.interp(u, (0, 1), s.xlim),
                                                                   np.interp(u, (0, 1), s.ylim))])
            Z = surface_losses(s, grid).reshape(200, 200)
            floor = 1e-3 * float(np.median(Z))
            start = _unit(s, np.array([s.start]))
            self._static.append([
                ax_map.imshow(np.log10(Z + floor), extent=(0, 1, 0, 1), origin="lower", aspect="auto", cmap=cmap,
                              interpolation="nearest"),
                *ax_map.plot(*_unit(s, np.array(s.minima)).T, "*", color="w", mec="k", ms=12),
                *ax_map.plot(*start.T, "o", color="w", mec="k", ms=7, zorder=3),
                ax_map.text(0.5, 0.98, f"{s.name}: {s.note}", transform=ax_map.transAxes, ha="center", va="top",
                            fontsize=8.5, bbox=box),
                ax_map.text(0.99, 0.02, f"w1 ∈ [{s.xlim[0]:g}, {s.xlim[1]:g}], w2 ∈ [{s.ylim[0]:g}, {s.ylim[1]:g}]",
                            transform=ax_map.transAxes, ha="right", va="bottom", fontsize=8, color="w"),
            ])
        self.path_lines, self.loss_lines = {}, {}
        for (name, _), color in zip(OPTIMIZERS.items(), _COLORS, strict=True):
            (self.path_lines[name],) = ax_map.plot([], [], ".-", color=color, lw=1.3, ms=2.5, label=name)
            (self.loss_lines[name],) = ax_loss.plot([], [], color=color, lw=1.5)
        ax_map.set(xlim=(0, 1), ylim=(0, 1), xticks=[], yticks=[], xlabel="$w_1$", ylabel="$w_2$",
                   title="loss surface (bands: log scale)")
        ax_loss.set(yscale="log", xlim=(0, self.MAX_STEPS), ylim=self.LOSS_LIM, xlabel="step",
                    ylabel="$(f(w) - f^*)\\,/\\,(f(w_0) - f^*)$", title="loss relative to the start")
        ax_loss.minorticks_off()
        self.status = ax_loss.text(0.98, 0.97, "", transform=ax_loss.transAxes, ha="right", va="top", fontsize=8.5,
                                   color="tab:red")
        self.axes = (ax_map, ax_loss)
        self.animate(*self.path_lines.values(), *self.loss_lines.values(), self.status)
        self._show_surface(self._surface_index)
        self.layout()
        self.fig.subplots_adjust(bottom=0.21)
        self.fig.legend(handles=list(self.path_lines.values()), loc="lower center", ncol=6, frameon=False)

    # -- one saved background per surface ----------------------------------------------

    def _show_surface(self, index: int) -> None:
        for i, artists in enumerate(self._static):
            for artist in artists:
                artist.set_visible(i == index)
        if index != self._surface_index:
            self._surface_index = index
            saved = self._saved.get(index)
            fresh = saved is not None and saved[0] is self.fig.canvas and saved[1] == tuple(self.fig.bbox.bounds)
            self._background = saved if fresh else None
            self._full_draw_needed = not fresh  # draw() first draws everything once

    def _on_full_draw(self, event: Any) -> None:
        super()._on_full_draw(event)
        if not self.fig.canvas.is_saving():
            self._saved[self._surface_index] = self._background

    def invalidate(self) -> None:
        """Static content changed (a fallback note in the title): every saved surface is stale."""
        self._saved.clear()
        super().invalidate()

    def draw(self) -> None:
        if self._full_draw_needed and self._output is None:
            # A surface seen for the first time: render it now (this saves its background),
            # instead of waiting for a browser to ask, then blit as after any slider.
            self._full_draw_needed = False
            self.fig.canvas.draw()
        super().draw()

    # -- computation and update ----------------------------------------------------------

    def paths(self, **params: float) -> dict[str, np.ndarray]:
        """Every optimizer's path, (MAX_STEPS + 1, 2), at these slider values (cached per optimizer)."""
        p = {**self.params, **params}
        surface = SURFACES[int(p["surface"])]
        out = {}
        for name, (_, reads, fixed) in OPTIMIZERS.items():
            hyper = {"learning_rate" if k == "adaptive_lr" else k: float(p[k]) for k in reads}
            key = (name, surface.name, *sorted(hyper.items()))
            rule = self._rules[name]
            # Cached with the note of the run that made it: which rule (student or reference) drew it.
            out[name], rule.note = self._paths.get_or(key, lambda rule=rule, hyper=hyper, fixed=fixed: (
                rule(surface, self.MAX_STEPS, {**hyper, **fixed}, shape=(self.MAX_STEPS + 1, 2)), rule.note))
        return out

    def update(self, **params: float) -> None:
        p = self.merge(params)
        index, k = int(p["surface"]), int(p["steps"])
        self._show_surface(index)
        surface = SURFACES[index]
        f0 = float(surface_losses(surface, np.array([surface.start]))[0])
        diverged = []
        for name, path in self.paths().items():
            shown = path[: k + 1]
            self.path_lines[name].set_data(*_unit(surface, shown).T)
            losses = surface_losses(surface, shown) / f0
            self.loss_lines[name].set_data(np.arange(k + 1), np.clip(losses, *self.LOSS_LIM))
            if np.isnan(shown[-1, 0]):
                diverged.append(name)
        self.status.set_text(f"diverged: {', '.join(diverged)}" if diverged else "")
        self.show_fallbacks(*self._rules.values())


class BatchNoiseView(View):
    """Mini-batch SGD on the digits (softmax regression): gradient noise and the loss curve.

    X: (N, D) inputs (a bias column is added here), y: (N,) labels. ``sgd``
    is the student's ``sgd(w, dw, config)``, if given. Left: 300 mini-batch
    gradients at W = 0, projected on the full gradient's direction and the
    direction of largest noise. Middle: the relative noise against the batch
    size. Right: the loss on all N samples while training with that batch size,
    beside full-batch gradient descent at the same learning rate.

    The learning rate moves in half decades (0.01, 0.03, 0.1, ..., 10), so the
    sliders reach 7 x 11 training runs: all are made (and cached) with the view.
    """

    STEPS = 100
    EVERY = 5  # the loss on all data is evaluated every EVERY steps
    CLOUD = 300
    LR_STEP = 0.5  # decades

    def __init__(self, X: np.ndarray, y: np.ndarray, sgd: Update | None = None, seed: int = 0) -> None:
        from dlcourse.data import add_bias_column

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"need X (N, D) and y (N,), got {X.shape} and {y.shape}")
        self.X, self.y = add_bias_column(X), y
        n = self.X.shape[0]
        self.batch_sizes = [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if b < n] + [n]
        self.seed = seed
        self._sgd = WithFallback("sgd", partial(_run_losses, sgd) if sgd is not None else None,
                                 partial(_run_losses, _ref().sgd))
        self._runs = _Cache(256)
        self._prepare_noise(np.random.default_rng(seed))
        super().__init__({
            "batch": ("int", 0, len(self.batch_sizes) - 1, 1, 5, "batch size (1, 2, 4, ..., all)"),
            "learning_rate": ("log", 0.01, 10.0, self.LR_STEP, 1.0, "learning rate α"),
        }, figsize=(10.4, 3.4), title="Mini-batch gradient descent on the digits (softmax regression)")
        # Every run the sliders can ask for (7 learning rates x 11 batch sizes), made now so that moving a
        # slider only redraws: about a second, once.
        for k in range(-4, 3):
            for m in self.batch_sizes:
                self.run(m, 10 ** (k * self.LR_STEP))
        self._build()
        self.update()

    def _prepare_noise(self, rng: np.random.Generator) -> None:
        """Per-sample gradients at W = 0, a 2-D view of them, and batch means for every batch size."""
        W0 = np.zeros((self.X.shape[1], int(self.y.max()) + 1))
        G = per_sample_gradients(W0, self.X, self.y)  # (N, D*C)
        g = G.mean(axis=0)
        u1 = g / np.linalg.norm(g)
        R = (G - g) - np.outer((G - g) @ u1, u1)  # noise orthogonal to the mean direction
        u2 = rng.standard_normal(G.shape[1])
        for _ in range(10):  # power iteration: the direction of largest noise (for display: rough is fine)
            u2 = R.T @ (R @ u2)
            u2 /= np.linalg.norm(u2)
        coords = G @ np.column_stack([u1, u2])  # (N, 2)
        # Batch means for all sizes at once: shuffle, then running means of the first m rows.
        order = np.argsort(rng.random((self.CLOUD, len(coords))), axis=1)
        running = np.cumsum(coords[order], axis=1)  # (CLOUD, N, 2)
        self.clouds = [running[:, m - 1] / m for m in self.batch_sizes]
        self.g_coords = np.array([np.linalg.norm(g), 0.0])
        self.noise_m = np.unique(np.geomspace(1, len(coords), 200).astype(int))
        self.noise = gradient_noise(G, self.noise_m)
        self.noise_at = dict(zip(self.batch_sizes, gradient_noise(G, np.array(self.batch_sizes)), strict=True))

    def _build(self) -> None:
        ax_cloud, ax_noise, ax_loss = self.fig.subplots(1, 3)
        spread = self.clouds[0] - self.g_coords
        half = float(np.percentile(np.abs(spread), 97)) * 1.1
        ax_cloud.axhline(0, color="0.85", lw=0.8)
        ax_cloud.axvline(0, color="0.85", lw=0.8)
        self.cloud = ax_cloud.scatter(*self.clouds[0].T, s=6, color="tab:blue", alpha=0.35)
        ax_cloud.plot(*self.g_coords, "*", color="tab:red", ms=12, zorder=5)
        ax_cloud.set(xlim=(self.g_coords[0] - half, self.g_coords[0] + half), ylim=(-half, half),
                     xlabel="along the full gradient", ylabel="across (largest noise)",
                     title="mini-batch gradients at W = 0 (★ = full)")
        ax_cloud.title.set_fontsize(10)

        ax_noise.plot(self.noise_m, np.maximum(self.noise, 1e-3), color="tab:blue")
        m = self.noise_m.astype(float)
        ax_noise.plot(m, self.noise[0] / np.sqrt(m), ls="--", color="0.6", lw=0.8)
        (self.noise_marker,) = ax_noise.plot([], [], "o", color="tab:red", ms=7)
        ax_noise.set(xscale="log", yscale="log", ylim=(1e-3, 2 * self.noise[0]), xlabel="batch size m",
                     ylabel="‖g_B − g‖ / ‖g‖ (rms)", title="noise ∝ 1/√m (dashed), 0 for the full batch")
        ax_noise.title.set_fontsize(10)
        ax_noise.minorticks_off()

        steps = np.arange(self.STEPS + 1)
        (self.batch_line,) = ax_loss.plot(steps[:-1], np.zeros(self.STEPS), color="tab:blue", alpha=0.3, lw=0.8)
        (self.full_line,) = ax_loss.plot(steps[:: self.EVERY], steps[:: self.EVERY] * 0.0, color="tab:blue", lw=2)
        (self.gd_line,) = ax_loss.plot(steps[:: self.EVERY], steps[:: self.EVERY] * 0.0, color="k", ls="--", lw=1)
        self.loss_text = ax_loss.text(0.98, 0.98, "", transform=ax_loss.transAxes, ha="right", va="top", fontsize=7.5,
                                      bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        ax_loss.set(xlim=(0, self.STEPS), ylim=(0, 1.5 * np.log(10)), xlabel="step",
                    ylabel="cross-entropy", title="loss on all training data")
        ax_loss.title.set_fontsize(10)
        ax_loss.legend([self.full_line, self.batch_line, self.gd_line],
                       ["all data, this batch size", "its mini-batches", "full batch (GD)"], loc="lower left",
                       fontsize=7.5, frameon=False)
        self.axes = (ax_cloud, ax_noise, ax_loss)
        self.animate(self.cloud, self.noise_marker, self.batch_line, self.full_line, self.gd_line, self.loss_text)
        self.layout()

    def snap(self, learning_rate: float) -> float:
        """The nearest learning rate on the slider's grid (half decades)."""
        return float(10 ** (round(np.log10(learning_rate) / self.LR_STEP) * self.LR_STEP))

    def run(self, batch_size: int, learning_rate: float) -> tuple[np.ndarray, np.ndarray]:
        """(loss on all data every EVERY steps, mini-batch losses) of one training run (cached)."""
        n_full = self.STEPS // self.EVERY + 1
        lr = self.snap(learning_rate)

        def make() -> tuple[np.ndarray, str]:
            both = self._sgd(self.X, self.y, batch_size, lr, self.STEPS, self.seed, shape=(n_full + self.STEPS,))
            return both, self._sgd.note

        both, self._sgd.note = self._runs.get_or((batch_size, lr), make)
        return both[:n_full], both[n_full:]

    def update(self, **params: float) -> None:
        p = self.merge(params)
        m, lr = self.batch_sizes[int(p["batch"])], self.snap(p["learning_rate"])
        gd_full, _ = self.run(len(self.y), lr)
        full, batch = self.run(m, lr)
        self.cloud.set_offsets(self.clouds[int(p["batch"])])
        self.noise_marker.set_data([m], [max(self.noise_at[m], 1e-3)])
        top = self.axes[2].get_ylim()[1]
        for line, values in ((self.full_line, full), (self.batch_line, batch), (self.gd_line, gd_full)):
            line.set_ydata(np.clip(np.nan_to_num(values, nan=top, posinf=top), 0.0, top))
        epochs = self.STEPS * m / len(self.y)
        # One short line: every glyph is rendered again on each update.
        self.loss_text.set_text(f"m = {m}, {epochs:.3g} epochs: loss {full[-1]:.3f} (GD {gd_full[-1]:.3f})")
        self.show_fallbacks(self._sgd)
