"""Notebook 06's pooling and receptive-field exercises (I2DL lecture 9, KIOS lecture 6, Tokyo DL2).

Pooling cases reach windows that overlap (stride < size), windows side by side, H != W, a batch of one, values that
are all negative, and ties inside a window (the gradient goes to the first maximum in row-major order, as in
PyTorch). The mistakes: average instead of max, a maximum that starts at 0, the gradient spread over the whole
window or split evenly, ties that all get it, overlapping windows that overwrite instead of adding; a receptive field
without strides, with a layer's own stride, or that grows by k instead of k - 1.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

# -- max pooling ------------------------------------------------------------------------------------


def _pool_args(rng: np.random.Generator) -> list[tuple[tuple, str]]:
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    return [
        ((rng.standard_normal((2, r(2, 3), 6, 4)), 2, 2), "2x2 windows, stride 2, H != W"),
        ((rng.standard_normal((1, 2, 7, 5)), 3, 2), "a batch of one, 3x3 windows with stride 2 (they overlap)"),
        ((rng.standard_normal((2, 3, 4, 5)), 2, 1), "2x2 windows with stride 1 (each input is in up to 4 windows)"),
        ((rng.standard_normal((2, 2, 6, 9)), 3, 3), "3x3 windows side by side on a 6x9 input"),
        ((-1.0 - rng.random((1, 3, 4, 6)), 2, 2), "every value negative (the maximum is below 0)"),
        ((rng.integers(0, 3, (2, 2, 4, 4)).astype(np.float64), 2, 2),
         "ties: a window holds its maximum more than once"),
        ((rng.integers(0, 2, (1, 1, 5, 5)).astype(np.float64), 3, 1), "ties in overlapping 3x3 windows, stride 1"),
    ]


def _max_pool_ref(x, size, stride):
    return module("conv").max_pool_forward(x, size, stride)[0]


def _windows(x, size, stride):
    from numpy.lib.stride_tricks import sliding_window_view

    return sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]


register(Exercise(
    name="cnn.max_pool_forward",
    reference=_max_pool_ref,
    cases=lambda rng: [Case(args, label=label) for args, label in _pool_args(rng)],
    names=("out",),
    mistakes=(
        Mistake("that is average pooling: max pooling keeps the largest value of each window.",
                lambda x, size, stride: _windows(x, size, stride).mean(axis=(4, 5))),
        Mistake("the maximum starts at 0 (np.zeros, then max): where a whole window is negative the answer must be "
                "its largest (negative) value. Start from -inf or from the window's first value.",
                lambda x, size, stride: np.maximum(_max_pool_ref(x, size, stride), 0.0)),
    ),
))


def _max_pool_backward_ref(x, size, stride, dout):
    conv = module("conv")
    return conv.max_pool_backward(dout, conv.max_pool_forward(x, size, stride)[1])


def _spread(x, size, stride, dout, share):
    """dout (times ``share``) added to every input of its window, or only to each window's maxima."""
    Ho, Wo = dout.shape[2:]
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if share == "all":
                dx[:, :, rows, cols] += g
            elif share == "mean":
                dx[:, :, rows, cols] += g / size**2
            else:  # every maximum of a tie
                dx[:, :, rows, cols] += g * (window == window.max(axis=(2, 3), keepdims=True))
    return dx


def _overwritten(x, size, stride, dout):
    """Each window writes its dout into dx with =, so an input that wins two windows keeps only the last one."""
    N, C = x.shape[:2]
    Ho, Wo = dout.shape[2:]
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    k, m = divmod(int(np.argmax(window)), size)
                    dx[n, c, i * stride + k, j * stride + m] = dout[n, c, i, j]
    return dx


def _max_pool_backward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for (x, size, stride), label in _pool_args(rng):
        out = _max_pool_ref(x, size, stride)
        cases.append(Case((x, size, stride, rng.standard_normal(out.shape)), label=label))
    return cases


register(Exercise(
    name="cnn.max_pool_backward",
    reference=_max_pool_backward_ref,
    cases=_max_pool_backward_cases,
    names=("dx",),
    mistakes=(
        Mistake("the gradient is spread to every input of the window: max pooling routes it only to the input that "
                "was the maximum (the 'switch' remembered by the forward pass); the others get 0.",
                lambda x, size, stride, dout: _spread(x, size, stride, dout, "all")),
        Mistake("dout / size^2 to every input is the backward pass of AVERAGE pooling; max pooling sends all of "
                "dout to the maximum.", lambda x, size, stride, dout: _spread(x, size, stride, dout, "mean")),
        Mistake("where a window holds its maximum twice, only the FIRST one (in row-major order, as np.argmax and "
                "PyTorch pick it) gets the gradient.", lambda x, size, stride, dout: _spread(x, size, stride, dout,
                                                                                             "ties")),
        Mistake("overlapping windows can pick the same input: ADD (+=) the gradients it receives, do not "
                "overwrite them.", _overwritten),
    ),
))


# -- receptive field ------------------------------------------------------------------------------------


def _rf_cases(rng: np.random.Generator) -> list[Case]:
    cases = [
        Case(([[3, 1], [3, 1]],), label="two 3x3 convolutions (the lecture: 5x5)"),
        Case(([[5, 1], [2, 2], [5, 1], [2, 2]],), label="LeNet-5: conv 5, pool 2, conv 5, pool 2"),
        Case(([],), label="no layers: a pixel sees itself"),
        Case(([[1, 1], [1, 2], [3, 1]],), label="a 1x1 convolution, then a stride"),
    ]
    for k in range(3):
        layers = [[int(rng.integers(1, 8)), int(rng.integers(1, 4))] for _ in range(int(rng.integers(2, 7)))]
        cases.append(Case((layers,), label=f"random stack {k + 1} of {len(layers)} layers"))
    return cases


def _rf_no_strides(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def _rf_own_stride(layers):
    r, jump = 1, 1
    for k, s in layers:
        jump *= s
        r += (k - 1) * jump
    return r


register(Exercise(
    name="cnn.receptive_field",
    reference=lambda layers: module("conv").receptive_field([tuple(pair) for pair in layers]),
    cases=_rf_cases,
    names=("receptive field",),
    mistakes=(
        Mistake("the strides are missing: after a layer of stride s, neighbouring pixels are s input pixels apart, "
                "so the next layer widens the field by (k - 1) times the product of all earlier strides.",
                _rf_no_strides),
        Mistake("a layer's own stride does not widen its field: multiply by the strides of the layers BEFORE it "
                "(update the jump after adding k - 1).", _rf_own_stride),
        Mistake("the field grows by k - 1 per layer, not by k: 1 + sum (k_l - 1) * jump_l.",
                lambda layers: sum(k for k, _ in layers) or 1),
    ),
))
