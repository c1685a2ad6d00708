"""Shared by the tests of dlcourse.train (CPU; CUDA-only behaviour is marked ``gpu``):
one torch thread, the first 400 digits, and factories for a small MLP and its optimizer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from dlcourse import train


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and pytest -n 2 must not oversubscribe 2 cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 400 8x8 digits: X (400, 64) float64 in [0, 1], y (400,) int64."""
    data = load_digits()
    return data.data[:400] / 16.0, data.target[:400]


def _mlp(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10))


def _adam(model: nn.Module, lr: float = 1e-2) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr)


def _without_time(history: train.History) -> dict:
    record = history.to_dict()
    del record["epoch"]["time"]
    return record


@pytest.fixture
def mlp() -> Callable[..., nn.Module]:
    """``mlp(seed=0, dropout=0.0)``: a seeded 64-32-10 MLP for the digits."""
    return _mlp


@pytest.fixture
def adam() -> Callable[..., torch.optim.Optimizer]:
    """``adam(model, lr=1e-2)``."""
    return _adam


@pytest.fixture
def without_time() -> Callable[[train.History], dict]:
    """A history as a dict without the epoch times: what two identical runs share."""
    return _without_time
