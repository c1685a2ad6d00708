"""Tests of dlcourse.reference.conv_modules: the lectures' parameter and multiplication counts,
checked against the parameters torch.nn.Conv2d holds, and the hand-built Conv2d module, whose
output and gradients must equal torch.nn.Conv2d's in float64 and conv_forward's from the same weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.reference import conv, conv_modules

TORCH_TOL = 1e-10  # the same sums in float64 on both sides: agreement to rounding


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# ---- counts


def test_conv_param_count_lecture_numbers() -> None:
    # I2DL lecture 9: 10 filters of 5x5 on a 32x32x3 image: (5*5*3 + 1) * 10.
    assert conv_modules.conv_param_count(3, 10, 5) == 760
    # TUM ML DL2: 1,000 5x5 filters on one channel need 25,000 weights.
    assert conv_modules.conv_param_count(1, 1000, 5, bias=False) == 25_000
    # Tokyo DL2: the (2, 2) filter has 4 learnable parameters where a 16 -> 9 dense layer has 144.
    assert conv_modules.conv_param_count(1, 1, 2, bias=False) == 4
    # I2DL lecture 9 quiz: 4 filters of size 5 on RGB, 4 * 3 * 5 * 5 weights (+ 4 biases).
    assert conv_modules.conv_param_count(3, 4, 5, bias=False) == 300


@pytest.mark.parametrize(("in_channels", "out_channels", "kernel", "bias", "groups"), [
    (3, 10, 5, True, 1), (3, 4, 5, False, 1), (6, 16, (5, 3), True, 1), (8, 8, 3, True, 8),
    (8, 4, 3, False, 2), (1, 1, 1, True, 1),
])
def test_conv_param_count_matches_torch(in_channels: int, out_channels: int, kernel: int | tuple[int, int],
                                        bias: bool, groups: int) -> None:
    layer = nn.Conv2d(in_channels, out_channels, kernel, bias=bias, groups=groups)
    expected = sum(p.numel() for p in layer.parameters())
    assert conv_modules.conv_param_count(in_channels, out_channels, kernel, bias, groups) == expected


@pytest.mark.parametrize("bias", [True, False])
def test_depthwise_separable_param_count_matches_torch(bias: bool) -> None:
    C, F_out, k = 3, 256, 5
    separable = nn.Sequential(nn.Conv2d(C, C, k, groups=C, bias=bias), nn.Conv2d(C, F_out, 1, bias=bias))
    expected = sum(p.numel() for p in separable.parameters())
    assert conv_modules.depthwise_separable_param_count(C, F_out, k, bias) == expected
    # 3*25 + 256*3 = 843 weights instead of the 256*3*25 = 19,200 of a plain 5x5 convolution.
    assert conv_modules.depthwise_separable_param_count(C, F_out, k, bias=False) == 843


def test_multiplication_counts_of_the_lectures() -> None:
    # I2DL lecture 10, depthwise separable convolutions: 256 filters of 5x5x3 at 8x8 positions.
    assert conv_modules.conv_multiplications(3, 256, 5, 8) == 1_228_800
    assert conv_modules.depthwise_separable_multiplications(3, 256, 5, 8) == (4800, 49_152)
    # I2DL lecture 10, Inception cost: 5x5 on 200 channels to 92 at 32x32 is ~470 million;
    # a 1x1 reduction to 16 channels first brings it down to ~40 million.
    assert conv_modules.conv_multiplications(200, 92, 5, 32) == 471_040_000
    reduced = conv_modules.conv_multiplications(200, 16, 1, 32) + conv_modules.conv_multiplications(16, 92, 5, (32, 32))
    assert reduced == 40_960_000


# ---- the PyTorch module


@pytest.mark.parametrize(("x_shape", "kernel", "stride", "pad", "bias"), [
    ((2, 3, 6, 5), 3, 1, 1, True),
    ((1, 2, 7, 9), (3, 5), 2, 0, True),
    ((3, 1, 5, 5), 1, 2, 2, False),
])
def test_conv2d_module_matches_torch(x_shape: tuple[int, ...], kernel: int | tuple[int, int], stride: int,
                                     pad: int, bias: bool) -> None:
    C, F_out = x_shape[1], 4
    ours = conv_modules.Conv2d(C, F_out, kernel, stride, pad, bias, generator=torch.Generator().manual_seed(0)).double()
    theirs = nn.Conv2d(C, F_out, kernel, stride, pad, bias=bias).double()
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        if bias:
            theirs.bias.copy_(ours.bias)
    x = np.random.default_rng(15).standard_normal(x_shape)
    x_ours, x_theirs = t(x, True), t(x, True)
    out, out_t = ours(x_ours), theirs(x_theirs)
    assert out.shape == out_t.shape
    dout = t(np.random.default_rng(16).standard_normal(tuple(out.shape)))
    out.backward(dout)
    out_t.backward(dout)
    assert rel_error(out.detach().numpy(), out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(x_ours.grad.numpy(), x_theirs.grad.numpy()) < TORCH_TOL
    assert rel_error(ours.weight.grad.numpy(), theirs.weight.grad.numpy()) < TORCH_TOL
    if bias:
        assert rel_error(ours.bias.grad.numpy(), theirs.bias.grad.numpy()) < TORCH_TOL
    # ... and the NumPy layer computes the same numbers from the same weights.
    b = ours.bias.detach().numpy() if bias else np.zeros(F_out)
    np_out, _ = conv.conv_forward(x, ours.weight.detach().numpy(), b, stride, pad)
    assert rel_error(np_out, out.detach().numpy()) < TORCH_TOL


def test_conv2d_module_initialization() -> None:
    a = conv_modules.Conv2d(3, 8, 5, generator=torch.Generator().manual_seed(1))
    b = conv_modules.Conv2d(3, 8, 5, generator=torch.Generator().manual_seed(1))
    c = conv_modules.Conv2d(3, 8, 5, generator=torch.Generator().manual_seed(2))
    assert a.weight.shape == (8, 3, 5, 5) and a.bias.shape == (8,)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)  # seeded: reproducible
    assert not torch.equal(a.weight, c.weight)
    bound = 1 / np.sqrt(3 * 5 * 5)  # torch.nn.Conv2d's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert a.weight.abs().max() <= bound and a.weight.abs().max() > 0.9 * bound
    assert sum(p.numel() for p in a.parameters()) == conv_modules.conv_param_count(3, 8, 5) == 608


def test_conv2d_module_refuses_what_torch_floors() -> None:
    x = torch.zeros(1, 3, 7, 7)
    assert nn.Conv2d(3, 2, 3, stride=3)(x).shape == (1, 2, 2, 2)  # torch drops the last row and column
    with pytest.raises(ValueError, match=r"Conv2d, along H \(height\): illegal stride 3"):
        conv_modules.Conv2d(3, 2, 3, stride=3)(x)
    with pytest.raises(ValueError, match=r"C = 3"):
        conv_modules.Conv2d(3, 2, 3)(torch.zeros(1, 1, 7, 7))


# ---- bad input: a ValueError that names the argument

BAD_INPUT = [
    pytest.param(conv_modules.conv_param_count, (3, 10, 0), r"kernel must be a positive int", id="params-kernel"),
    pytest.param(conv_modules.conv_param_count, (3, 10, (3, 3, 3)),
                 r"kernel must be an int or a \(height, width\) pair", id="params-kernel-triple"),
    pytest.param(conv_modules.conv_param_count, (0, 10, 3), r"in_channels must be a positive int", id="params-in"),
    pytest.param(conv_modules.conv_param_count, (6, 4, 3, True, 4), r"groups = 4 must divide", id="params-groups"),
    pytest.param(conv_modules.conv_multiplications, (3, 8, 3, 0), r"out_size must be a positive int", id="mults-size"),
    pytest.param(conv_modules.Conv2d, (3, 8, 3, 0), r"stride must be a positive int", id="module-stride"),
    pytest.param(conv_modules.Conv2d, (3, 0, 3), r"out_channels must be a positive int", id="module-out"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
