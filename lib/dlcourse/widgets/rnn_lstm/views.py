"""The slider views of notebook 07_rnn_lstm (I2DL lecture 11, "Recurrent Neural Networks"; TUM ML "Deep
Learning 2"): drawing only.

* :class:`SpectralRadiusView`: the eigenvalue argument. A recurrent matrix Wh of spectral radius ρ
  (one random draw, rescaled by the slider), its eigenvalues against the unit circle, and how large
  the gradient is k steps back in time: through the linear recurrence (``(Wh^T)^k``, a straight line
  of slope log ρ on a log scale) and through a tanh RNN, by backpropagation through time with the
  student's ``rnn_forward`` and ``rnn_backward`` (the reference stands in while they are stubs). ρ < 1
  vanishes, ρ > 1 explodes, and the input scale shows how a saturated tanh (tanh' -> 0) makes even
  ρ > 1 vanish.
* :class:`DelayView`: the delayed-recall task. Accuracy against the delay for a vanilla RNN, an LSTM
  with torch's default initialization and an LSTM with forget bias 2, and the training curves of all
  three at the chosen delay: precomputed by :func:`~dlcourse.widgets.rnn_lstm.compute.recall_sweep`, so
  the slider only looks them up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.lazy_reference import reference
from dlcourse.widgets.core import Slider, View, WithFallback, display_clip, one_blas_thread
from dlcourse.widgets.rnn_lstm.compute import (
    RecallSweep,
    bptt_input_gradients,
    moving_average,
    power_norms,
    recurrent_matrix,
)

__all__ = ["DelayView", "SpectralRadiusView"]


def _bptt(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., np.ndarray]:
    return lambda *args: bptt_input_gradients(forward, backward, *args)


class SpectralRadiusView(View):
    """Eigenvalues of Wh and the gradient norm k steps back in time, for a chosen spectral radius.

    ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and ``rnn_backward(dh, cache) -> (dx, ...)`` are
    the student's (both, or neither: the reference stands in until both work). The tanh RNN reads
    ``n_sequences`` sequences of ``steps`` Gaussian inputs times the input scale, from h0 = 0; the loss
    is on the last hidden state only.
    """

    LIMITS = (1e-20, 1e10)  # gradient axis: values beyond are drawn at the border

    def __init__(self, rnn_forward: Callable[..., Any] | None = None, rnn_backward: Callable[..., Any] | None = None,
                 *, hidden_size: int = 32, input_size: int = 4, n_sequences: int = 8, steps: int = 40,
                 seed: int = 0) -> None:
        if hidden_size < 2 or input_size < 1 or n_sequences < 1 or steps < 2:
            raise ValueError("need hidden_size >= 2, input_size >= 1, n_sequences >= 1 and steps >= 2")
        rng = np.random.default_rng(seed)
        self.W1 = recurrent_matrix(hidden_size, 1.0, seed)  # spectral radius 1: the slider scales it
        self.eig1 = np.linalg.eigvals(self.W1)
        self.z = rng.standard_normal((n_sequences, steps, input_size))  # inputs at scale 1
        self.Wx = rng.standard_normal((input_size, hidden_size)) / math.sqrt(input_size)
        self.h0, self.b = np.zeros((n_sequences, hidden_size)), np.zeros(hidden_size)
        self.dout = rng.standard_normal((n_sequences, hidden_size))
        self.steps = steps
        student = _bptt(rnn_forward, rnn_backward) if rnn_forward is not None and rnn_backward is not None else None
        self._bptt = WithFallback("rnn_forward/rnn_backward", student,
                                  _bptt(reference("rnn.rnn_forward"), reference("rnn.rnn_backward")))
        self._cache: dict[tuple[float, float], np.ndarray] = {}
        super().__init__({
            "radius": Slider("float", 0.5, 1.5, 0.01, 0.9, "spectral radius ρ of Wh"),
            "input_scale": Slider("float", 0.0, 2.0, 0.05, 0.0, "input scale"),
        }, figsize=(11, 3.8), title=f"Gradients through time: a tanh RNN with H = {hidden_size}, "
                                    f"{steps} steps, the loss on the last state")
        self._build()
        self.update()

    # -- computation, cached per slider value ---------------------------------------------------

    def linear_norms(self, radius: float) -> np.ndarray:
        """||(Wh^T)^k g|| / ||g|| for k = 0..steps-1 (the lecture's linear recurrence)."""
        norms = power_norms(radius * self.W1, self.dout, self.steps - 1)
        return norms / norms[0]

    def rnn_norms(self, radius: float, input_scale: float) -> np.ndarray:
        """||dL/dx_{T-k}|| for k = 0..steps-1, relative to k = 0, by BPTT through the tanh RNN."""
        key = (round(radius, 6), round(input_scale, 6))
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                norms = self._bptt(input_scale * self.z, self.h0, self.Wx, radius * self.W1, self.b, self.dout,
                                   shape=(self.steps,), finite=True)
                self._cache[key] = norms / norms[0] if norms[0] > 0 else norms
        return self._cache[key]

    # -- drawing ------------------------------------------------------------------------------

    def _build(self) -> None:
        ax_e, ax_g = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": (1, 2.2)})
        theta = np.linspace(0, 2 * np.pi, 200)
        ax_e.plot(np.cos(theta), np.sin(theta), color="k", lw=0.8)
        self._eig = ax_e.scatter(self.eig1.real, self.eig1.imag, s=12, color="tab:blue")
        ax_e.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal", xlabel="real", ylabel="imaginary",
                 title="eigenvalues of Wh (circle: |λ| = 1)")
        k = np.arange(self.steps)
        ax_g.axhline(1.0, color="k", lw=0.6)
        (self._linear,) = ax_g.plot(k, np.ones(self.steps), "--", color="tab:blue",
                                    label="linear recurrence: $\\|(W_h^T)^k g\\|$")
        (self._rho,) = ax_g.plot(k, np.ones(self.steps), ":", color="0.4", label="$\\rho^k$")
        (self._rnn,) = ax_g.plot(k, np.ones(self.steps), "-", color="tab:red", lw=2,
                                 label="tanh RNN, BPTT: $\\|\\partial L/\\partial x_{T-k}\\|$")
        ax_g.set(yscale="log", ylim=self.LIMITS, xlim=(0, self.steps - 1), xlabel="steps back in time k",
                 ylabel="gradient norm (k = 0 is 1)", title="how much gradient reaches k steps back")
        ax_g.minorticks_off()
        ax_g.legend(loc="lower left", fontsize=8, frameon=False)
        self._text = ax_g.text(0.98, 0.97, "", transform=ax_g.transAxes, ha="right", va="top", fontsize=9)
        self.axes = (ax_e, ax_g)
        self.animate(self._eig, self._linear, self._rho, self._rnn, self._text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        radius, scale = float(p["radius"]), float(p["input_scale"])
        eig = radius * self.eig1
        self._eig.set_offsets(np.column_stack([eig.real, eig.imag]))
        k = np.arange(self.steps)
        self._linear.set_ydata(display_clip(self.linear_norms(radius), *self.LIMITS))
        self._rho.set_ydata(display_clip(radius ** k.astype(np.float64), *self.LIMITS))
        text = f"ρ = {radius:.2f}: ρ^{self.steps - 1} = {radius ** (self.steps - 1):.2g}"
        with self.part(self._rnn):
            norms = self.rnn_norms(radius, scale)
            self._rnn.set_ydata(display_clip(norms, *self.LIMITS))
            text += f"\ntanh RNN, {self.steps - 1} steps back: {norms[-1]:.2g}"
        self._text.set_text(text)
        self.show_fallbacks(self._bptt)


class DelayView(View):
    """Accuracy on the delayed-recall task against the delay, and the training curves at one delay.

    ``sweep`` holds every model trained at every delay (equally spaced delays, so that one slider
    steps through them); nothing is trained here.
    """

    COLORS = ("tab:red", "tab:gray", "tab:blue")
    WINDOW = 25  # steps per point of the smoothed loss curves

    def __init__(self, sweep: RecallSweep) -> None:
        delays = np.asarray(sweep.delays)
        if len(delays) < 2 or len(set(np.diff(delays))) != 1 or delays[1] <= delays[0]:
            raise ValueError(f"the sweep's delays must be at least two, increasing and equally spaced, got {delays}")
        if sweep.accuracy.shape != (len(sweep.names), len(delays)) or sweep.losses.ndim != 3:
            raise ValueError("sweep.accuracy must be (models, delays) and sweep.losses (models, delays, steps)")
        self.sweep = sweep
        self.delays = [int(d) for d in delays]
        self.curves = moving_average(sweep.losses, min(self.WINDOW, sweep.losses.shape[-1]))
        self.chance_loss = math.log(1.0 / sweep.chance)
        step = self.delays[1] - self.delays[0]
        super().__init__({"delay": Slider("int", self.delays[0], self.delays[-1], step, self.delays[-1], "delay")},
                         figsize=(11, 3.6), title="Remember a symbol through a delay of noise: "
                                                  f"{len(sweep.names)} models, each trained at every delay")
        self._build()
        self.update()

    def _build(self) -> None:
        ax_a, ax_l = self.fig.subplots(1, 2)
        for name, acc, color in zip(self.sweep.names, self.sweep.accuracy, self.COLORS, strict=False):
            ax_a.plot(self.delays, acc, "o-", color=color, label=name)
        ax_a.axhline(self.sweep.chance, color="k", ls="--", lw=0.8)
        ax_a.text(self.delays[0], self.sweep.chance + 0.02, f"chance {self.sweep.chance:.0%}", fontsize=8)
        self._vline = ax_a.axvline(self.delays[-1], color="0.3", lw=6, alpha=0.25)
        ax_a.set(ylim=(0, 1.05), xticks=self.delays, xlabel="delay (steps of noise)", ylabel="test accuracy",
                 title="accuracy after training")
        ax_a.legend(loc="lower left", fontsize=8, frameon=False)
        steps = np.arange(self.curves.shape[-1]) + self.WINDOW
        self._lines = [ax_l.plot(steps, self.curves[m, -1], color=color, label=name)[0]
                       for m, (name, color) in enumerate(zip(self.sweep.names, self.COLORS, strict=False))]
        ax_l.axhline(self.chance_loss, color="k", ls="--", lw=0.8)
        ax_l.text(steps[-1], self.chance_loss + 0.03, "guessing: log 4" if self.sweep.chance == 0.25
                  else "guessing", ha="right", fontsize=8)
        ax_l.set(ylim=(0, 1.6), xlim=(0, steps[-1] + 1), xlabel="training step",
                 ylabel=f"cross entropy (mean of {self.WINDOW} steps)", title="training loss")
        self._text = ax_l.text(0.98, 0.80, "", transform=ax_l.transAxes, ha="right", va="top", fontsize=8)
        self.axes = (ax_a, ax_l)
        self.animate(self._vline, *self._lines, self._text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        delay = min(self.delays, key=lambda d: abs(d - int(p["delay"])))
        j = self.delays.index(delay)
        self._vline.set_xdata([delay, delay])
        for m, line in enumerate(self._lines):
            line.set_ydata(np.clip(self.curves[m, j], 0.0, 1.6))
        self._text.set_text(f"delay {delay}\n" + "\n".join(
            f"{name}: {acc:.0%}" for name, acc in zip(self.sweep.names, self.sweep.accuracy[:, j], strict=True)))
