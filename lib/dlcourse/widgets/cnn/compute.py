"""The computations of notebook 06's views (I2DL lectures 9 and 10, Tokyo DL2, TUM ML "Deep Learning II"):
plain NumPy and torch, no drawing.

* The filter explorer: the lectures' hand-made kernels (:data:`KERNELS`), where the output of a convolution
  lands on the input (:func:`output_extent`), and what to do with an illegal stride (:func:`legal_crop`: keep
  the rows and columns the windows tile, and say how many PyTorch would drop).
* The feature maps of a trained CNN: every stage's activations for a batch of images (:func:`feature_maps`),
  laid out as one mosaic of channels (:func:`mosaic`), and the (kernel, stride) of each stage
  (:func:`stage_layers`), from which the receptive field follows.
* :func:`notebook_cnn`: the network of the notebook's "train it for real" section, trained as the notebook
  trains it, for the views catalogue and the slider benchmark.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "KERNELS", "Crop", "feature_maps", "kernel_label", "legal_crop", "mosaic", "notebook_cnn", "output_extent",
    "stage_layers",
]

# The lectures' hand-made filters (I2DL lecture 9 "Image Filters"; TUM ML DL2's vertical edge), written for
# cross-correlation: a Sobel kernel with -1 on the left and +1 on the right responds where the image gets
# brighter from left to right.
KERNELS: tuple[tuple[str, np.ndarray], ...] = (
    ("identity", np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])),
    ("box blur 3x3", np.full((3, 3), 1 / 9)),
    ("Gaussian blur 3x3", np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16),
    ("sharpen", np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])),
    ("edges (8 - neighbours)", np.array([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]])),
    ("vertical edges (Sobel)", np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])),
    ("horizontal edges (Sobel)", np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])),
    ("box blur 7x7", np.full((7, 7), 1 / 49)),
    ("motion blur 1x9", np.full((1, 9), 1 / 9)),
)


# -- the filter explorer -------------------------------------------------------------------------------------


def kernel_label(w: np.ndarray) -> str:
    """A kernel's weights in one short line: rows separated by "|", a common fraction taken out.

    ``[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16`` reads "1 2 1 | 2 4 2 | 1 2 1  (/16)"; a kernel of equal weights
    "7 × 7, each 1/49"; weights that are no small fraction are written with two digits.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"w must be a non-empty (HH, WW) kernel, got shape {w.shape}")
    if np.all(w == w.flat[0]) and w.size > 1 and w.flat[0] != 0:
        inverse = 1 / w.flat[0]
        each = f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-9 else f"{w.flat[0]:.2g}"
        return f"{w.shape[0]} × {w.shape[1]}, each {each}"
    for scale in range(1, 65):  # the smallest whole scale that makes every weight an integer
        scaled = w * scale
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-9):
            rows = " | ".join(" ".join(str(int(v)) for v in row) for row in np.round(scaled))
            return rows if scale == 1 else f"{rows}  (/{scale})"
    return " | ".join(" ".join(f"{v:.2g}" for v in row) for row in w)



@dataclass(frozen=True)
class Crop:
    """How much of an input axis of length ``n`` a convolution can tile: ``used`` rows, ``dropped`` left over.

    ``dropped > 0`` means the stride is illegal for this size (I2DL lecture 9: "fractions are illegal"); a
    library that floors the output size, as PyTorch does, silently ignores those last rows.
    """

    n: int
    used: int
    dropped: int
    out: int

    @property
    def legal(self) -> bool:
        return self.dropped == 0


def legal_crop(n: int, kernel: int, pad: int, stride: int) -> Crop:
    """The rows of an axis of length n that windows of size ``kernel`` at steps of ``stride`` cover, with
    ``pad`` zeros on both sides: the window travels n + 2 pad - kernel, and whatever a whole number of strides
    does not reach is dropped from the end. Raises a ValueError when the kernel is longer than the padded input.
    """
    if min(n, kernel, stride) < 1 or pad < 0:
        raise ValueError(f"need n, kernel, stride >= 1 and pad >= 0, got n={n}, kernel={kernel}, pad={pad}, "
                         f"stride={stride}")
    span = n + 2 * pad - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} is larger than the padded input {n} + 2*{pad}")
    dropped = span % stride
    return Crop(n=n, used=n - dropped, dropped=dropped, out=span // stride + 1)


def output_extent(out_shape: tuple[int, int], kernel: tuple[int, int], pad: int, stride: int
                  ) -> tuple[float, float, float, float]:
    """Where an output of shape (H', W') lies on the input's pixel grid, as imshow's (left, right, bottom, top).

    Output pixel (i, j) is drawn centred on its window's centre, i * stride - pad + (HH - 1) / 2 (rows) and
    likewise for columns, ``stride`` input pixels wide: stride 2 shows blocks twice as large, and padding lets the
    output reach beyond the image's border.
    """
    (Ho, Wo), (HH, WW) = out_shape, kernel
    top = -pad + (HH - 1) / 2 - stride / 2
    left = -pad + (WW - 1) / 2 - stride / 2
    return left, left + Wo * stride, top + Ho * stride, top


# -- the feature maps of a trained CNN -----------------------------------------------------------------------


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def feature_maps(model, images: np.ndarray, stages: Sequence[int]) -> list[np.ndarray]:
    """The activations of ``model`` (an ``nn.Sequential``) on ``images`` (N, C, H, W) after each stage.

    ``stages`` are indices into the model: the output after module ``stages[k]`` is element k of the result,
    an array (N, C_k, H_k, W_k) in float64. Runs on the model's device without gradients, one forward pass.
    """
    import torch

    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    stages = [int(s) for s in stages]
    if sorted(stages) != stages or not stages or stages[0] < 0 or stages[-1] >= len(model):
        raise ValueError(f"stages must be increasing indices into the model's {len(model)} modules, got {stages}")
    out, h = [], torch.as_tensor(np.asarray(images), dtype=dtype, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for index, module in enumerate(model):
                h = module(h)
                if index in stages:
                    if h.dim() != 4:
                        raise ValueError(f"stage {index} ({type(module).__name__}) gives shape {tuple(h.shape)}, "
                                         "not (N, C, H, W)")
                    out.append(h.detach().cpu().double().numpy())
                if index == stages[-1]:
                    break
    finally:
        model.train(was_training)
    return out


def stage_layers(model, stage: int) -> list[tuple[int, int]]:
    """The ``(kernel, stride)`` of every convolution and pooling up to and including module ``stage``
    (square kernels; activations and other modules do not change the receptive field)."""
    from torch import nn

    layers = []
    for module in list(model)[: stage + 1]:
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = module.kernel_size, module.stride
            layers.append((int(k[0] if isinstance(k, tuple) else k), int(s[0] if isinstance(s, tuple) else s)))
    return layers


def mosaic(maps: np.ndarray, cols: int, tile: int, rows: int | None = None) -> np.ndarray:
    """The channels of one image's feature maps (C, h, w) side by side: ``rows`` x ``cols`` tiles of
    ``tile`` x ``tile`` pixels (each map enlarged by repeating its pixels; h and w must divide ``tile``),
    one NaN row or column between tiles and NaN where there is no channel. Shape (rows (tile + 1) - 1,
    cols (tile + 1) - 1), whatever C, h and w are, so a view only replaces the image's data.
    """
    maps = np.asarray(maps, dtype=np.float64)
    C, h, w = maps.shape
    rows = -(-C // cols) if rows is None else rows
    if tile % h or tile % w or C > rows * cols:
        raise ValueError(f"{C} maps of {h}x{w} do not fit {rows}x{cols} tiles of {tile}x{tile}")
    big = np.repeat(np.repeat(maps, tile // h, axis=1), tile // w, axis=2)  # (C, tile, tile)
    out = np.full((rows * (tile + 1) - 1, cols * (tile + 1) - 1), np.nan)
    for c in range(C):
        r, q = divmod(c, cols)
        out[r * (tile + 1):r * (tile + 1) + tile, q * (tile + 1):q * (tile + 1) + tile] = big[c]
    return out


# -- the notebook's network ------------------------------------------------------------------------------------


@functools.cache
def notebook_cnn(seed: int = 0, epochs: int = 30):
    """The LeNet-style CNN of notebook 06's "train it for real" section, trained exactly as the notebook trains
    it (the digits split of seed 0 as (N, 1, 8, 8), Adam at 3e-3, batches of 64, ``seed``, one torch thread),
    on the CPU. Returns (model, digits), trained once per process and arguments (the slider benchmark builds
    each view twice). tests/lib/widgets/test_widgets_cnn.py checks that its test accuracy is the figure the
    notebook states, so the two cannot drift apart.
    """
    import torch
    from torch import nn

    from dlcourse import data, train

    digits = data.load_digits(seed=0, flatten=False)
    with _torch_threads(1):
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 8, 8) -> (N, 16, 4, 4)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 4, 4) -> (N, 32, 2, 2)
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
        )
        train.fit(model, digits.train, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=3e-3),
                  epochs=epochs, batch_size=64, val_data=digits.val, metrics=[train.accuracy], seed=seed,
                  progress=False)
    return model, digits
