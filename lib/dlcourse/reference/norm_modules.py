"""Batch norm and layer norm as ``torch.nn.Module`` classes written by hand (I2DL lecture 8, Tokyo DL2).

The same computations as the NumPy reference :mod:`dlcourse.reference.norm`
(its conventions, its checks and its defaults), in PyTorch: autograd does the
backward pass, so what is left to write is the forward pass and the
bookkeeping of the running statistics. Notebook 05 has students write
:class:`BatchNorm1d`'s forward and check it against ``torch.nn.BatchNorm1d``,
and a network that puts it after a ``Linear(bias=False)`` (beta already
shifts, so a bias there would be cancelled by the mean subtraction).

Proven in tests/lib/reference/test_norm_modules.py against ``torch.nn`` and
the NumPy reference in float64.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from dlcourse.reference.norm import _ONE_SAMPLE, DEFAULT_EPS, DEFAULT_MOMENTUM, _eps, _momentum

__all__ = ["BatchNorm1d", "LayerNorm"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class BatchNorm1d(nn.Module):
    """Batch norm over the features of (N, D) inputs, written by hand (autograd does the backward).

    ``weight`` (gamma) and ``bias`` (beta) are parameters of shape (D,), starting
    at ones and zeros; ``running_mean`` and ``running_var`` are buffers (saved
    in ``state_dict``, moved by ``.to()``, not trained). In ``train()`` mode the
    batch mean and biased variance normalize the batch and update the running
    statistics; in ``eval()`` mode the running statistics normalize, so one
    sample gives one answer whatever else is in its batch.

    This module follows the NumPy reference, which differs from ``torch.nn.BatchNorm1d``:

    - ``momentum`` (default 0.9) is the weight of the OLD running value,
      ``running = momentum * running + (1 - momentum) * batch``; torch's is the
      weight of the NEW one, so ``torch.nn.BatchNorm1d(momentum=0.1)`` is
      ``BatchNorm1d(momentum=0.9)`` here. torch's ``momentum=None``
      (a cumulative average) has no counterpart.
    - ``running_var`` is updated with the BIASED batch variance (divide by N),
      the one that normalized the batch; torch uses the unbiased one,
      ``var * N / (N - 1)``. Same outputs and gradients in training; the running
      variances differ by that factor in each update (negligible for large N).
    - ``running_var`` starts at ones, like torch (not at zeros like the NumPy
      reference's missing statistics): an untrained layer in eval mode is then
      nearly the identity instead of multiplying by 1 / sqrt(eps) ≈ 316.
    - inputs must be (N, D) (torch also takes (N, C, L)); there is no
      ``affine=False``, ``track_running_stats=False`` or ``num_batches_tracked``.

    A batch of one sample in train mode raises ``ValueError``, as torch does.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = DEFAULT_EPS,
        momentum: float = DEFAULT_MOMENTUM,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "num_features")
        self.eps = _eps(eps, "eps")
        self.momentum = _momentum(momentum, "momentum")
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(self.num_features, **kw))  # gamma
        self.bias = nn.Parameter(torch.zeros(self.num_features, **kw))  # beta
        self.register_buffer("running_mean", torch.zeros(self.num_features, **kw))
        self.register_buffer("running_var", torch.ones(self.num_features, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) -> (N, D)."""
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d expects x of shape (N, D) = (N, {self.num_features}), got {tuple(x.shape)}")
        if self.training:
            if x.shape[0] == 1:
                raise ValueError(f"BatchNorm1d in train mode needs N >= 2 samples, got {tuple(x.shape)}: "
                                 + _ONE_SAMPLE + " (call .eval()).")
            mean = x.mean(dim=0)  # (D,)
            var = x.var(dim=0, correction=0)  # (D,), biased
            with torch.no_grad():  # the running statistics are bookkeeping, not part of the graph
                self.running_mean.mul_(self.momentum).add_((1.0 - self.momentum) * mean)
                self.running_var.mul_(self.momentum).add_((1.0 - self.momentum) * var)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (N, D)
        return self.weight * x_hat + self.bias

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum} (weight of the old running value)"


class LayerNorm(nn.Module):
    """Layer norm over the last dimension, written by hand; x (..., D) -> (..., D).

    The same computation as ``torch.nn.LayerNorm(D, eps)`` (biased variance, eps
    under the root, per-feature ``weight`` and ``bias`` starting at ones and
    zeros) for an integer ``normalized_shape`` only. No running statistics: the
    same in ``train()`` and ``eval()`` mode, fine for a single sample.
    """

    def __init__(
        self,
        normalized_shape: int,
        eps: float = DEFAULT_EPS,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _positive_int(normalized_shape, "normalized_shape")
        self.eps = _eps(eps, "eps")
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(self.normalized_shape, **kw))  # gamma
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape, **kw))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., D) -> (..., D), each row of D features normalized on its own."""
        if x.dim() < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm expects x of shape (..., D) = (..., {self.normalized_shape}), "
                             f"got {tuple(x.shape)}")
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, correction=0)  # (..., 1), biased
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
