"""Tests of dlcourse.train.device: choosing CUDA, then MPS, then the CPU, and overriding the choice."""

from __future__ import annotations

import pytest
import torch

from dlcourse import train


@pytest.fixture
def no_accelerators(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(train.DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return monkeypatch


def test_select_device_prefers_cuda_then_mps_then_cpu(no_accelerators: pytest.MonkeyPatch) -> None:
    assert train.select_device() == torch.device("cpu")
    no_accelerators.setattr(torch.backends.mps, "is_available", lambda: True)
    assert train.select_device() == torch.device("mps")
    no_accelerators.setattr(torch.cuda, "is_available", lambda: True)
    assert train.select_device() == torch.device("cuda")


def test_select_device_argument_then_env_var_override(no_accelerators: pytest.MonkeyPatch) -> None:
    no_accelerators.setattr(torch.cuda, "is_available", lambda: True)
    no_accelerators.setenv(train.DEVICE_ENV_VAR, "cpu")
    assert train.select_device() == torch.device("cpu")
    assert train.select_device("cuda:0") == torch.device("cuda:0")  # the argument wins


def test_select_device_refuses_a_missing_device(no_accelerators: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"torch.cuda.is_available\(\) is False.*Use 'cpu'"):
        train.select_device("cuda")
    no_accelerators.setenv(train.DEVICE_ENV_VAR, "mps")
    with pytest.raises(RuntimeError, match="DLCOURSE_DEVICE='mps'.*MPS"):
        train.select_device()
