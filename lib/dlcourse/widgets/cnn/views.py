"""The slider views of notebook 06_cnn (I2DL lectures 9 and 10, Tokyo DL2): drawing only.

* :class:`ConvExplorerView`: a hand-made kernel slid over a photograph, with a stride and zero padding; the
  output is drawn where its windows sit on the input, with its size and the lecture's formula, and an illegal
  stride is named (the rows PyTorch would silently drop are shaded).
* :class:`FeatureMapView`: a trained CNN's activations for one digit, stage by stage: every channel of the
  chosen stage as a mosaic, the chosen channel enlarged, and how much of the input one of its pixels sees
  (the receptive field).

The convolution is the student's ``conv_forward`` and the receptive field the student's ``receptive_field``,
with the reference standing in while they are stubs (:class:`~dlcourse.widgets.fallback.WithFallback`). The
computations are in :mod:`dlcourse.widgets.cnn.compute`; results are cached per slider value, and every
update only changes the data of artists drawn once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from dlcourse.lazy_reference import reference
from dlcourse.widgets.cnn.compute import (
    KERNELS,
    feature_maps,
    kernel_label,
    legal_crop,
    mosaic,
    notebook_cnn,
    output_extent,
    stage_layers,
)
from dlcourse.widgets.core import Slider, View, WithFallback

__all__ = ["NOTEBOOK_STAGES", "NOTEBOOK_STAGE_NAMES", "ConvExplorerView", "FeatureMapView"]


_conv_forward = reference("conv.conv_forward")  # imported on the first call, where the reference exists


def _reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    return _conv_forward(x, w, b, stride, pad)[0]  # the output without the cache


class ConvExplorerView(View):
    """A kernel of :data:`~dlcourse.widgets.cnn.compute.KERNELS` slid over ``image`` (H, W), stride and padding
    on sliders.

    ``conv_forward(x, w, b, stride, pad) -> (out, cache)`` is the student's (x (N, C, H, W), w (F, C, HH, WW)),
    if given. Where the stride is illegal for the image's size, the view keeps the rows and columns that the
    windows tile (as PyTorch does without saying so) and shades the rest.
    """

    def __init__(self, image: np.ndarray, conv_forward: Callable[..., Any] | None = None, *, max_stride: int = 4,
                 max_pad: int = 3, kernels: Sequence[tuple[str, np.ndarray]] = KERNELS) -> None:
        self.image = np.asarray(image, dtype=np.float64)
        if self.image.ndim != 2 or min(self.image.shape) < 10:
            raise ValueError(f"image must be a gray (H, W) array of at least 10x10, got shape {self.image.shape}")
        self.kernels = [(name, np.asarray(k, dtype=np.float64)) for name, k in kernels]
        self.max_pad = max_pad
        student = None if conv_forward is None else (lambda x, w, b, s, p: conv_forward(x, w, b, s, p)[0])
        self._conv = WithFallback("conv_forward", student, _reference_conv)
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, str]] = {}
        super().__init__({
            "kernel": Slider("int", 0, len(self.kernels) - 1, 1, 5, "kernel"),
            "stride": Slider("int", 1, max_stride, 1, 1, "stride S"),
            "pad": Slider("int", 0, max_pad, 1, 1, "zero padding P"),
        }, figsize=(11, 3.9), title="A hand-made kernel slid over a photograph")
        self._build()
        self.update()

    def output(self, kernel: int, stride: int, pad: int) -> tuple[np.ndarray, str]:
        """(the output (H', W') on the tiled part of the image, the note of the fallback), cached."""
        key = (kernel, stride, pad)
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            w = self.kernels[kernel][1]
            (H, W), (HH, WW) = self.image.shape, w.shape
            rows, cols = legal_crop(H, HH, pad, stride), legal_crop(W, WW, pad, stride)
            x = self.image[None, None, :rows.used, :cols.used]
            out = self._conv(x, w[None, None], np.zeros(1), stride, pad, shape=(1, 1, rows.out, cols.out),
                             finite=True)
            self._cache[key] = (out[0, 0], self._conv.note)
        return self._cache[key]

    def _build(self) -> None:
        grid = self.fig.add_gridspec(1, 3, width_ratios=(1.0, 0.42, 1.0))
        ax_in, ax_k, ax_out = (self.fig.add_subplot(g) for g in grid)
        H, W = self.image.shape
        limits = dict(xlim=(-self.max_pad - 0.5, W + self.max_pad - 0.5), ylim=(H + self.max_pad - 0.5,
                                                                              -self.max_pad - 0.5))
        ax_in.imshow(self.image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax_in.set(title=f"input {H} × {W}", **limits)
        # The padded frame, the first window, and what an illegal stride leaves out (shaded).
        self._frame = Rectangle((-0.5, -0.5), W, H, fill=False, ls="--", lw=1, ec="tab:orange")
        self._window = Rectangle((-0.5, -0.5), 3, 3, fill=False, lw=1.5, ec="tab:red")
        self._drop_rows = Rectangle((-0.5, H - 0.5), W, 0, fc="tab:red", alpha=0.35, lw=0)
        self._drop_cols = Rectangle((W - 0.5, -0.5), 0, H, fc="tab:red", alpha=0.35, lw=0)
        for patch in (self._frame, self._window, self._drop_rows, self._drop_cols):
            ax_in.add_patch(patch)
        # The kernel fills a unit square, its cells as large as the longest side allows, centred.
        self._kernel_image = ax_k.imshow(np.zeros((3, 3)), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax_k.set(xlim=(0, 1), ylim=(1, 0), xticks=[], yticks=[], title="kernel")
        # The kernel's name and its weights in one text: each animated text is drawn again at every update.
        self._kernel_name = ax_k.text(0.5, -0.08, "", transform=ax_k.transAxes, ha="center", va="top", fontsize=8)
        self._out_image = ax_out.imshow(np.zeros((2, 2)), cmap="gray", interpolation="nearest")
        ax_out.set(**limits)
        ax_out.set_title("output, drawn where its windows sit", fontsize=10)
        self._out_text = ax_out.text(0.0, -0.1, "", transform=ax_out.transAxes, va="top", fontsize=8)
        self.axes = (ax_in, ax_k, ax_out)
        self.animate(self._frame, self._window, self._drop_rows, self._drop_cols, self._kernel_image,
                     self._kernel_name, self._out_image, self._out_text)
        self.layout()
        self.fig.subplots_adjust(bottom=0.2)  # room for the size formula under the output

    def update(self, **params: float) -> None:
        p = self.merge(params)
        kernel, stride, pad = int(p["kernel"]), int(p["stride"]), int(p["pad"])
        name, w = self.kernels[kernel]
        (H, W), (HH, WW) = self.image.shape, w.shape
        rows, cols = legal_crop(H, HH, pad, stride), legal_crop(W, WW, pad, stride)
        self._frame.set_bounds(-pad - 0.5, -pad - 0.5, W + 2 * pad, H + 2 * pad)
        self._window.set_bounds(-pad - 0.5, -pad - 0.5, WW, HH)
        self._drop_rows.set_bounds(-0.5, rows.used - 0.5, cols.used, rows.dropped)
        self._drop_cols.set_bounds(cols.used - 0.5, -0.5, cols.dropped, H)
        scale = float(np.abs(w).max()) or 1.0
        cell = 1.0 / max(HH, WW)
        left, top = (1 - WW * cell) / 2, (1 - HH * cell) / 2
        self._kernel_image.set_data(w / scale)
        self._kernel_image.set_extent((left, left + WW * cell, top + HH * cell, top))
        self._kernel_name.set_text(f"{name}\n{kernel_label(w)}")
        with self.part(self._out_image):
            out, self._conv.note = self.output(kernel, stride, pad)  # a cached result keeps its own note
            self._out_image.set_data(out)
            self._out_image.set_extent(output_extent(out.shape, (HH, WW), pad, stride))
            lo, hi = np.percentile(out, [1, 99])
            self._out_image.set_clim(lo, hi if hi > lo else lo + 1e-9)
        self._out_text.set_text(self._size_text(rows, cols, HH, WW, pad, stride))
        self._out_text.set_color("tab:red" if not (rows.legal and cols.legal) else "black")
        self.show_fallbacks(self._conv)

    @staticmethod
    def _size_text(rows: Any, cols: Any, HH: int, WW: int, pad: int, stride: int) -> str:
        lines = []
        for axis, crop, k, what in (("H'", rows, HH, "row"), ("W'", cols, WW, "column")):
            exact = (crop.n + 2 * pad - k) / stride + 1
            line = f"{axis} = ({crop.n}+2·{pad}−{k})/{stride}+1 = {exact:g}"  # short: every glyph is drawn per update
            if not crop.legal:
                line += f": illegal, {crop.dropped} {what}{'s' * (crop.dropped > 1)} dropped"  # shaded on the input
            lines.append(line)
        return "\n".join(lines)


# The stages of the notebook's CNN (compute.notebook_cnn) that the feature-map view shows by default.
NOTEBOOK_STAGES = (1, 2, 4, 5)
NOTEBOOK_STAGE_NAMES = ("conv 1 + ReLU", "max pool 1", "conv 2 + ReLU", "max pool 2")


class FeatureMapView(View):
    """The activations of a trained CNN for one image, stage by stage and channel by channel.

    ``images`` (N, 1, H, W) and ``labels`` (N,) are shown with ``model``'s prediction; ``model`` is an
    ``nn.Sequential`` whose modules at the indices ``stages`` (named ``stage_names``) output (N, C, h, w) maps.
    Without a model, the view uses the notebook's CNN (:func:`~dlcourse.widgets.cnn.compute.notebook_cnn`, trained
    as the notebook trains it), so that the views catalogue can build it on the notebook's data alone. All maps
    are computed once when the view is built. ``receptive_field(layers) -> int`` is the student's, if given.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, model: Any = None, *,
                 stages: Sequence[int] = NOTEBOOK_STAGES, stage_names: Sequence[str] = NOTEBOOK_STAGE_NAMES,
                 receptive_field: Callable[..., Any] | None = None, cols: int = 8, tile: int = 8) -> None:
        import torch

        if model is None:
            model = notebook_cnn()[0]
        self.images = np.asarray(images, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=np.int64)
        if self.images.ndim != 4 or len(self.images) != len(self.labels) or len(stages) != len(stage_names):
            raise ValueError("need images (N, C, H, W), labels (N,), and one name per stage")
        self.stages, self.stage_names = list(stages), list(stage_names)
        self.maps = feature_maps(model, self.images, self.stages)  # per stage (N, C_k, h_k, w_k)
        first = next(model.parameters())
        was_training = model.training
        try:
            with torch.no_grad():
                scores = model.eval()(torch.as_tensor(self.images, dtype=first.dtype, device=first.device))
        finally:
            model.train(was_training)
        self.predictions = scores.argmax(dim=1).cpu().numpy()
        self.cols, self.tile = cols, tile
        self.rows = max(-(-m.shape[1] // cols) for m in self.maps)
        self.max_channels = max(m.shape[1] for m in self.maps)
        # The colour scale of each stage: its largest activation over all images, so maps compare across images.
        self.scale = [float(np.abs(m).max()) or 1.0 for m in self.maps]
        # The (kernel, stride) of the layers up to each stage, for its receptive field.
        self.layers = [stage_layers(model, stage) for stage in self.stages]
        self._rf = WithFallback("receptive_field", receptive_field, "conv.receptive_field")
        self._fields: dict[int, int] = {}
        super().__init__({
            "image": Slider("int", 0, len(self.images) - 1, 1, 0, "test image"),
            "stage": Slider("int", 0, len(self.stages) - 1, 1, 0, "stage"),
            "channel": Slider("int", 0, self.max_channels - 1, 1, 0, "channel"),
        }, figsize=(11, 3.3), title="What the trained CNN computes for one digit, stage by stage")
        self._build()
        self.update()

    def field(self, stage: int) -> int:
        """The receptive field of one pixel of stage ``stage`` (an index into ``stages``), by the student's
        ``receptive_field`` (or the reference); cached once computed. Raises FunctionMissing where neither runs."""
        if stage not in self._fields:
            self._fields[stage] = int(self._rf(self.layers[stage]))
        return self._fields[stage]

    def _build(self) -> None:
        grid = self.fig.add_gridspec(1, 3, width_ratios=(0.55, 2.0, 0.7))
        ax_in, ax_grid, ax_one = (self.fig.add_subplot(g) for g in grid)
        self._input = ax_in.imshow(self.images[0, 0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax_in.set(xticks=[], yticks=[])
        self._input_title = ax_in.set_title("", fontsize=9)
        height, width = self.rows * (self.tile + 1) - 1, self.cols * (self.tile + 1) - 1
        self._mosaic = ax_grid.imshow(np.full((height, width), np.nan), cmap="viridis", vmin=0, vmax=1,
                                      interpolation="nearest")
        ax_grid.set(xticks=[], yticks=[], xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5))
        self._grid_title = ax_grid.set_title("", fontsize=9)
        self._box = Rectangle((-1, -1), self.tile + 1, self.tile + 1, fill=False, ec="tab:red", lw=2)
        ax_grid.add_patch(self._box)
        self._one = ax_one.imshow(np.zeros((self.tile, self.tile)), cmap="viridis", vmin=0, vmax=1,
                                  interpolation="nearest")
        ax_one.set(xticks=[], yticks=[])
        # Few and short texts: every animated text is drawn again at each update, and glyphs are what costs.
        self._one_title = ax_one.set_title("", fontsize=9)
        self._field_text = ax_one.text(0.0, -0.06, "", transform=ax_one.transAxes, va="top", fontsize=8)
        self.axes = (ax_in, ax_grid, ax_one)
        self.animate(self._input, self._input_title, self._mosaic, self._grid_title, self._box, self._one,
                     self._one_title, self._field_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        n, stage = int(p["image"]), int(p["stage"])
        maps = self.maps[stage][n]  # (C, h, w)
        C, h, w = maps.shape
        channel = int(p["channel"]) % C  # a stage with fewer channels wraps around
        self._input.set_data(self.images[n, 0])
        self._input_title.set_text(f"digit {self.labels[n]}, predicted {self.predictions[n]}")
        scale = self.scale[stage]
        self._mosaic.set_data(mosaic(maps / scale, self.cols, self.tile, rows=self.rows))
        self._grid_title.set_text(f"{self.stage_names[stage]}: {C} channels")
        r, q = divmod(channel, self.cols)
        self._box.set_xy((q * (self.tile + 1) - 1, r * (self.tile + 1) - 1))
        self._one.set_data(mosaic(maps[channel:channel + 1] / scale, 1, self.tile))
        wrapped = f" (from {int(p['channel'])})" if int(p["channel"]) >= C else ""  # a stage with fewer channels
        self._one_title.set_text(f"channel {channel}{wrapped}, {h} × {w}")
        with self.part(self._field_text):
            field = self.field(stage)
            self._field_text.set_text(f"a pixel sees {field} × {field} inputs")
        self.show_fallbacks(self._rf)
