"""What the lectures count about convolutions, and the PyTorch convolution built by hand
(I2DL lectures 9 and 10, TUM ML "Deep Learning II", Tokyo DL2).

The NumPy layers themselves are in :mod:`dlcourse.reference.conv`; this module
holds what sits beside them:

- the counting helpers of the lectures: parameters of a convolution layer (the
  760 of I2DL lecture 9) and of a depthwise separable one, multiplications of
  both (I2DL lecture 10: 1,228,800 against 4,800 + 49,152; the Inception
  layer's 470 million against 40 million with a 1x1 reduction);
- ``Conv2d``, the PyTorch counterpart of ``conv_forward``: a module built on
  ``unfold`` (im2col) whose backward pass autograd derives.

Sizes follow ``torch.nn.Conv2d``: a kernel is an int or a (height, width)
pair; ``groups`` splits the channels as PyTorch does. Bad input raises a
``ValueError`` that names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from dlcourse.reference.conv import _int, _output_hw

__all__ = [
    "Conv2d", "conv_multiplications", "conv_param_count", "depthwise_separable_multiplications",
    "depthwise_separable_param_count",
]

Kernel = int | tuple[int, int]


def _kernel(kernel: object, name: str = "kernel") -> tuple[int, int]:
    """An int k (a k x k kernel) or a (height, width) pair, as two positive ints."""
    if isinstance(kernel, Sequence) and not isinstance(kernel, str):
        if len(kernel) != 2:
            raise ValueError(f"{name} must be an int or a (height, width) pair, got {kernel!r}")
        return _int(kernel[0], f"{name}[0]", 1), _int(kernel[1], f"{name}[1]", 1)
    k = _int(kernel, name, 1)
    return k, k


# ---- counting


def conv_param_count(in_channels: int, out_channels: int, kernel: Kernel, bias: bool = True,
                     groups: int = 1) -> int:
    """The learnable parameters of a convolution layer, as ``torch.nn.Conv2d`` holds them.

    Each of the out_channels filters spans in_channels / groups channels over a kernel window, plus one
    bias each (I2DL lecture 9: 10 filters of 5x5 on a 32x32x3 image have (5*5*3 + 1) * 10 = 760).
    groups = in_channels is the depthwise convolution of I2DL lecture 10 (one filter per channel).
    kernel is an int or a (height, width) pair.
    """
    kh, kw = _kernel(kernel)
    C, F, g = _int(in_channels, "in_channels", 1), _int(out_channels, "out_channels", 1), _int(groups, "groups", 1)
    if C % g or F % g:
        raise ValueError(f"groups = {g} must divide in_channels = {C} and out_channels = {F}")
    return F * (C // g) * kh * kw + (F if bias else 0)


def depthwise_separable_param_count(in_channels: int, out_channels: int, kernel: Kernel,
                                    bias: bool = True) -> int:
    """Parameters of a depthwise separable convolution (I2DL lecture 10, Xception): a depthwise
    convolution (one kernel x kernel filter per input channel, groups = in_channels) followed by a
    1x1 convolution mixing the channels, each with biases when ``bias``."""
    return (conv_param_count(in_channels, in_channels, kernel, bias, groups=in_channels)
            + conv_param_count(in_channels, out_channels, 1, bias))


def conv_multiplications(in_channels: int, out_channels: int, kernel: Kernel, out_size: Kernel,
                         groups: int = 1) -> int:
    """Multiplications of one convolution on one image: every one of the out_channels x H' x W' outputs
    takes a dot product of (in_channels / groups) x kernel x kernel numbers (I2DL lecture 10,
    "Inception Layer: Computational Cost"). kernel and out_size (H', W') are ints or pairs."""
    kh, kw = _kernel(kernel)
    Ho, Wo = _kernel(out_size, "out_size")
    weights = conv_param_count(in_channels, out_channels, (kh, kw), bias=False, groups=groups)
    return weights * Ho * Wo  # each weight is used once at every output position


def depthwise_separable_multiplications(in_channels: int, out_channels: int, kernel: Kernel,
                                        out_size: Kernel) -> tuple[int, int]:
    """Multiplications ``(depthwise, pointwise)`` of a depthwise separable convolution on one image
    (I2DL lecture 10: 4800 + 49152 for 256 filters of 5x5 on 3 channels at 8x8 positions, instead
    of 1,228,800 for the plain convolution)."""
    depthwise = conv_multiplications(in_channels, in_channels, kernel, out_size, groups=in_channels)
    pointwise = conv_multiplications(in_channels, out_channels, 1, out_size)
    return depthwise, pointwise


# ---- the PyTorch counterpart


class Conv2d(nn.Module):
    """A 2-D convolution layer built by hand on ``unfold`` (im2col), the counterpart of ``torch.nn.Conv2d``
    with square stride and padding and groups = 1.

    ``unfold`` lays every window out as a column of C * HH * WW numbers; the convolution is then one
    matrix product of the (F, C * HH * WW) filter matrix with those columns, the same contraction as
    conv_forward. Autograd derives the backward pass. Unlike ``torch.nn.Conv2d``, an illegal stride
    raises (conv_output_size) instead of dropping the last rows and columns.

    Parameters: weight (F, C, HH, WW) and bias (F,), drawn like torch's defaults from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C * HH * WW, using ``generator`` when given.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Kernel, stride: int = 1,
                 padding: int = 0, bias: bool = True, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_channels = _int(in_channels, "in_channels", 1)
        self.out_channels = _int(out_channels, "out_channels", 1)
        self.kernel_size = _kernel(kernel_size, "kernel_size")
        self.stride, self.padding = _int(stride, "stride", 1), _int(padding, "padding", 0)
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch.nn.Conv2d's default)."""
        bound = 1.0 / math.sqrt(self.weight[0].numel())
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> (N, F, H', W')."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (N, C, H, W) with C = {self.in_channels}, got shape {tuple(x.shape)}")
        N, _, H, W = x.shape
        Ho, Wo = _output_hw("Conv2d", H, W, self.kernel_size, self.padding, self.stride)
        # im2col: (N, C*HH*WW, H'*W'), one column per window
        cols = nn.functional.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        out = self.weight.reshape(self.out_channels, -1) @ cols  # (N, F, H'*W'), the product broadcast over N
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(N, self.out_channels, Ho, Wo)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
