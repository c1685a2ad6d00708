"""The slider views of notebook 03_optimizers (I2DL lectures 5 and 6, "Scaling Optimization", "Training NNs I"):
drawing only.

* :class:`OptimizerPathsView`: every update rule of the notebook racing on a
  2-D loss surface (an ill-conditioned ravine, Rosenbrock's banana, a saddle),
  with sliders for the learning rates, the momentum and the number of steps.
* :class:`BatchNoiseView`: mini-batch gradient descent on the real digits
  (softmax regression): how the batch size sets the noise of the gradient
  estimate, and what that noise does to the loss curve.

Both run the student's own update rules (``update(w, dw, config) -> (w,
config)``) when given, with the reference standing in while those are stubs.
Where a student's rule runs but cannot be right (its first steps differ from
the reference's, or, where the reference is absent, its first step goes
uphill), the paths view says that the function is wrong, not the slider
setting: a sign-flipped rule would otherwise read as "diverged", as if the
learning rate were to blame. The numbers come from
:mod:`dlcourse.widgets.optimizers.compute`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from dlcourse.lazy_reference import ReferenceUnavailable, reference
from dlcourse.widgets.core import Slider, View, WithFallback
from dlcourse.widgets.optimizers.compute import (
    OPTIMIZERS,
    SURFACES,
    Surface,
    Update,
    gradient_cloud,
    minibatch_losses,
    surface_losses,
    trajectory,
    wrong_steps,
)

__all__ = ["BatchNoiseView", "OptimizerPathsView"]

_COLORS = ("tab:gray", "tab:blue", "tab:cyan", "tab:olive", "tab:orange", "tab:red")


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
        self._rules = {
            name: WithFallback(rule, partial(trajectory, updates[name]) if updates.get(name) else None,
                               partial(trajectory, reference(f"optim.{rule}")))
            for name, (rule, _, _) in OPTIMIZERS.items()
        }
        self._paths = _Cache(6 * 48)
        self._wrong: dict[str, str] = {}  # optimizer -> why its (drawn) path cannot be right
        self._surface_index = surface
        self._saved: dict[int, Any] = {}  # surface -> the background of its last full draw
        self._full_draw_needed = False
        super().__init__({
            "surface": Slider("int", 0, len(SURFACES) - 1, 1, surface, "surface: 0 ravine, 1 Rosenbrock, 2 saddle"),
            "learning_rate": Slider("log", 1e-4, 1.0, 0.1, 0.05, "α of SGD, momentum, Nesterov"),
            "adaptive_lr": Slider("log", 1e-3, 1.0, 0.1, 0.1, "α of Adagrad, RMSProp, Adam"),
            "momentum": Slider("float", 0.0, 0.99, 0.01, 0.9, "momentum β"),
            "steps": Slider("int", 1, self.MAX_STEPS, 1, self.MAX_STEPS, "steps"),
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

    def path(self, name: str, **params: float) -> np.ndarray:
        """One optimizer's path, (MAX_STEPS + 1, 2), at these slider values (cached)."""
        p = {**self.params, **params}
        surface = SURFACES[int(p["surface"])]
        _, reads, fixed = OPTIMIZERS[name]
        hyper = {"learning_rate" if k == "adaptive_lr" else k: float(p[k]) for k in reads}
        key = (name, surface.name, *sorted(hyper.items()))
        rule = self._rules[name]
        # Cached with the note of the run that made it (which rule drew it, and why) and the reason a student's
        # path is wrong where no reference could stand in for it.
        path, rule.note, self._wrong[name] = self._paths.get_or(
            key, lambda: self._checked_path(name, surface, {**hyper, **fixed}))
        return path

    def _checked_path(self, name: str, surface: Surface, config: dict[str, float]) -> tuple[np.ndarray, str, str]:
        """A path, the fallback note, and why the student's path is wrong when it had to be drawn anyway."""
        rule = self._rules[name]
        path = rule(surface, self.MAX_STEPS, config, shape=(self.MAX_STEPS + 1, 2))
        if rule.note or rule.student is None:
            return path, rule.note, ""  # the reference's own path
        try:
            expected = trajectory(reference(f"optim.{OPTIMIZERS[name][0]}"), surface, 4, config)
        except ReferenceUnavailable:
            return path, "", wrong_steps(path, surface, None)
        why = wrong_steps(path, surface, expected)
        if not why:
            return path, "", ""
        full = np.asarray(rule.reference(surface, self.MAX_STEPS, config), dtype=np.float64)
        return full, f"your {rule.name} {why}: the function is wrong, not the slider", ""

    def paths(self, **params: float) -> dict[str, np.ndarray]:
        """Every optimizer's path, (MAX_STEPS + 1, 2), at these slider values (cached per optimizer)."""
        return {name: self.path(name, **params) for name in OPTIMIZERS}

    def update(self, **params: float) -> None:
        p = self.merge(params)
        index, k = int(p["surface"]), int(p["steps"])
        self._show_surface(index)
        surface = SURFACES[index]
        f0 = float(surface_losses(surface, np.array([surface.start]))[0])
        diverged, wrong = [], []
        for name in OPTIMIZERS:
            with self.part(self.path_lines[name], self.loss_lines[name]):
                shown = self.path(name)[: k + 1]
                self.path_lines[name].set_data(*_unit(surface, shown).T)
                losses = surface_losses(surface, shown) / f0
                self.loss_lines[name].set_data(np.arange(k + 1), np.clip(losses, *self.LOSS_LIM))
                if self._wrong.get(name):
                    wrong.append(f"your {self._rules[name].name} {self._wrong[name]}")
                elif np.isnan(shown[-1, 0]):
                    diverged.append(name)
        lines = [f"diverged: {', '.join(diverged)}"] if diverged else []
        if wrong:  # not the learning rate's fault: say so, never "diverged"
            lines.append("; ".join(wrong) + ":\nthe function is wrong, not α")
        self.status.set_text("\n".join(lines))
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
        self._sgd = WithFallback("sgd", partial(minibatch_losses, sgd, every=self.EVERY) if sgd is not None else None,
                                 partial(minibatch_losses, reference("optim.sgd"), every=self.EVERY))
        self._runs = _Cache(256)
        self.clouds, self.g_coords, self.noise_m, self.noise, self.noise_at = gradient_cloud(
            self.X, self.y, self.batch_sizes, np.random.default_rng(seed), self.CLOUD)
        super().__init__({
            "batch": Slider("int", 0, len(self.batch_sizes) - 1, 1, 5, "batch size (1, 2, 4, ..., all)"),
            "learning_rate": Slider("log", 0.01, 10.0, self.LR_STEP, 1.0, "learning rate α"),
        }, figsize=(10.4, 3.4), title="Mini-batch gradient descent on the digits (softmax regression)")
        # Every run the sliders can ask for (7 learning rates x 11 batch sizes), made now so that moving a
        # slider only redraws: about a second, once.
        with self.part():  # without sgd, each update asks again (and hides the loss curves)
            for k in range(-4, 3):
                for m in self.batch_sizes:
                    self.run(m, 10 ** (k * self.LR_STEP))
        self._build()
        self.update()

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
        self.cloud.set_offsets(self.clouds[int(p["batch"])])
        self.noise_marker.set_data([m], [max(self.noise_at[m], 1e-3)])
        with self.part(self.full_line, self.batch_line, self.gd_line, self.loss_text):
            gd_full, _ = self.run(len(self.y), lr)
            full, batch = self.run(m, lr)
            top = self.axes[2].get_ylim()[1]
            for line, values in ((self.full_line, full), (self.batch_line, batch), (self.gd_line, gd_full)):
                line.set_ydata(np.clip(np.nan_to_num(values, nan=top, posinf=top), 0.0, top))
            epochs = self.STEPS * m / len(self.y)
            # One short line: every glyph is rendered again on each update.
            self.loss_text.set_text(f"m = {m}, {epochs:.3g} epochs: loss {full[-1]:.3f} (GD {gd_full[-1]:.3f})")
        self.show_fallbacks(self._sgd)
