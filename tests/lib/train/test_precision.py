"""Tests of dlcourse.train.precision: bf16/fp16 autocast on CUDA, nothing on the CPU.

The CUDA tests (marked ``gpu``) run ``fit`` with mixed precision end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import train
from dlcourse.train.precision import choose_precision

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_mixed_precision_is_a_no_op_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = choose_precision(torch.device("cpu"))
    assert cpu.dtype is None and cpu.make_scaler() is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision(torch.device("cuda")).dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    fp16 = choose_precision(torch.device("cuda"))
    assert fp16.dtype == torch.float16 and fp16.needs_scaler
    assert choose_precision(torch.device("cuda"), enabled=False).dtype is None


@pytest.mark.gpu
@needs_cuda
def test_fit_on_cuda_with_mixed_precision(digits: tuple[np.ndarray, np.ndarray], mlp, adam) -> None:
    X, y = digits
    model = mlp().cuda()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=3, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                        max_grad_norm=1.0, seed=0)
    assert all(math.isfinite(v) for v in history.step["loss"])
    assert history["val_accuracy"][-1] > 0.7
    assert next(model.parameters()).dtype == torch.float32  # autocast, not a cast of the model


@pytest.mark.gpu
@needs_cuda
def test_fp16_with_grad_scaler_on_cuda(digits: tuple[np.ndarray, np.ndarray], mlp, adam,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    X, y = digits
    model = mlp().cuda()
    history = train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=2,
                        max_grad_norm=1.0, seed=0)
    assert history["loss"][-1] < history["loss"][0]
