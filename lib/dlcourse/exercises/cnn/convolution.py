"""Notebook 06's convolution exercises: the output size, the layer forward and backward, and the 1x1 convolution
as a linear layer over the channels (I2DL lectures 9 and 10, Tokyo DL2, TUM ML "Deep Learning II").

Every convolution case is built backwards from its output size, so every stride is legal; the cases reach inputs with
H != W, kernels with HH != WW, stride 2 and 3, padding, a batch of one, several channels and filters. The mistakes:
a flipped kernel (true convolution instead of cross-correlation), padding on one side or counted once, an output
size off by one or floored, a weight gradient averaged or summed over the wrong axes, the bias on the wrong axis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

__all__ = ["output_sizes"]

# -- the output size -------------------------------------------------------------------------------


def output_sizes(size_fn: Callable[[int, int, int, int], int], rows: np.ndarray) -> np.ndarray:
    """``size_fn(n, kernel, pad, stride)`` for each row of ``rows`` (K, 4), 0 where it raises a ValueError.

    The test cell grades ``conv_output_size`` through this same loop, so an illegal stride (which must raise)
    and a legal one are judged in one array.
    """
    sizes = []
    for n, kernel, pad, stride in np.asarray(rows, dtype=np.int64):
        try:
            sizes.append(int(size_fn(int(n), int(kernel), int(pad), int(stride))))
        except ValueError:
            sizes.append(0)
    return np.array(sizes, dtype=np.int64)


def _legal_rows(rng: np.random.Generator, k: int) -> list[list[int]]:
    rows = []
    for _ in range(k):
        kernel, pad, stride = int(rng.integers(1, 8)), int(rng.integers(0, 4)), int(rng.integers(1, 5))
        out = int(rng.integers(1, 20))
        n = (out - 1) * stride + kernel - 2 * pad
        if n < 1:  # too much padding for so small an output: drop it
            pad, n = 0, (out - 1) * stride + kernel
        rows.append([n, kernel, pad, stride])
    return rows


def _illegal_rows(rng: np.random.Generator, k: int) -> list[list[int]]:
    rows = []
    for _ in range(k):
        kernel, pad, stride = int(rng.integers(1, 6)), int(rng.integers(0, 3)), int(rng.integers(2, 5))
        # The window travels (out - 1) * stride + rest: a rest of 1 .. stride - 1 is left over.
        span = (int(rng.integers(1, 15)) - 1) * stride + int(rng.integers(1, stride))
        if span + kernel - 2 * pad < 1:
            pad = 0
        rows.append([span + kernel - 2 * pad, kernel, pad, stride])
    return rows


def _size_cases(rng: np.random.Generator) -> list[Case]:
    lecture = [[7, 3, 0, 1], [7, 3, 0, 2], [7, 3, 0, 3], [32, 5, 2, 1], [32, 5, 0, 1], [7, 3, 1, 1]]
    return [
        Case((np.array(lecture, dtype=np.int64),), label="the lecture's 7x7 input with a 3x3 filter, strides 1, 2, 3"),
        Case((np.array(_legal_rows(rng, 10), dtype=np.int64),), label="legal sizes with padding and strides"),
        Case((np.array(_illegal_rows(rng, 6), dtype=np.int64),),
             label="illegal strides (the division leaves a remainder: raise a ValueError)"),
        Case((np.array([[3, 5, 0, 1], [3, 5, 1, 1], [1, 1, 0, 1], [1, 3, 1, 1], [4, 4, 0, 3]], dtype=np.int64),),
             label="kernels as large as (or larger than) the padded input"),
    ]


def _size_reference(rows: np.ndarray) -> np.ndarray:
    return output_sizes(module("conv").conv_output_size, rows)


def _size_formula(formula: Callable[[int, int, int, int], float], check: bool) -> Callable[[np.ndarray], np.ndarray]:
    """A wrong size: ``formula`` floored, raising only where ``check`` asks for it."""

    def size(n: int, kernel: int, pad: int, stride: int) -> int:
        value = formula(n, kernel, pad, stride)
        if check and (value != int(value) or value < 1):
            raise ValueError("illegal")
        return int(np.floor(value))

    return lambda rows: output_sizes(size, rows)


register(Exercise(
    name="cnn.conv_output_size",
    reference=_size_reference,
    cases=_size_cases,
    names=("output sizes (0 where your function raised a ValueError)",),
    mistakes=(
        Mistake("an illegal stride must raise a ValueError: (n + 2 pad - kernel) / stride has a remainder, so the "
                "windows do not tile the input. Flooring is what PyTorch does silently, not what the lecture allows.",
                _size_formula(lambda n, k, p, s: (n + 2 * p - k) // s + 1, check=False)),
        Mistake("the padding is added on BOTH sides: n + 2 pad, not n + pad.",
                _size_formula(lambda n, k, p, s: (n + p - k) / s + 1, check=True)),
        Mistake("the output size is (n + 2 pad - kernel) / stride + 1: the first window counts too (the +1).",
                _size_formula(lambda n, k, p, s: (n + 2 * p - k) / s, check=True)),
        Mistake("off by one: (n + 2 pad - kernel) / stride + 1, not (n + 2 pad - kernel + 1) / stride.",
                _size_formula(lambda n, k, p, s: (n + 2 * p - k + 1) / s, check=True)),
    ),
))


# -- convolution forward and backward ------------------------------------------------------------------


def _conv_case(rng: np.random.Generator, N: int, C: int, F: int, kernel: tuple[int, int], stride: int, pad: int,
               out: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """x, w, b of a convolution whose output is ``out`` (H', W'): built backwards, so the stride is legal."""
    HH, WW = kernel
    H, W = ((o - 1) * stride + k - 2 * pad for o, k in zip(out, kernel, strict=True))
    if H < 1 or W < 1:
        raise ValueError(f"no input gives output {out} with kernel {kernel}, stride {stride}, pad {pad}")
    return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F),
            stride, pad)


def _conv_args(rng: np.random.Generator) -> list[tuple[tuple, str]]:
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    tokyo_x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)[None, None]
    tokyo = (tokyo_x, np.array([[[[0.0, 1.0], [2.0, 3.0]]]]), np.zeros(1), 1, 1)
    return [
        (_conv_case(rng, r(2, 3), r(2, 3), r(2, 4), (3, 2), 1, 0, (r(3, 5), r(4, 6))),
         "several images, channels and filters; a 3x2 kernel, no padding"),
        (_conv_case(rng, 1, r(2, 3), r(2, 3), (3, 3), 2, 1, (r(2, 4), r(3, 5))),
         "a batch of one, stride 2, padding 1 (H != W)"),
        (_conv_case(rng, 2, 1, r(2, 3), (2, 4), 1, 2, (r(5, 7), r(4, 6))),
         "padding 2 with a 2x4 kernel (the output is larger than the input)"),
        (_conv_case(rng, 2, r(3, 4), 1, (3, 3), 3, 1, (r(2, 3), r(3, 4))), "stride 3, one filter over 3-4 channels"),
        (_conv_case(rng, 1, 3, 4, (1, 1), 2, 0, (3, 2)), "a 1x1 kernel with stride 2"),
        (_conv_case(rng, 2, 2, 3, (3, 5), 1, 1, (1, 1)), "the kernel covers the whole padded input: a 1x1 output"),
        (tokyo, "Tokyo DL2's 4x4 input and 2x2 kernel [[0, 1], [2, 3]] with padding 1"),
    ]


def _conv_forward_cases(rng: np.random.Generator) -> list[Case]:
    return [Case(args, label=label) for args, label in _conv_args(rng)]


def _conv_forward_ref(x, w, b, stride, pad):
    return module("conv").conv_forward(x, w, b, stride, pad)[0]


def _pad_one_side(x, w, b, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, 0), (pad, 0)))
    return module("conv").conv_forward(xp, w, b, stride, 0)[0]


register(Exercise(
    name="cnn.conv_forward",
    reference=_conv_forward_ref,
    cases=_conv_forward_cases,
    names=("out",),
    mistakes=(
        Mistake("the kernel is flipped: that is the convolution of signal processing. Deep-learning layers compute "
                "the cross-correlation out[i, j] = sum x[i*S + k, j*S + l] * w[k, l], without flipping.",
                lambda x, w, b, stride, pad: _conv_forward_ref(x, w[:, :, ::-1, ::-1], b, stride, pad)),
        Mistake("the bias b[f] of each filter is missing.",
                lambda x, w, b, stride, pad: _conv_forward_ref(x, w, np.zeros_like(b), stride, pad)),
        Mistake("the zeros are padded on one side only: pad adds `pad` rows and columns on EVERY side.",
                _pad_one_side),
    ),
))


def _conv_backward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for (x, w, b, stride, pad), label in _conv_args(rng):
        out = _conv_forward_ref(x, w, b, stride, pad)
        cases.append(Case((x, w, b, stride, pad, rng.standard_normal(out.shape)), label=label))
    return cases


def _conv_backward_ref(x, w, b, stride, pad, dout):
    conv = module("conv")
    return conv.conv_backward(dout, conv.conv_forward(x, w, b, stride, pad)[1])


def _dw_mean(x, w, b, stride, pad, dout):
    dx, dw, db = _conv_backward_ref(x, w, b, stride, pad, dout)
    return dx, dw / x.shape[0], db


def _dw_all_filters(x, w, b, stride, pad, dout):
    dx, _, db = _conv_backward_ref(x, w, b, stride, pad, dout)
    summed = _conv_backward_ref(x, w[:1], b[:1], stride, pad, dout.sum(axis=1, keepdims=True))[1]
    return dx, np.repeat(summed, w.shape[0], axis=0), db


def _db_batch_only(x, w, b, stride, pad, dout):
    dx, dw, _ = _conv_backward_ref(x, w, b, stride, pad, dout)
    return dx, dw, dout.sum(axis=0)


def _dx_not_flipped(x, w, b, stride, pad, dout):
    _, dw, db = _conv_backward_ref(x, w, b, stride, pad, dout)
    return _conv_backward_ref(x, w[:, :, ::-1, ::-1], b, stride, pad, dout)[0], dw, db


register(Exercise(
    name="cnn.conv_backward",
    reference=_conv_backward_ref,
    cases=_conv_backward_cases,
    names=("dx", "dw", "db"),
    mistakes=(
        Mistake("dw is a SUM over the batch (every image used the same weights), not a mean: no division by N.",
                _dw_mean),
        Mistake("dw is summed over the wrong axes: each filter f gets its own gradient from dout[:, f], so do not "
                "sum dout over the filters.", _dw_all_filters),
        Mistake("db sums dout over the batch AND over all output positions: db[f] = dout[:, f].sum().",
                _db_batch_only),
        Mistake("dx sends each dout back through the kernel as it was applied: dx[window] += dout[n, f, i, j] * w[f]. "
                "Written as one correlation of dout with w, the kernel must be flipped.", _dx_not_flipped),
    ),
))


# -- 1x1 convolution as a linear layer -------------------------------------------------------------------


def _conv1x1_cases(rng: np.random.Generator) -> list[Case]:
    def case(N, C, F, H, W):
        return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C)), rng.standard_normal(F))

    return [
        Case(case(2, 3, 5, 4, 6), label="2 images, 3 channels to 5"),
        Case(case(3, 4, 4, 3, 5), label="as many output channels as input channels (F = C)"),
        Case(case(2, 3, 4, 2, 4), label="F equal to the width W (a bias added along the wrong axis broadcasts)"),
        Case(case(1, 6, 2, 1, 1), label="a batch of one 1x1 image (a plain linear layer)"),
        Case(case(1, 2, 3, 5, 3), label="a batch of one, H != W"),
    ]


def _conv1x1_ref(x, w, b):
    return module("conv").conv_forward(x, w[:, :, None, None], b)[0]


def _conv1x1_scrambled(x, w, b):
    N, C, H, W = x.shape
    return (x.reshape(-1, C) @ w.T + b).reshape(N, H, W, -1).transpose(0, 3, 1, 2)


register(Exercise(
    name="cnn.conv1x1",
    reference=_conv1x1_ref,
    cases=_conv1x1_cases,
    names=("out",),
    mistakes=(
        Mistake("x.reshape(-1, C) mixes pixels and channels, because C is not the last axis of (N, C, H, W): move "
                "the channels last first (x.transpose(0, 2, 3, 1)), or use np.einsum('nchw,fc->nfhw', x, w).",
                _conv1x1_scrambled),
        Mistake("w is (F, C): output channel f is sum_c w[f, c] x[:, c], so contract over w's SECOND axis (w.T in "
                "a product x @ w.T).", lambda x, w, b: _conv1x1_ref(x, w.T, b)),
        Mistake("b[f] belongs to output channel f, the axis 1 of (N, F, H, W): add b[None, :, None, None].",
                lambda x, w, b: _conv1x1_ref(x, w, np.zeros_like(b)) + b),
    ),
))
