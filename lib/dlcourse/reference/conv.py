"""Convolution and pooling as NumPy forward/backward pairs (I2DL lectures 9 and 10, Tokyo DL2).

Shapes follow PyTorch: images are x (N, C, H, W) (batch, channels, height,
width) and the weights of a convolution are w (F, C, HH, WW): F filters, each
spanning all C input channels over an HH x WW window, exactly as
``torch.nn.Conv2d.weight`` stores them. A lecture quiz that writes the weight
tensor of "4 filters of size 5 on an RGB image" as (3, 4, 5, 5), channels
first, describes the same 300 numbers in another order:
``w.transpose(1, 0, 2, 3)`` goes from one to the other.

What deep-learning libraries call convolution is a cross-correlation (TUM ML
"Deep Learning II"): the kernel is slid over the input *without* flipping,

    out[n, f, i, j] = b[f] + sum_{c, k, l} xp[n, c, i*S + k, j*S + l] * w[f, c, k, l]

with xp the input zero-padded by P on every side and S the stride, which is
what ``torch.nn.functional.conv2d`` computes. The output size along each axis
is (n + 2P - K) / S + 1 (I2DL lecture 9); where the division leaves a
remainder the lecture calls the stride illegal, and ``conv_output_size``
refuses it instead of flooring as PyTorch does, so the layers here refuse it
too, with the same message.

Each layer comes as ``X_forward(...) -> (out, cache)`` and
``X_backward(dout, cache) -> (dx, ...)``. ``conv_forward`` / ``conv_backward``
are vectorized (a window view of the input, then one tensor contraction: the
im2col idea); ``conv_forward_naive`` / ``conv_backward_naive`` are the plain
loops they are measured against. Small helpers answer the lectures' size
questions: output sizes, the padding of each scheme, receptive fields. The
PyTorch counterpart (``Conv2d``, built by hand on ``unfold``) and the counts
of parameters and multiplications are in :mod:`dlcourse.reference.conv_modules`.

Everything NumPy is float64. Bad input raises a ``ValueError`` that names the
argument and the expected shape; no function changes its arguments.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "avg_pool_backward", "avg_pool_forward", "conv_backward", "conv_backward_naive", "conv_forward",
    "conv_forward_naive", "conv_output_size", "max_pool_backward", "max_pool_forward", "padding_for",
    "receptive_field",
]

ConvCache = tuple[np.ndarray, np.ndarray, np.ndarray, int, int]
PoolCache = tuple[tuple[int, ...], np.ndarray | None, int, int]

# ---- checking arguments


def _int(value: object, name: str, minimum: int) -> int:
    # bool is an int in Python, but stride=True is a mistake, not a stride of 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _array(a: object, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None


def _images(x: object, name: str = "x") -> np.ndarray:
    x = _array(x, name)
    if x.ndim != 4:
        hint = f"; for a single image use {name}[None]" if x.ndim == 3 else ""
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {x.shape}{hint}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    return x


def _check_dout(dout: object, shape: tuple[int, ...], layer: str) -> np.ndarray:
    dout = _array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"{layer}: dout has shape {dout.shape}, but the forward output had shape {shape}")
    return dout


def _output_hw(where: str, H: int, W: int, kernel: tuple[int, int], pad: int, stride: int) -> tuple[int, int]:
    """H' and W' through conv_output_size, saying which axis a refused size belongs to."""
    sizes = []
    for axis, n, k in (("H (height)", H, kernel[0]), ("W (width)", W, kernel[1])):
        try:
            sizes.append(conv_output_size(n, k, pad, stride))
        except ValueError as exc:
            raise ValueError(f"{where}, along {axis}: {exc}") from None
    return sizes[0], sizes[1]


# ---- sizes


def conv_output_size(n: int, kernel: int, pad: int, stride: int) -> int:
    """The output length (n + 2 pad - kernel) / stride + 1 of a convolution or pooling along one axis
    (I2DL lecture 9, "Convolution Layers: Dimensions").

    Inputs: n (input length), kernel and stride positive ints; pad an int >= 0 (zeros on each side).
    Raises a ValueError when the kernel is longer than the padded input, or when stride does not divide
    n + 2 pad - kernel: the last window would stick out of the input, which the lecture calls an illegal
    stride ("fractions are illegal"); PyTorch would silently drop the rows that do not fit.
    """
    n, kernel = _int(n, "n", 1), _int(kernel, "kernel", 1)
    pad, stride = _int(pad, "pad", 0), _int(stride, "stride", 1)
    span = n + 2 * pad - kernel  # how far the window travels from its first to its last position
    if span < 0:
        raise ValueError(
            f"kernel {kernel} is larger than the padded input n + 2*pad = {n} + 2*{pad} = {n + 2 * pad}: "
            "there is no position for the window; use a smaller kernel or more padding"
        )
    if span % stride:
        legal = [s for s in range(1, span + 1) if span % s == 0]
        raise ValueError(
            f"illegal stride {stride}: (n + 2*pad - kernel) / stride = ({n} + 2*{pad} - {kernel}) / {stride} "
            f"= {span}/{stride} is not a whole number, so the windows do not tile the input "
            f"({span % stride} row(s) or column(s) would be left over); strides that fit are {legal}, "
            "or change pad"
        )
    return span // stride + 1


def padding_for(kernel: int, mode: str) -> int:
    """The zero padding P of the TUM ML "Deep Learning II" padding schemes, for stride 1.

    - 'valid': P = 0, the output shrinks to n - K + 1;
    - 'same': P = (K - 1) / 2, the output keeps the input length n (I2DL lecture 9); K must be odd,
      since an even kernel would need more zeros on one side than on the other;
    - 'full': P = K - 1, every position where the kernel touches the input at all, n + K - 1 outputs.
    """
    kernel = _int(kernel, "kernel", 1)
    if mode == "valid":
        return 0
    if mode == "same":
        if kernel % 2 == 0:
            raise ValueError(
                f"'same' padding needs an odd kernel, got kernel {kernel}: it would need "
                f"{kernel - 1} zeros in all, which cannot be split evenly between both sides"
            )
        return (kernel - 1) // 2
    if mode == "full":
        return kernel - 1
    raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """How many input pixels along one axis a single output pixel depends on (I2DL lecture 9,
    "Receptive Field": two stacked 3x3 convolutions see 5x5 pixels).

    Inputs: layers, the ``(kernel, stride)`` of each convolution or pooling from input to output
    (positive ints; padding does not change the receptive field).
    Returns r = 1 + sum_l (k_l - 1) * prod_{i<l} s_i: layer l widens the field by k_l - 1 of its own
    input pixels, and each of those is s_1 ... s_{l-1} pixels apart in the input. No layers: r = 1.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ValueError(f"layers must be a list of (kernel, stride) pairs, got {type(layers).__name__}")
    r, jump = 1, 1  # jump: distance in input pixels between neighbours of the current layer's input
    for i, pair in enumerate(layers):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"layers[{i}] must be a (kernel, stride) pair, got {pair!r}")
        k, s = _int(pair[0], f"layers[{i}] kernel", 1), _int(pair[1], f"layers[{i}] stride", 1)
        r += (k - 1) * jump
        jump *= s
    return r


# ---- convolution


def _check_conv(x: object, w: object, b: object, stride: object, pad: object
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    x, w, b = _images(x, "x"), _array(w, "w"), _array(b, "b")
    if w.ndim != 4 or w.size == 0:
        raise ValueError(f"w must be a non-empty 4-D array (F, C, HH, WW), got shape {w.shape}")
    C = x.shape[1]
    if w.shape[1] != C:
        hint = (" (is w ordered (C, F, HH, WW)? w.transpose(1, 0, 2, 3) puts the filters first)"
                if w.shape[0] == C else "")
        raise ValueError(
            f"w {w.shape} expects {w.shape[1]} input channels but x {x.shape} has C = {C}; "
            f"w must be (F, C, HH, WW) as PyTorch stores it{hint}"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape (F,) = ({w.shape[0]},), one bias per filter, got {b.shape}")
    return x, w, b, _int(stride, "stride", 1), _int(pad, "pad", 0)


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Zeros around the last two axes (a new array; x is left alone)."""
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def _windows(xp: np.ndarray, HH: int, WW: int, stride: int) -> np.ndarray:
    """(N, C, H', W', HH, WW): the window under each output position, a read-only view of xp."""
    return sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def _correlate(xp: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Cross-correlation without bias of an already padded xp (N, C, Hp, Wp) with w (F, C, HH, WW)."""
    cols = _windows(xp, w.shape[2], w.shape[3], stride)  # (N, C, H', W', HH, WW)
    # Contracting C, HH and WW copies the windows into one matrix first: that is im2col.
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, H', W', F)
    return out.transpose(0, 3, 1, 2)  # (N, F, H', W')


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
                 ) -> tuple[np.ndarray, ConvCache]:
    """Convolution layer: cross-correlation of x with each filter, plus its bias, as
    ``torch.nn.functional.conv2d(x, w, b, stride, pad)`` (I2DL lecture 9, "Convolution Layer").

    Inputs:
    - x: (N, C, H, W) images
    - w: (F, C, HH, WW) filters, as PyTorch stores them
    - b: (F,) biases
    - stride: a positive int, the step between window positions along H and W
    - pad: an int >= 0, zeros added on every side of H and W

    Returns a tuple of:
    - out: (N, F, H', W') with H' = (H + 2 pad - HH) / stride + 1 and W' likewise (conv_output_size;
      an illegal stride raises a ValueError)
    - cache: (x, w, b, stride, pad)
    """
    x, w, b, stride, pad = _check_conv(x, w, b, stride, pad)
    _output_hw("conv_forward", x.shape[2], x.shape[3], w.shape[2:], pad, stride)
    out = _correlate(_pad(x, pad), w, stride) + b[None, :, None, None]
    return out, (x, w, b, stride, pad)


def conv_backward(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of conv_forward, vectorized.

    Each weight w[f, c, k, l] multiplied every input it met, so dw correlates the inputs with dout;
    each input pixel fed every output whose window covered it, so dx is a true convolution (kernel
    flipped) of dout with w: the FULL padding of TUM ML "Deep Learning II", with the zeros between
    outputs put back when stride > 1.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, b, stride, pad) from conv_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    x, w, _, stride, pad = cache
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _output_hw("conv_backward", H, W, (HH, WW), pad, stride)
    dout = _check_dout(dout, (N, F, Ho, Wo), "conv_backward")
    db = dout.sum(axis=(0, 2, 3))  # the bias is added at every position of every image
    cols = _windows(_pad(x, pad), HH, WW, stride)  # (N, C, H', W', HH, WW)
    dw = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, HH, WW)
    # dx: spread dout back to the stride-1 grid (zeros where a stride skipped positions), pad it with
    # HH - 1 and WW - 1 zeros ('full'), and correlate with the flipped filters, channels and filters
    # swapped. Because the stride is legal, this lands exactly on the padded input's Hp x Wp grid.
    spread = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1))
    spread[:, :, ::stride, ::stride] = dout
    spread = np.pad(spread, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, HH, WW)
    dxp = _correlate(spread, w_flipped, 1)  # (N, C, H + 2 pad, W + 2 pad)
    dx = dxp[:, :, pad:pad + H, pad:pad + W]  # the padding is not an input: its gradient is dropped
    return np.ascontiguousarray(dx), dw, db


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
                       ) -> tuple[np.ndarray, ConvCache]:
    """conv_forward with plain loops over images, filters and output positions: the formula as
    written, the same inputs, outputs and errors, many times slower."""
    x, w, b, stride, pad = _check_conv(x, w, b, stride, pad)
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _output_hw("conv_forward_naive", H, W, (HH, WW), pad, stride)
    xp = _pad(x, pad)
    out = np.empty((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]  # (C, HH, WW)
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_backward_naive(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """conv_backward with plain loops: every output sends dout back to the window and filter it
    came from (the chain rule one product at a time). Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x, w, _, stride, pad = cache
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _output_hw("conv_backward_naive", H, W, (HH, WW), pad, stride)
    dout = _check_dout(dout, (N, F, Ho, Wo), "conv_backward_naive")
    xp = _pad(x, pad)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                    g = dout[n, f, i, j]
                    dxp[n, :, rows, cols] += g * w[f]
                    dw[f] += g * xp[n, :, rows, cols]
                    db[f] += g
    return dxp[:, :, pad:pad + H, pad:pad + W].copy(), dw, db


# ---- pooling


def _check_pool(x: object, size: object, stride: object, where: str) -> tuple[np.ndarray, int, int, int, int]:
    x = _images(x, "x")
    size = _int(size, "size", 1)
    stride = size if stride is None else _int(stride, "stride", 1)
    Ho, Wo = _output_hw(where, x.shape[2], x.shape[3], (size, size), 0, stride)
    return x, size, stride, Ho, Wo


def max_pool_forward(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, PoolCache]:
    """Max pooling over size x size windows of each channel (I2DL lecture 9, "Pooling Layer").

    Inputs:
    - x: (N, C, H, W)
    - size: the window's height and width, a positive int
    - stride: the step between windows, None for size (windows side by side)

    Returns a tuple of:
    - out: (N, C, H', W'), H' = (H - size) / stride + 1 and W' likewise (an illegal stride raises)
    - cache: (x.shape, switches, size, stride), switches (N, C, H', W') the index of each window's
      maximum in row-major order inside the window (the "switches" of KIOS lecture 6). A tie goes to
      the first maximum, as in PyTorch.
    """
    x, size, stride, _, _ = _check_pool(x, size, stride, "max_pool_forward")
    win = _windows(x, size, size, stride)  # (N, C, H', W', size, size)
    flat = win.reshape(*win.shape[:4], size * size)  # row-major inside each window
    switches = flat.argmax(axis=-1)  # np.argmax returns the first maximum
    out = np.take_along_axis(flat, switches[..., None], axis=-1)[..., 0]
    return out, (x.shape, switches, size, stride)


def max_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of max pooling: each dout goes to the input its window took the maximum of,
    and nowhere else; where windows overlap, an input that wins several of them collects all their
    gradients. Inputs: dout (N, C, H', W'), cache from max_pool_forward. Returns dx (N, C, H, W)."""
    shape, switches, size, stride = cache
    N, C, H, W = shape
    dout = _check_dout(dout, switches.shape, "max_pool_backward")
    Ho, Wo = switches.shape[2:]
    # Position of each winner in x: the window's corner plus the offset the switch encodes.
    rows = np.arange(Ho)[:, None] * stride + switches // size  # (N, C, H', W')
    cols = np.arange(Wo)[None, :] * stride + switches % size
    planes = np.arange(N * C).reshape(N, C, 1, 1)  # which (n, c) image plane
    target = (planes * H + rows) * W + cols  # flat index into x
    # bincount sums the gradients that land on the same input: overlapping windows accumulate.
    dx = np.bincount(target.ravel(), weights=dout.ravel(), minlength=N * C * H * W)
    return dx.reshape(shape)


def avg_pool_forward(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, PoolCache]:
    """Average pooling over size x size windows of each channel (I2DL lecture 9, "Average Pooling").

    Inputs and output sizes as max_pool_forward. Returns out (N, C, H', W') and
    cache = (x.shape, None, size, stride).
    """
    x, size, stride, _, _ = _check_pool(x, size, stride, "avg_pool_forward")
    out = _windows(x, size, size, stride).mean(axis=(4, 5))
    return out, (x.shape, None, size, stride)


def avg_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of average pooling: each input of a window gets 1 / size^2 of its dout, summed over
    the windows that contain it. Inputs: dout (N, C, H', W'), cache. Returns dx (N, C, H, W)."""
    shape, _, size, stride = cache
    N, C, H, W = shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    dout = _check_dout(dout, (N, C, Ho, Wo), "avg_pool_backward")
    share = dout / (size * size)
    dx = np.zeros(shape)
    # One pass per offset inside the window, each over all windows at once (size^2 passes in all).
    for di in range(size):
        for dj in range(size):
            dx[:, :, di:di + (Ho - 1) * stride + 1:stride, dj:dj + (Wo - 1) * stride + 1:stride] += share
    return dx
