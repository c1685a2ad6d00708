"""Tests of dlcourse.reference.conv.

Every backward pass is proven twice: against central-difference numerical
gradients (relative error < 1e-7) and against PyTorch autograd in float64
(torch.nn.functional.conv2d, max_pool2d, avg_pool2d). The loop versions must
agree with the vectorized ones, the lectures' worked examples come out as
printed on the slides, and the size helpers give the lectures' numbers. The counting helpers and
the Conv2d module are tested in test_conv_modules.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import conv

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # the same sums in float64 on both sides: agreement to rounding


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def conv_inputs(seed: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.1 apart in random order: no ties, and a step of h = 1e-5 in a
    central difference never changes which input of a window is the largest."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - 0.05 * n).reshape(shape)


# (x shape, w shape, stride, pad): non-square inputs and kernels, C > 1, F > 1, batch size 1
CONV_CASES = [
    ((1, 2, 5, 6), (3, 2, 3, 2), 1, 0),
    ((1, 2, 5, 6), (3, 2, 3, 2), 2, 1),
    ((2, 3, 4, 5), (2, 3, 2, 3), 1, 2),
    ((2, 1, 5, 3), (3, 1, 1, 1), 2, 0),
    ((1, 3, 7, 5), (2, 3, 3, 3), 2, 2),
    ((2, 2, 4, 4), (1, 2, 4, 4), 1, 0),  # the kernel covers the whole input: a 1x1 output
]


def case_id(case: tuple) -> str:
    x_shape, w_shape, stride, pad = case
    return f"x{x_shape}-w{w_shape}-s{stride}-p{pad}".replace(" ", "")


# ---- convolution: gradients


@pytest.mark.parametrize("case", CONV_CASES, ids=case_id)
def test_conv_backward_numerical(case: tuple) -> None:
    x_shape, w_shape, stride, pad = case
    x, w, b = conv_inputs(0, x_shape, w_shape)
    out, cache = conv.conv_forward(x, w, b, stride, pad)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dx, dw, db = conv.conv_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    dx_num = eval_numerical_gradient_array(lambda v: conv.conv_forward(v, w, b, stride, pad)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: conv.conv_forward(x, v, b, stride, pad)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: conv.conv_forward(x, w, v, stride, pad)[0], b, dout)
    assert rel_error(dx, dx_num) < NUM_TOL
    assert rel_error(dw, dw_num) < NUM_TOL
    assert rel_error(db, db_num) < NUM_TOL


@pytest.mark.parametrize("case", [*CONV_CASES, ((3, 4, 10, 9), (5, 4, 3, 2), 3, 1)], ids=case_id)
def test_conv_matches_torch(case: tuple) -> None:
    x_shape, w_shape, stride, pad = case
    x, w, b = conv_inputs(2, x_shape, w_shape)
    out, cache = conv.conv_forward(x, w, b, stride, pad)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    dx, dw, db = conv.conv_backward(dout, cache)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    out_t = F.conv2d(xt, wt, bt, stride=stride, padding=pad)  # w used as stored: (F, C, HH, WW)
    out_t.backward(t(dout))
    assert out.shape == tuple(out_t.shape)
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dw, wt.grad.numpy()) < TORCH_TOL
    assert rel_error(db, bt.grad.numpy()) < TORCH_TOL


NAIVE_CASES = [
    *CONV_CASES,
    ((3, 4, 10, 9), (5, 4, 3, 2), 3, 1),
    ((2, 3, 6, 6), (4, 3, 1, 1), 1, 0),  # 1x1 convolution
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0),  # a single pixel
    ((1, 1, 1, 1), (2, 1, 3, 3), 1, 1),  # all but the centre of the kernel sees padding
    ((2, 2, 3, 7), (3, 2, 3, 5), 2, 2),
    ((1, 2, 8, 3), (2, 2, 2, 1), 4, 1),
    ((2, 3, 5, 5), (2, 3, 5, 5), 1, 2),  # 'same' with a 5x5 kernel
]


@pytest.mark.parametrize("case", NAIVE_CASES, ids=case_id)
def test_naive_equals_vectorized(case: tuple) -> None:
    x_shape, w_shape, stride, pad = case
    x, w, b = conv_inputs(4, x_shape, w_shape)
    out, cache = conv.conv_forward(x, w, b, stride, pad)
    out_naive, cache_naive = conv.conv_forward_naive(x, w, b, stride, pad)
    np.testing.assert_allclose(out_naive, out, rtol=1e-12, atol=1e-12)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    for name, fast, slow in zip(("dx", "dw", "db"), conv.conv_backward(dout, cache),
                                conv.conv_backward_naive(dout, cache_naive), strict=True):
        np.testing.assert_allclose(slow, fast, rtol=1e-12, atol=1e-12, err_msg=name)


# ---- convolution: what the lectures compute by hand

TOKYO_X = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])  # Tokyo DL2, (4, 4)
TOKYO_K = np.array([[0, 1], [2, 3]])  # its (2, 2) filter


def conv2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """One channel, one filter, no bias: the lectures' 2-D pictures."""
    out, _ = conv.conv_forward(image[None, None], kernel[None, None], np.zeros(1), stride, pad)
    return out[0, 0]


def test_tokyo_worked_example() -> None:
    # The slide's "quick exercise": the bottom-right window is [[1, 0], [3, 4]],
    # so ?? = 0*1 + 1*0 + 2*3 + 3*4 = 18. The top-left one: 0*1 + 1*1 + 2*5 + 3*6 = 29.
    expected = np.array([[29, 35, 42], [18, 14, 10], [10, 14, 18]])
    np.testing.assert_array_equal(conv2d(TOKYO_X, TOKYO_K), expected)
    # Stride 2 keeps every other window of the stride-1 result.
    np.testing.assert_array_equal(conv2d(TOKYO_X, TOKYO_K, stride=2), [[29, 42], [10, 18]])
    # One ring of zeros: the top-left window is [[0, 0], [0, 1]] -> 3 * 1 = 3, and the input's
    # first 1 is now used by four windows.
    padded = np.array([
        [3, 5, 8, 16, 8],
        [16, 29, 35, 42, 16],
        [14, 18, 14, 10, 0],
        [6, 10, 14, 18, 8],
        [1, 2, 3, 4, 0],
    ])
    np.testing.assert_array_equal(conv2d(TOKYO_X, TOKYO_K, pad=1), padded)
    # A textbook convolution flips the kernel to [[3, 2], [1, 0]] and would start with
    # 3*1 + 2*1 + 1*5 + 0*6 = 10: the layer cross-correlates, like PyTorch.
    assert conv2d(TOKYO_X, TOKYO_K[::-1, ::-1])[0, 0] == 10


def test_tokyo_diagonal_filters() -> None:
    anti = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(conv2d(np.eye(4), anti), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(conv2d(np.eye(4)[::-1], anti), [[0, 0, 2], [0, 2, 0], [2, 0, 0]])


def test_i2dl_sharpen_filter() -> None:
    image = np.array([[-5, 3, 2, -5, 3], [4, 3, 2, 1, -3], [1, 0, 3, 3, 5], [-2, 0, 1, 4, 4], [5, 6, 7, 9, -1]])
    sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    # Each output is 5 * centre - (up + down + left + right). The slide gives 6, 1, 8, -7, 9;
    # the rest by hand: 5*3 - (1+3+5+4) = 2, 5*0 - (0-2+1+6) = -5, 5*1 - (3+0+4+7) = -9,
    # 5*4 - (3+1+4+9) = 3.
    np.testing.assert_array_equal(conv2d(image, sharpen), [[6, 1, 8], [-7, 9, 2], [-5, -9, 3]])
    # The 1x1 kernel [2] of I2DL lecture 10 doubles every pixel and keeps the size.
    np.testing.assert_array_equal(conv2d(image, np.array([[2]])), 2 * image)


def test_i2dl_box_filter_and_its_borders() -> None:
    signal = np.array([[4, 3, 2, -5, 3, 5, 2, 5, 5, 6]])  # one row: (H, W) = (1, 10)
    box = np.full((1, 3), 1 / 3)
    # Option 1, shrink (no padding): 8 outputs.
    np.testing.assert_allclose(conv2d(signal, box)[0], [3, 0, 0, 1, 10 / 3, 4, 4, 16 / 3], rtol=1e-14, atol=1e-15)
    # Option 2, pad with zeros: the ends become (0 + 4 + 3) / 3 = 7/3 and (5 + 6 + 0) / 3 = 11/3.
    # Padding is on every side, so the single row gets a row of zeros above and below: 3 rows out.
    out = conv.conv_forward(signal[None, None], box[None, None], np.zeros(1), pad=1)[0][0, 0]
    np.testing.assert_allclose(out[1, [0, -1]], [7 / 3, 11 / 3], rtol=1e-14)
    np.testing.assert_allclose(out[[0, 2]], 0, atol=1e-15)  # those rows see only zeros


def test_impulse_response_is_the_flipped_kernel() -> None:
    # Cross-correlating a single 1 with a kernel writes the kernel out backwards:
    # out[i, j] = w[1 - i, 1 - j] around the impulse. This is what tells correlation from convolution.
    x = np.zeros((5, 5))
    x[2, 2] = 1.0
    w = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(conv2d(x, w, pad=1)[1:4, 1:4], w[::-1, ::-1])


def test_channels_are_summed_and_bias_added_per_filter() -> None:
    x = np.stack([np.full((3, 3), 1.0), np.full((3, 3), 10.0)])[None]  # (1, 2, 3, 3)
    w = np.ones((2, 2, 2, 2))
    w[1, 1] = -1.0  # filter 1 subtracts channel 1
    out, _ = conv.conv_forward(x, w, np.array([0.5, -0.5]))
    np.testing.assert_array_equal(out[0, 0], np.full((2, 2), 4 * 1 + 4 * 10 + 0.5))
    np.testing.assert_array_equal(out[0, 1], np.full((2, 2), 4 * 1 - 4 * 10 - 0.5))


def test_integer_and_list_inputs_are_read_as_float64() -> None:
    out, (x, w, b, _, _) = conv.conv_forward(TOKYO_X[None, None].tolist(), TOKYO_K[None, None], [0])
    assert out.dtype == x.dtype == w.dtype == b.dtype == np.float64


# ---- pooling


# (x shape, size, stride): side by side, overlapping (stride < size) and spaced (stride > size) windows
POOL_CASES = [
    ((1, 2, 4, 6), 2, None),
    ((2, 3, 5, 5), 3, 1),
    ((1, 2, 5, 7), 3, 2),
    ((2, 1, 4, 5), 2, 1),
    ((1, 2, 7, 4), 1, 3),
    ((1, 1, 3, 4), 3, 1),
]


def pool_id(case: tuple) -> str:
    return f"x{case[0]}-size{case[1]}-stride{case[2]}".replace(" ", "")


POOLS = {
    "max": (conv.max_pool_forward, conv.max_pool_backward, F.max_pool2d),
    "avg": (conv.avg_pool_forward, conv.avg_pool_backward, F.avg_pool2d),
}


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pool_backward_numerical(kind: str, case: tuple) -> None:
    forward, backward, _ = POOLS[kind]
    x_shape, size, stride = case
    rng = np.random.default_rng(7)
    x = distinct(rng, x_shape)
    out, cache = forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: forward(v, size, stride)[0], x, dout)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_num) < NUM_TOL


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pool_matches_torch(kind: str, case: tuple, ties: bool) -> None:
    forward, backward, torch_pool = POOLS[kind]
    x_shape, size, stride = case
    rng = np.random.default_rng(8)
    # Ties: values in {0, 1, 2}, so most windows hold their maximum more than once. PyTorch sends the
    # gradient to the first of them in row-major order, and so must we, overlapping windows included.
    x = rng.integers(0, 3, size=x_shape).astype(np.float64) if ties else rng.standard_normal(x_shape)
    out, cache = forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    xt = t(x, True)
    out_t = torch_pool(xt, size, stride)  # stride None means stride = size in torch too
    out_t.backward(t(dout))
    assert out.shape == tuple(out_t.shape)
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL


def test_max_pool_tie_goes_to_the_first_maximum_and_overlaps_accumulate() -> None:
    x = np.ones((1, 1, 3, 3))  # every window is one big tie
    out, cache = conv.max_pool_forward(x, size=2, stride=1)
    dx = conv.max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    # Each window's first element in row-major order is its top-left corner.
    np.testing.assert_array_equal(out, np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])
    # A strict maximum in the middle wins all four overlapping windows and collects their sum.
    x[0, 0, 1, 1] = 5.0
    _, cache = conv.max_pool_forward(x, size=2, stride=1)
    dx = conv.max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_i2dl_pooling_example() -> None:
    x = np.array([[3, 1, 3, 5], [6, 0, 7, 9], [3, 2, 1, 4], [0, 2, 4, 3]], dtype=float)[None, None]
    np.testing.assert_array_equal(conv.max_pool_forward(x, 2, 2)[0][0, 0], [[6, 9], [3, 4]])
    # (3+1+6+0)/4 = 2.5, (3+5+7+9)/4 = 6, (3+2+0+2)/4 = 1.75, (1+4+4+3)/4 = 3
    np.testing.assert_array_equal(conv.avg_pool_forward(x, 2, 2)[0][0, 0], [[2.5, 6], [1.75, 3]])


def test_tokyo_pooling_example_on_the_padded_convolution() -> None:
    # Tokyo DL2 pools the top-left 4x4 block of its padded convolution output.
    block = conv.conv_forward(TOKYO_X[None, None], TOKYO_K[None, None], np.zeros(1), pad=1)[0][:, :, :4, :4]
    np.testing.assert_array_equal(block[0, 0], [[3, 5, 8, 16], [16, 29, 35, 42], [14, 18, 14, 10], [6, 10, 14, 18]])
    np.testing.assert_array_equal(conv.max_pool_forward(block)[0][0, 0], [[29, 42], [18, 18]])
    np.testing.assert_array_equal(conv.avg_pool_forward(block)[0][0, 0], [[13.25, 25.25], [12, 14]])


def test_avg_pool_is_a_convolution_with_a_constant_kernel() -> None:
    # Per channel, average pooling is a convolution with the kernel 1/size^2, stride as given.
    x = np.random.default_rng(9).standard_normal((2, 3, 7, 7))
    out, _ = conv.avg_pool_forward(x, 3, 2)
    w = np.zeros((3, 3, 3, 3))
    for c in range(3):
        w[c, c] = 1 / 9
    np.testing.assert_allclose(out, conv.conv_forward(x, w, np.zeros(3), stride=2)[0], rtol=1e-12, atol=1e-14)


# ---- sizes


@pytest.mark.parametrize(("n", "kernel", "pad", "stride", "expected"), [
    (7, 3, 0, 1, 5), (7, 3, 0, 2, 3),  # I2DL lecture 9, stride 1 and 2
    (7, 3, 1, 1, 7),  # 'same' padding for a 3x3 kernel
    (32, 5, 2, 1, 32), (32, 5, 0, 1, 28), (28, 5, 0, 1, 24),  # 32 -> 28 -> 24 without padding
    (4, 2, 0, 2, 2), (4, 4, 0, 3, 1), (1, 3, 1, 1, 1),
])
def test_conv_output_size(n: int, kernel: int, pad: int, stride: int, expected: int) -> None:
    assert conv.conv_output_size(n, kernel, pad, stride) == expected
    assert conv.conv_output_size(np.int64(n), kernel, pad, np.int32(stride)) == expected  # numpy ints too


def test_illegal_stride_is_explained() -> None:
    # I2DL lecture 9: 7x7 input, 3x3 filter, stride 3 gives (7 - 3)/3 + 1 = 2.33: "fractions are illegal".
    with pytest.raises(ValueError, match=r"illegal stride 3") as info:
        conv.conv_output_size(7, 3, 0, 3)
    message = str(info.value)
    assert "4/3" in message and "[1, 2, 4]" in message  # what does not divide, and what would
    # The layers refuse it with the same message, and say along which axis.
    x, w, b = conv_inputs(10, (1, 1, 7, 9), (1, 1, 3, 3))
    for fn in (conv.conv_forward, conv.conv_forward_naive):
        with pytest.raises(ValueError, match=r"along H \(height\)") as info:
            fn(x, w, b, stride=3)
        assert message in str(info.value)
    with pytest.raises(ValueError, match=r"along W \(width\): illegal stride 2"):
        conv.conv_forward(x[:, :, :5, :8], w, b, stride=2)
    for pool in (conv.max_pool_forward, conv.avg_pool_forward):
        assert pool(x, 3, 2)[0].shape == (1, 1, 3, 4)  # (7 - 3) / 2 and (9 - 3) / 2 fit
        with pytest.raises(ValueError, match=r"along H \(height\): illegal stride 2") as info:
            pool(x, 2)  # (7 - 2) / 2 does not: the last row would be left out
        assert "5/2" in str(info.value)


def test_kernel_larger_than_the_input_is_explained() -> None:
    with pytest.raises(ValueError, match=r"kernel 5 is larger than the padded input .* = 3"):
        conv.conv_output_size(3, 5, 0, 1)
    assert conv.conv_output_size(3, 5, 1, 1) == 1  # padding makes room
    x, w, b = conv_inputs(11, (1, 1, 3, 3), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"conv_forward, along H .*kernel 4 is larger"):
        conv.conv_forward(x, w, b)
    with pytest.raises(ValueError, match=r"kernel 4 is larger"):
        conv.max_pool_forward(x, 4)


@pytest.mark.parametrize(("mode", "kernel", "pad"), [("valid", 3, 0), ("same", 3, 1), ("same", 5, 2),
                                                     ("same", 1, 0), ("full", 3, 2), ("full", 2, 1)])
def test_padding_for(mode: str, kernel: int, pad: int) -> None:
    assert conv.padding_for(kernel, mode) == pad
    # TUM ML DL2: valid shrinks to n - K + 1, same keeps n, full grows to n + K - 1.
    n = 6
    size = {"valid": n - kernel + 1, "same": n, "full": n + kernel - 1}[mode]
    assert conv.conv_output_size(n, kernel, pad, 1) == size
    # In one dimension the layer is numpy's correlate with the same mode name.
    rng = np.random.default_rng(12)
    signal, k = rng.standard_normal(n), rng.standard_normal(kernel)
    out = conv.conv_forward(signal[None, None, None], k[None, None, None], np.zeros(1), pad=pad)[0]
    row = out[0, 0, pad]  # padding adds rows above and below; the middle one holds the signal
    np.testing.assert_allclose(row, np.correlate(signal, k, mode), rtol=1e-12, atol=1e-14)


def test_same_padding_matches_torch() -> None:
    # conv_forward pads all sides alike, so 'same' needs a square, odd kernel: 5x5 here.
    x, w, b = conv_inputs(13, (2, 3, 6, 7), (4, 3, 5, 5))
    out, _ = conv.conv_forward(x, w, b, pad=conv.padding_for(5, "same"))
    expected = F.conv2d(t(x), t(w), t(b), padding="same").numpy()
    assert out.shape == (2, 4, 6, 7)
    assert rel_error(out, expected) < TORCH_TOL


def test_padding_for_refuses_even_same_and_unknown_modes() -> None:
    with pytest.raises(ValueError, match=r"'same' padding needs an odd kernel, got kernel 4"):
        conv.padding_for(4, "same")
    with pytest.raises(ValueError, match=r"mode must be 'valid', 'same' or 'full', got 'SAME'"):
        conv.padding_for(3, "SAME")


@pytest.mark.parametrize(("layers", "expected"), [
    ([], 1),  # no layer: a pixel sees itself
    ([(3, 1)], 3),
    ([(3, 1), (3, 1)], 5),  # I2DL lecture 9: two 3x3 layers see 5x5 of the input
    ([(3, 1)] * 3, 7),  # three: 7x7, the VGG argument
    ([(5, 1)], 5),
    ([(3, 1), (2, 2), (3, 1)], 8),  # conv, 2x2 pool, conv: 1 + 2 + 1*1 + 2*2
    ([(2, 2)] * 3, 8),  # three 2x2 pools tile 8x8 pixels
    ([(3, 2), (3, 2), (3, 2)], 15),  # 1 + 2 + 2*2 + 2*4
    ([(5, 1), (2, 2), (5, 1), (2, 2)], 16),  # LeNet-5's conv, pool, conv, pool (Tokyo DL2)
])
def test_receptive_field(layers: list[tuple[int, int]], expected: int) -> None:
    assert conv.receptive_field(layers) == expected
    assert conv.receptive_field(tuple(layers)) == expected


@pytest.mark.parametrize("layers", [[(3, 1), (3, 1)], [(3, 1), (2, 2), (3, 1)], [(3, 2), (3, 2), (3, 2)],
                                    [(5, 1), (2, 2), (5, 1), (2, 2)], [(1, 1), (4, 3)]])
def test_receptive_field_is_what_the_gradient_reaches(layers: list[tuple[int, int]]) -> None:
    # An independent measurement: stack all-ones convolutions (a pool reaches the same pixels as a
    # convolution of its size and stride), backpropagate a 1 from one output pixel, and see how many
    # input pixels get a gradient. Input sizes are built backwards so every stride is legal.
    n = 3
    for k, s in reversed(layers):
        n = (n - 1) * s + k
    h = np.ones((1, 1, n, n))
    caches = []
    for k, s in layers:
        h, cache = conv.conv_forward(h, np.ones((1, 1, k, k)), np.zeros(1), stride=s)
        caches.append(cache)
    grad = np.zeros_like(h)
    grad[0, 0, 1, 1] = 1.0
    for cache in reversed(caches):
        grad = conv.conv_backward(grad, cache)[0]
    rows, cols = np.nonzero(grad[0, 0])
    assert rows.max() - rows.min() + 1 == conv.receptive_field(layers)
    assert cols.max() - cols.min() + 1 == conv.receptive_field(layers)


# ---- arguments are never changed


def test_arguments_are_not_mutated() -> None:
    x, w, b = conv_inputs(17, (2, 3, 6, 6), (4, 3, 3, 3))
    originals = [a.copy() for a in (x, w, b)]
    for a in (x, w, b):
        a.flags.writeable = False  # any write into them raises
    for forward, backward in ((conv.conv_forward, conv.conv_backward),
                              (conv.conv_forward_naive, conv.conv_backward_naive)):
        out, cache = forward(x, w, b, 1, 1)
        dout = np.ones_like(out)
        dout.flags.writeable = False
        backward(dout, cache)
        backward(dout, cache)  # the cache is not used up either: the same gradients twice
        np.testing.assert_array_equal(backward(dout, cache)[0], backward(dout, cache)[0])
    for forward, backward in ((conv.max_pool_forward, conv.max_pool_backward),
                              (conv.avg_pool_forward, conv.avg_pool_backward)):
        out, cache = forward(x, 3, 1)
        dout = np.ones_like(out)
        dout.flags.writeable = False
        backward(dout, cache)
    for a, original in zip((x, w, b), originals, strict=True):
        np.testing.assert_array_equal(a, original)
    layers = [(3, 1), (2, 2)]
    conv.receptive_field(layers)
    assert layers == [(3, 1), (2, 2)]


# ---- bad input: a ValueError that names the argument and what was expected

RNG = np.random.default_rng(18)
X, W, B = RNG.standard_normal((2, 3, 5, 5)), RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
CONV_OUT, CONV_CACHE = conv.conv_forward(X, W, B)
MAX_OUT, MAX_CACHE = conv.max_pool_forward(X[:, :, :4, :4])
AVG_OUT, AVG_CACHE = conv.avg_pool_forward(X[:, :, :4, :4])

BAD_INPUT = [
    pytest.param(conv.conv_forward, (X[0], W, B), r"x must be 4-D \(N, C, H, W\).*use x\[None\]", id="conv-3d-x"),
    pytest.param(conv.conv_forward, (X[:0], W, B), r"x must not be empty", id="conv-empty-x"),
    pytest.param(conv.conv_forward, (X, W[0], B), r"w must be a non-empty 4-D array \(F, C, HH, WW\)",
                 id="conv-3d-w"),
    pytest.param(conv.conv_forward, (X, W[:, :2], B), r"w \(4, 2, 3, 3\) expects 2 input channels .* C = 3",
                 id="conv-channels"),
    pytest.param(conv.conv_forward, (X, W.transpose(1, 0, 2, 3), B[:3]), r"is w ordered \(C, F, HH, WW\)\?",
                 id="conv-w-channels-first"),
    pytest.param(conv.conv_forward, (X, W, B[:3]), r"b must have shape \(F,\) = \(4,\)", id="conv-b"),
    pytest.param(conv.conv_forward, (X, W, B[:, None]), r"b must have shape", id="conv-b-2d"),
    pytest.param(conv.conv_forward, (X, W, B, 0), r"stride must be a positive int, got 0", id="conv-stride-0"),
    pytest.param(conv.conv_forward, (X, W, B, 1.0), r"stride must be a positive int, got 1.0", id="conv-stride-float"),
    pytest.param(conv.conv_forward, (X, W, B, True), r"stride must be a positive int, got True", id="conv-stride-bool"),
    pytest.param(conv.conv_forward, (X, W, B, 1, -1), r"pad must be an int >= 0, got -1", id="conv-pad-neg"),
    pytest.param(conv.conv_forward_naive, (X, W, B, 1, 0.5), r"pad must be an int >= 0", id="naive-pad-float"),
    pytest.param(conv.conv_forward, (np.array([["a"]]), W, B), r"x must be an array of numbers", id="conv-strings"),
    pytest.param(conv.conv_backward, (CONV_OUT[:, :2], CONV_CACHE), r"conv_backward: dout has shape \(2, 2, 3, 3\)",
                 id="conv-dout"),
    pytest.param(conv.conv_backward_naive, (CONV_OUT[0], CONV_CACHE), r"dout has shape", id="naive-dout"),
    pytest.param(conv.max_pool_forward, (X[0],), r"x must be 4-D", id="max-3d-x"),
    pytest.param(conv.max_pool_forward, (X, 0), r"size must be a positive int, got 0", id="max-size-0"),
    pytest.param(conv.avg_pool_forward, (X, 2, 0), r"stride must be a positive int, got 0", id="avg-stride-0"),
    pytest.param(conv.avg_pool_forward, (X, 2.0), r"size must be a positive int", id="avg-size-float"),
    pytest.param(conv.max_pool_backward, (MAX_OUT[:, :, :1], MAX_CACHE), r"max_pool_backward: dout has shape",
                 id="max-dout"),
    pytest.param(conv.avg_pool_backward, (AVG_OUT.T, AVG_CACHE), r"avg_pool_backward: dout has shape", id="avg-dout"),
    pytest.param(conv.conv_output_size, (0, 3, 0, 1), r"n must be a positive int, got 0", id="size-n-0"),
    pytest.param(conv.conv_output_size, (7, 0, 0, 1), r"kernel must be a positive int", id="size-kernel-0"),
    pytest.param(conv.conv_output_size, (7, 3, -1, 1), r"pad must be an int >= 0, got -1", id="size-pad-neg"),
    pytest.param(conv.conv_output_size, (7, 3, 0, 0), r"stride must be a positive int", id="size-stride-0"),
    pytest.param(conv.conv_output_size, ("7", 3, 0, 1), r"n must be a positive int, got '7'", id="size-n-str"),
    pytest.param(conv.conv_output_size, (7.0, 3, 0, 1), r"n must be a positive int, got 7.0", id="size-n-float"),
    pytest.param(conv.receptive_field, ("33",), r"layers must be a list of \(kernel, stride\) pairs",
                 id="rf-string"),
    pytest.param(conv.receptive_field, (3,), r"layers must be a list", id="rf-int"),
    pytest.param(conv.receptive_field, ([(3, 1), (3,)],), r"layers\[1\] must be a \(kernel, stride\) pair",
                 id="rf-short-pair"),
    pytest.param(conv.receptive_field, ([(0, 1)],), r"layers\[0\] kernel must be a positive int", id="rf-kernel"),
    pytest.param(conv.receptive_field, ([(3, 1), (3, 0)],), r"layers\[1\] stride must be a positive int",
                 id="rf-stride"),
    pytest.param(conv.padding_for, (0, "same"), r"kernel must be a positive int", id="padding-kernel"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
