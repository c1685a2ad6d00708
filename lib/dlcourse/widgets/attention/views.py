"""The slider views of notebook 08_attention (I2DL "Attention", "Attention is all you need"): drawing only.

* :class:`SoftmaxSharpnessView`: random queries and keys with unit-variance
  entries; as the key width d_k grows, the unscaled scores q . k spread like
  sqrt(d_k), the softmax turns one-hot and its gradient vanishes, while the
  scores divided by sqrt(d_k) keep the same spread at every width. Runs the
  student's ``softmax`` (the reference stands in while it is a stub).
* :class:`AttentionMapView`: the attention maps of the notebook's trained
  tiny transformer, one layer, head and input sequence at a time, beside that
  head's average map over all the sequences shown.

Everything a slider can reach is computed when the view is built
(:mod:`dlcourse.widgets.attention.compute`): a slider only picks arrays and
changes the artists' data. The trained model is passed in and never trained here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.widgets.attention.compute import SharpnessTable, attention_maps, mirror_mass, softmax_sharpness
from dlcourse.widgets.core import Slider, View, WithFallback

__all__ = ["AttentionMapView", "SoftmaxSharpnessView"]

_UNSCALED, _SCALED = "0.55", "tab:blue"


class SoftmaxSharpnessView(View):
    """softmax(q k^T) against softmax(q k^T / sqrt(d_k)) as the key width d_k grows (powers of two).

    ``softmax(x, axis=-1)`` is the student's, if given. Left: one query's
    weights over ``n_keys`` keys, unscaled (grey) and scaled (blue). Middle: the
    largest weight, averaged over 256 queries (1 = one-hot, 1/n_keys = uniform).
    Right: the size of the softmax's gradient (the norm of its Jacobian, median
    over the queries), which a saturated softmax drives to 0.
    """

    GRAD_FLOOR = 1e-8  # smaller gradients are drawn on the axis's floor

    def __init__(self, softmax: Callable[..., Any] | None = None, *, n_keys: int = 16, max_log2_dk: int = 10,
                 seed: int = 0) -> None:
        if n_keys < 2 or not 1 <= max_log2_dk <= 14:
            raise ValueError(f"need n_keys >= 2 and 1 <= max_log2_dk <= 14, got {n_keys} and {max_log2_dk}")
        self.n_keys = n_keys
        self._softmax = WithFallback("softmax", softmax, "attention.softmax")
        self.table: SharpnessTable | None = None
        self._note_of_table = ""
        n_examples = 8
        super().__init__({
            "log2_dk": Slider("int", 0, max_log2_dk, 1, min(6, max_log2_dk), "log₂ d_k (key width 1 ... 1024)"),
            "query": Slider("int", 0, n_examples - 1, 1, 0, "query (one of 8 random ones)"),
        }, figsize=(11, 3.6), title=f"softmax of q·k over {n_keys} keys, q and k with unit-variance entries")
        self._d_ks = [2**e for e in range(max_log2_dk + 1)]
        self._n_examples, self._seed = n_examples, seed
        self._build(max_log2_dk)
        self.update()

    def _build(self, max_log2_dk: int) -> None:
        ax_bar, ax_max, ax_grad = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": (1.3, 1, 1)})
        keys = np.arange(self.n_keys)
        self._bars = [ax_bar.bar(keys + dx, np.zeros(self.n_keys), width=0.42, color=color, label=label)
                      for dx, color, label in ((-0.21, _UNSCALED, "q·k"), (0.21, _SCALED, "q·k / √d_k"))]
        ax_bar.set(xlim=(-0.7, self.n_keys - 0.3), ylim=(0, 1.02), xticks=range(0, self.n_keys, 2), xlabel="key",
                   ylabel="attention weight", title="one query's weights")
        ax_bar.legend(loc="upper left", fontsize=8, frameon=False)
        e = np.arange(max_log2_dk + 1)
        self._curves, self._markers = [], []
        for ax in (ax_max, ax_grad):
            for color, label in ((_UNSCALED, "unscaled"), (_SCALED, "divided by √d_k")):
                (line,) = ax.plot(e, np.full(len(e), np.nan), "o-", color=color, ms=3, lw=1.5, label=label)
                (marker,) = ax.plot([], [], "o", color=color, ms=9, mec="k")
                self._curves.append(line)
                self._markers.append(marker)
            ax.set(xlim=(-0.3, max_log2_dk + 0.3), xlabel="log₂ d_k")
        ax_max.axhline(1 / self.n_keys, color="k", lw=0.8, ls=":")
        ax_max.text(0.1, 1 / self.n_keys + 0.02, "uniform", fontsize=8)
        ax_max.set(ylim=(0, 1.02), title="largest weight (mean)")
        ax_max.legend(loc="center right", fontsize=8, frameon=False)
        ax_grad.set(yscale="log", ylim=(self.GRAD_FLOOR, 1.0), title="gradient size (median)")
        ax_grad.minorticks_off()
        self._note = ax_bar.text(0.98, 0.97, "", transform=ax_bar.transAxes, ha="right", va="top", fontsize=8.5)
        self.axes = (ax_bar, ax_max, ax_grad)
        self.animate(*self._bars[0].patches, *self._bars[1].patches, *self._markers, self._note)
        self.layout()

    def sharpness(self) -> SharpnessTable:
        """Every width's table (computed on first use with the softmax given, then kept).

        Raises ``FunctionMissing`` where neither the student's softmax nor the reference can run.
        """
        if self.table is None:
            self.table = softmax_sharpness(lambda s: self._softmax(s, shape=s.shape, finite=True), self._d_ks,
                                           n_keys=self.n_keys, n_examples=self._n_examples, seed=self._seed)
            self._note_of_table = self._softmax.note  # which softmax made the table, for the title
            for i, line in enumerate(self._curves):
                values = self.table.max_weight[:, i % 2] if i < 2 else self.table.grad_norm[:, i % 2]
                line.set_ydata(np.clip(values, self.GRAD_FLOOR, None) if i >= 2 else values)
            self.invalidate()  # the curves are static content
        self._softmax.note = self._note_of_table
        return self.table

    def update(self, **params: float) -> None:
        p = self.merge(params)
        e, query = int(p["log2_dk"]), int(p["query"])
        shown = (*self._bars[0].patches, *self._bars[1].patches, *self._markers, *self._curves, self._note)
        with self.part(*shown):
            t = self.sharpness()
            for bars, weights in zip(self._bars, t.examples[e, query], strict=True):
                for bar, w in zip(bars.patches, weights, strict=True):
                    bar.set_height(w)
            for i, marker in enumerate(self._markers):
                value = t.max_weight[e, i % 2] if i < 2 else max(t.grad_norm[e, i % 2], self.GRAD_FLOOR)
                marker.set_data([e], [value])
            ratio = t.grad_norm[e, 1] / max(t.grad_norm[e, 0], 1e-300)
            self._note.set_text(f"d_k = {2**e}: q·k has std {t.score_std[e]:.1f}\n"
                                f"gradient {ratio:.3g}× larger when scaled")
        self.show_fallbacks(self._softmax)


class AttentionMapView(View):
    """Attention maps of a trained model, by layer, head and input sequence.

    ``model(tokens, return_attention=True)`` must return (logits (N, T, V),
    maps (L, N, h, T, T)); it runs once, here. ``tokens`` (N, T) are the input
    sequences to show, ``targets`` (N, T) what the model should output. Left:
    one map, rows the queries (output positions), columns the keys (input positions), with
    the input tokens as a strip of colors above and the predicted ones beside it, and as
    digits below; right: the same head's map averaged over all N sequences.
    """

    def __init__(self, model: Any, tokens: np.ndarray, targets: np.ndarray | None = None) -> None:
        tokens = np.asarray(tokens)
        self.maps, self.predictions = attention_maps(model, tokens)  # (L, N, h, T, T), (N, T)
        self.tokens = tokens
        self.targets = None if targets is None else np.asarray(targets)
        if self.targets is not None and self.targets.shape != tokens.shape:
            raise ValueError(f"targets {self.targets.shape} must have the shape of tokens {tokens.shape}")
        L, N, h, T, _ = self.maps.shape
        self.mean_maps = self.maps.mean(axis=1)  # (L, h, T, T)
        self.mirror = mirror_mass(self.maps)  # (L, h)
        super().__init__({
            "layer": Slider("int", 0, L - 1, 1, L - 1, "layer"),
            "head": Slider("int", 0, h - 1, 1, 0, "head"),
            "example": Slider("int", 0, N - 1, 1, 0, "input sequence"),
        }, figsize=(10, 4.6), title="attention maps of the trained transformer")
        self._build(T)
        self.update()

    def _build(self, T: int) -> None:
        from matplotlib import colormaps

        grid = self.fig.add_gridspec(1, 4, width_ratios=(1.15, 1, 0.045, 0.045), left=0.06, right=0.93, top=0.84,
                                     bottom=0.2, wspace=0.3)  # the bottom line holds the tokens as digits
        ax_map, ax_mean, cax_weight, cax_token = (self.fig.add_subplot(grid[i]) for i in range(4))
        self._image = ax_map.imshow(np.zeros((T, T)), vmin=0, vmax=1, cmap="viridis")
        self._mean_image = ax_mean.imshow(np.zeros((T, T)), vmin=0, vmax=1, cmap="viridis")
        # The tokens as two strips of colored cells (input above the keys, output beside the queries): an image is
        # one artist, where a text per token would cost about a millisecond each on every slider move.
        V = int(max(self.tokens.max(), self.predictions.max())) + 1
        token_cmap = colormaps["tab10" if V <= 10 else "tab20" if V <= 20 else "viridis"].resampled(V)
        self._input_strip = ax_map.imshow(np.zeros((1, T)), cmap=token_cmap, vmin=-0.5, vmax=V - 0.5,
                                          extent=(-0.5, T - 0.5, -0.7, -1.7))
        self._output_strip = ax_map.imshow(np.zeros((T, 1)), cmap=token_cmap, vmin=-0.5, vmax=V - 0.5,
                                           extent=(T - 0.3, T + 0.7, T - 0.5, -0.5))
        ax_map.set(xlim=(-0.5, T + 0.7), ylim=(T - 0.5, -1.7), xticks=range(T), yticks=range(T),
                   xlabel="key position j (input tokens above)", ylabel="query position i (output tokens right)")
        ax_map.set_title("this sequence", pad=6)
        ax_map.text(-0.6, -1.2, "in", ha="right", va="center", fontsize=8)
        ax_map.text(T + 0.2, -0.6, "out", ha="center", va="bottom", fontsize=8)
        ax_mean.set(xticks=range(T), yticks=range(T), xlabel="key position j", ylabel="query position i")
        ax_mean.set_title("average over the sequences", pad=16)
        for ax in (ax_map, ax_mean):
            ax.tick_params(labelsize=7)
            ax.spines[:].set_visible(False)
        self._info = self.fig.text(0.06, 0.015, "", ha="left", va="bottom", fontsize=9)
        self._mirror_text = ax_mean.text(0.5, 1.01, "", transform=ax_mean.transAxes, ha="center", va="bottom",
                                         fontsize=8.5)
        self.fig.colorbar(self._mean_image, cax=cax_weight, label="attention weight")
        token_bar = self.fig.colorbar(self._input_strip, cax=cax_token, label="token")
        token_bar.set_ticks(range(V))
        cax_token.tick_params(labelsize=7)
        self.axes = (ax_map, ax_mean)
        self.animate(self._image, self._mean_image, self._input_strip, self._output_strip, self._info,
                     self._mirror_text)

    def update(self, **params: float) -> None:
        p = self.merge(params)
        layer, head, n = int(p["layer"]), int(p["head"]), int(p["example"])
        self._image.set_data(self.maps[layer, n, head])
        self._mean_image.set_data(self.mean_maps[layer, head])
        predicted = self.predictions[n]
        self._input_strip.set_data(self.tokens[n][None, :])
        self._output_strip.set_data(predicted[:, None])
        line = f"input {' '.join(map(str, self.tokens[n]))}  →  output {' '.join(map(str, predicted))}"
        if self.targets is not None:
            right = bool(np.array_equal(predicted, self.targets[n]))
            line += "  (right)" if right else f"\n(wrong: the target is {' '.join(map(str, self.targets[n]))})"
        self._info.set_text(line)
        self._mirror_text.set_text(f"layer {layer}, head {head}: {self.mirror[layer, head]:.0%} of the weight on "
                                   "key T-1-i")
        self.show_fallbacks()  # no student function here: this only clears the title's notes
