"""The slider views of notebook 05_batchnorm (I2DL lecture 8, Tokyo DL2 "Normalization", KIOS lecture 6): drawing.

* :class:`BatchNormLRView`: a ReLU MLP on the digits trained by SGD with and
  without batch norm, for a learning rate and an init scale (times Kaiming's
  std): the loss of every step, the loss reached against the learning rate,
  and the spread of what enters each ReLU at the start. Batch norm is the
  student's ``batchnorm_forward`` / ``batchnorm_backward``.
* :class:`RegularizationGapView`: a small network on a small training set with
  noisy labels, trained by AdamW with inverted dropout: training and validation
  accuracy per epoch for a dropout rate and a weight decay, and the gap between
  them over every setting. Dropout is the student's ``dropout_forward`` /
  ``dropout_backward``.

Every training run the sliders can ask for is made when the view is built
(sliders snap to a grid): a slider update only moves lines and markers, well
within the 50 ms budget, whatever the machine's load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.lazy_reference import reference
from dlcourse.widgets.batchnorm.compute import (
    kaiming_directions,
    preactivation_stds,
    standardize,
    train_curve,
    train_regularized,
)
from dlcourse.widgets.core import FunctionMissing, Slider, View, WithFallback, display_clip, one_blas_thread

__all__ = ["BatchNormLRView", "RegularizationGapView"]

LOSS_LIMITS = (1e-2, 1e2)


def _grid(lo: float, hi: float, step_decades: float) -> np.ndarray:
    """The values of a log slider from lo to hi in steps of ``step_decades``."""
    k = round(math.log10(hi / lo) / step_decades)
    return lo * 10.0 ** (step_decades * np.arange(k + 1))


def _nearest(grid: np.ndarray, value: float, log: bool = True) -> int:
    distance = np.abs(np.log10(grid) - math.log10(value)) if log else np.abs(grid - value)
    return int(np.argmin(distance))


class BatchNormLRView(View):
    """Training loss with and without batch norm against the learning rate and the init scale.

    X_train (N, 64) raw digits (standardized here with their own statistics),
    y_train (N,). ``batchnorm_forward(x, gamma, beta, bn_param) -> (out,
    cache)`` and ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``
    are the student's, if given.
    """

    def __init__(self, X_train: np.ndarray, y_train: np.ndarray, batchnorm_forward: Callable[..., Any] | None = None,
                 batchnorm_backward: Callable[..., Any] | None = None, *, n_samples: int = 256,
                 hidden: tuple[int, ...] = (64, 64, 64), epochs: int = 5, batch_size: int = 64,
                 learning_rates: tuple[float, float] = (1e-3, 10.0), scales: tuple[float, float] = (0.1, 10.0),
                 step_decades: float = 0.5, seed: int = 0) -> None:
        X = np.asarray(X_train, dtype=np.float64)[:n_samples]
        self.X, self.y = standardize(X)[0], np.asarray(y_train, dtype=np.int64)[:n_samples]
        if self.X.ndim != 2 or len(self.y) != len(self.X) or len(self.y) < 2:
            raise ValueError("need X_train (N, D) with N >= 2 and y_train (N,)")
        self.sizes = [self.X.shape[1], *hidden, int(self.y.max()) + 1]
        self.directions = kaiming_directions(self.sizes, seed)
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        self.steps = epochs * math.ceil(len(self.y) / batch_size)
        self.lrs, self.scales = _grid(*learning_rates, step_decades), _grid(*scales, step_decades)
        name = "batchnorm_forward/backward"
        have_both = batchnorm_forward is not None and batchnorm_backward is not None
        ref_forward, ref_backward = reference("norm.batchnorm_forward"), reference("norm.batchnorm_backward")
        self._bn = WithFallback(name, self._runner(batchnorm_forward, batchnorm_backward) if have_both else None,
                                self._runner(ref_forward, ref_backward))
        self._bn_stds = WithFallback(name, self._stds(batchnorm_forward) if have_both else None,
                                     self._stds(ref_forward))
        super().__init__({
            "learning_rate": Slider("log", self.lrs[0], self.lrs[-1], step_decades, 0.1, "learning rate"),
            "init_scale": Slider("log", self.scales[0], self.scales[-1], step_decades, 1.0,
                                 "init scale (× Kaiming std)"),
        }, figsize=(11, 3.6), title=f"SGD on {len(self.y)} digits, {len(hidden)} hidden ReLU layers of "
                                    f"{hidden[0]}: plain (blue) and with your batch norm (orange)")
        self._compute()
        self._build()
        self.update()

    def _runner(self, forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., np.ndarray]:
        def run(learning_rate: float, scale: float) -> np.ndarray:
            weights = [scale * w for w in self.directions]
            return train_curve(self.X, self.y, weights, learning_rate, batchnorm=(forward, backward),
                               epochs=self.epochs, batch_size=self.batch_size, seed=self.seed)

        return run

    def _stds(self, forward: Callable[..., Any]) -> Callable[..., np.ndarray]:
        return lambda scale: preactivation_stds(self.X[:self.batch_size], [scale * w for w in self.directions],
                                                (forward, None))

    def _compute(self) -> None:
        """Every run of the grid, plain and with batch norm (the sliders snap to it)."""
        shape = (len(self.scales), len(self.lrs), self.steps)
        self.plain, self.bn = np.full(shape, np.nan), np.full(shape, np.nan)
        self.stds_plain = np.zeros((len(self.scales), len(self.sizes) - 2))
        self.stds_bn = np.full_like(self.stds_plain, np.nan)
        self.bn_available = False
        with one_blas_thread():
            for i, scale in enumerate(self.scales):
                weights = [scale * w for w in self.directions]
                self.stds_plain[i] = preactivation_stds(self.X[:self.batch_size], weights)
                for j, lr in enumerate(self.lrs):
                    self.plain[i, j] = train_curve(self.X, self.y, weights, lr, epochs=self.epochs,
                                                   batch_size=self.batch_size, seed=self.seed)
                with self.part():
                    for j, lr in enumerate(self.lrs):
                        self.bn[i, j] = self._bn(lr, scale, shape=(self.steps,))
                    self.stds_bn[i] = self._bn_stds(scale, shape=(len(self.sizes) - 2,))
                    self.bn_available = True
        self._missing = []  # reported by update(), not by the build
        self.note = self._bn.note
        steps_per_epoch = self.steps // self.epochs
        self.final_plain = self._final(self.plain, steps_per_epoch)
        self.final_bn = self._final(self.bn, steps_per_epoch)

    @staticmethod
    def _final(curves: np.ndarray, last: int) -> np.ndarray:
        """Mean loss over the last epoch, inf where the run diverged."""
        with np.errstate(invalid="ignore"):
            tail = curves[..., -last:]
            return np.where(np.all(np.isfinite(tail), axis=-1), tail.mean(axis=-1), np.inf)

    def _build(self) -> None:
        ax_t, ax_lr, ax_s = self.fig.subplots(1, 3)
        steps = np.arange(1, self.steps + 1)
        (self._plain_line,) = ax_t.plot(steps, np.ones(self.steps), color="tab:blue", lw=1.2, label="plain")
        (self._bn_line,) = ax_t.plot(steps, np.ones(self.steps), color="tab:orange", lw=1.2, label="batch norm")
        ax_t.axhline(math.log(self.sizes[-1]), color="k", ls="--", lw=0.7)
        ax_t.set(yscale="log", ylim=LOSS_LIMITS, xlim=(1, self.steps), xlabel="step", ylabel="minibatch loss",
                 title="training loss")
        ax_t.legend(fontsize=7, loc="lower left")
        self._text = ax_t.text(0.97, 0.97, "", transform=ax_t.transAxes, ha="right", va="top", fontsize=8)
        (self._plain_lr,) = ax_lr.plot(self.lrs, np.ones(len(self.lrs)), "o-", ms=3, color="tab:blue")
        (self._bn_lr,) = ax_lr.plot(self.lrs, np.ones(len(self.lrs)), "o-", ms=3, color="tab:orange")
        self._lr_marker = ax_lr.axvline(0.1, color="0.3", lw=0.8)
        ax_lr.set(xscale="log", yscale="log", ylim=LOSS_LIMITS, xlabel="learning rate",
                  title=f"loss in the last epoch ({self.epochs} epochs)\n(top edge: diverged)")
        layers = np.arange(1, len(self.sizes) - 1)
        (self._plain_std,) = ax_s.plot(layers, np.ones(len(layers)), "o-", color="tab:blue")
        (self._bn_std,) = ax_s.plot(layers, np.ones(len(layers)), "o-", color="tab:orange")
        ax_s.set(yscale="log", ylim=(1e-3, 1e4), xticks=layers, xlabel="hidden layer",
                 title="std of the ReLU's input at the start")
        for ax in (ax_t, ax_lr, ax_s):
            ax.minorticks_off()
        self.axes = (ax_t, ax_lr, ax_s)
        self.animate(self._plain_line, self._bn_line, self._text, self._plain_lr, self._bn_lr, self._lr_marker,
                     self._plain_std, self._bn_std)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        i, j = _nearest(self.scales, p["init_scale"]), _nearest(self.lrs, p["learning_rate"])
        self._plain_line.set_ydata(display_clip(self.plain[i, j], *LOSS_LIMITS))
        self._plain_lr.set_ydata(display_clip(self.final_plain[i], *LOSS_LIMITS))
        self._plain_std.set_ydata(display_clip(self.stds_plain[i], 1e-3, 1e4))
        self._lr_marker.set_xdata([self.lrs[j], self.lrs[j]])
        with self.part(self._bn_line, self._bn_lr, self._bn_std):
            if not self.bn_available:  # neither the student's functions nor the reference could run
                raise FunctionMissing(self._bn.name)
            self._bn_line.set_ydata(display_clip(self.bn[i, j], *LOSS_LIMITS))
            self._bn_lr.set_ydata(display_clip(self.final_bn[i], *LOSS_LIMITS))
            self._bn_std.set_ydata(display_clip(self.stds_bn[i], 1e-3, 1e4))
        words = []
        for name, final in (("plain", self.final_plain[i, j]), ("batch norm", self.final_bn[i, j])):
            words.append(f"{name}: " + ("diverged" if not np.isfinite(final) else f"{final:.3f}"))
        self._text.set_text(f"lr {self.lrs[j]:.3g}, scale {self.scales[i]:.3g}\n" + "\n".join(words))
        self._bn.note = self.note
        self.show_fallbacks(self._bn)


class RegularizationGapView(View):
    """Training vs validation accuracy for a dropout rate and a weight decay (AdamW) on a small noisy training set.

    X_small (n, 64) and y_noisy (n,): the notebook's small training set with
    noisy labels; X_val, y_val: the clean validation split. Raw pixels,
    standardized here with X_small's statistics. ``dropout_forward(x, p, mode,
    rng) -> (out, cache)`` and ``dropout_backward(dout, cache)`` are the
    student's, if given.
    """

    def __init__(self, X_small: np.ndarray, y_noisy: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                 dropout_forward: Callable[..., Any] | None = None,
                 dropout_backward: Callable[..., Any] | None = None, *,
                 drop_rates: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8),
                 weight_decays: tuple[float, float] = (0.1, 10.0), step_decades: float = 0.5, hidden: int = 64,
                 epochs: int = 60, batch_size: int = 300, learning_rate: float = 1e-2, seed: int = 0) -> None:
        self.X, self.X_val = standardize(np.asarray(X_small, dtype=np.float64), np.asarray(X_val, dtype=np.float64))
        self.y, self.y_val = np.asarray(y_noisy, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
        if len(self.y) != len(self.X) or len(self.y_val) != len(self.X_val):
            raise ValueError("need X_small (n, D) with y_noisy (n,) and X_val (M, D) with y_val (M,)")
        self.ps, self.wds = np.array(drop_rates, dtype=np.float64), _grid(*weight_decays, step_decades)
        self.epochs = epochs
        self.kw = {"hidden": hidden, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                   "seed": seed}
        student = None
        if dropout_forward is not None and dropout_backward is not None:
            student = self._runner(dropout_forward, dropout_backward)
        self._dropout = WithFallback("dropout_forward/backward", student,
                                     self._runner(reference("layers.dropout_forward"),
                                                  reference("layers.dropout_backward")))
        super().__init__({
            "p": Slider("float", float(self.ps[0]), float(self.ps[-1]), float(self.ps[1] - self.ps[0]), 0.0,
                        "dropout p"),
            "weight_decay": Slider("log", self.wds[0], self.wds[-1], step_decades, self.wds[0], "weight decay"),
        }, figsize=(11, 3.6), title=f"{len(self.y)} digits with noisy labels, a {hidden}-unit hidden layer, AdamW "
                                    f"(lr {learning_rate:g}) with your dropout")
        self._compute()
        self._build()
        self.update()

    def _runner(self, forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., np.ndarray]:
        def run(p: float, weight_decay: float) -> np.ndarray:
            r = train_regularized(self.X, self.y, self.X_val, self.y_val, p=p, weight_decay=weight_decay,
                                  dropout=(forward, backward), **self.kw)
            return np.stack([r.train_accuracy, r.val_accuracy])

        return run

    def _compute(self) -> None:
        self.runs = np.full((len(self.ps), len(self.wds), 2, self.epochs), np.nan)
        self.available = False
        with one_blas_thread(), self.part():
            for i, p in enumerate(self.ps):
                for j, wd in enumerate(self.wds):
                    self.runs[i, j] = self._dropout(p, wd, shape=(2, self.epochs))
            self.available = True
        self._missing = []  # reported by update(), not by the build
        self.note = self._dropout.note
        self.gap = self.runs[:, :, 0, -1] - self.runs[:, :, 1, -1]

    def _build(self) -> None:
        ax_c, ax_g, ax_v = self.fig.subplots(1, 3)
        epochs = np.arange(1, self.epochs + 1)
        (self._train_line,) = ax_c.plot(epochs, np.zeros(self.epochs), color="tab:blue",
                                        label="training (noisy labels)")
        (self._val_line,) = ax_c.plot(epochs, np.zeros(self.epochs), color="tab:green", label="validation")
        # Accuracies stay below 1: the band above it holds the numbers.
        ax_c.set(ylim=(0, 1.3), yticks=np.linspace(0, 1, 6), xlim=(1, self.epochs), xlabel="epoch",
                 ylabel="accuracy", title="accuracy")
        ax_c.axhline(1.0, color="0.8", lw=0.6)
        ax_c.legend(fontsize=7, loc="lower right")
        self._text = ax_c.text(0.03, 0.98, "", transform=ax_c.transAxes, va="top", fontsize=7.5)
        extent = (-0.5, len(self.wds) - 0.5, len(self.ps) - 0.5, -0.5)
        for ax, values, title, cmap, limits in ((ax_g, self.gap, "gap: training - validation", "coolwarm",
                                                 (-0.3, 0.3)),
                                                (ax_v, self.runs[:, :, 1, -1], "validation accuracy", "viridis",
                                                 (0.6, 0.95))):
            ax.imshow(np.nan_to_num(values), cmap=cmap, vmin=limits[0], vmax=limits[1], extent=extent, aspect="auto")
            for (r, c), value in np.ndenumerate(values):
                ax.text(c, r, "?" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=7)
            ax.set(xticks=range(len(self.wds)), xticklabels=[f"{w:.2g}" for w in self.wds],
                   yticks=range(len(self.ps)), yticklabels=[f"{p:.1f}" for p in self.ps], xlabel="weight decay",
                   ylabel="dropout p", title=f"{title} after {self.epochs} epochs")
        self._markers = [ax.plot([], [], "s", ms=16, mfc="none", mec="k", mew=2)[0] for ax in (ax_g, ax_v)]
        self.axes = (ax_c, ax_g, ax_v)
        self.animate(self._train_line, self._val_line, self._text, *self._markers)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        i, j = _nearest(self.ps, p["p"], log=False), _nearest(self.wds, p["weight_decay"])
        with self.part(self._train_line, self._val_line, *self._markers):
            if not self.available:  # neither the student's functions nor the reference could run
                raise FunctionMissing(self._dropout.name)
            self._train_line.set_ydata(self.runs[i, j, 0])
            self._val_line.set_ydata(self.runs[i, j, 1])
            for marker in self._markers:
                marker.set_data([j], [i])
            self._text.set_text(f"p {self.ps[i]:.1f}, weight decay {self.wds[j]:.2g}: gap {self.gap[i, j]:+.1%}\n"
                                f"training {self.runs[i, j, 0, -1]:.1%}, validation {self.runs[i, j, 1, -1]:.1%}")
        self._dropout.note = self.note
        self.show_fallbacks(self._dropout)
