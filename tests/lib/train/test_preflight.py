"""Tests of dlcourse.train.preflight: the usual mistakes fail before the first step, with what to do,
and a loss that turns NaN or infinite stops training naming the epoch and step."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import train
from dlcourse.train.loader import TensorLoader

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture
def untouched_after(adam) -> Callable[..., None]:
    """``untouched_after(error, match, model, train_data, **fit_kwargs)``: fit raises ``error``
    and has not taken a single step."""

    def check(error: type[Exception], match: str, model: nn.Module, *args, **kwargs) -> None:
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = adam(model)
        with pytest.raises(error, match=match):
            train.fit(model, args[0], kwargs.pop("loss_fn", nn.CrossEntropyLoss()), optimizer,
                      epochs=1, **kwargs)
        assert not optimizer.state
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))

    return check


def test_error_model_and_data_on_different_devices(
    digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after
) -> None:
    X, y = digits
    # "meta" stands in for a GPU: tensors on another device than the model's.
    X_elsewhere = torch.tensor(X, dtype=torch.float32, device="meta")
    y_elsewhere = torch.tensor(y, device="meta")
    untouched_after(RuntimeError, r"model is on cpu but X is on meta.*model.to\(device\)",
                    mlp(), (X_elsewhere, y_elsewhere))
    loader = TensorLoader(X_elsewhere, y_elsewhere, device="meta")
    untouched_after(RuntimeError, "model is on cpu but train_data", mlp(), loader)


def test_error_float_labels_for_cross_entropy(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    untouched_after(TypeError, r"integer class labels.*y.long\(\)", mlp(), (X, y.astype(float)))


def test_error_labels_of_shape_n_by_1(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    untouched_after(ValueError, r"\(N,\).*\(N, 1\).*y.squeeze\(1\)", mlp(), (X, y[:, None]))


def test_error_regression_output_n_by_1_against_labels_n(
    digits: tuple[np.ndarray, np.ndarray], untouched_after
) -> None:
    X, y = digits
    torch.manual_seed(0)
    regressor = nn.Linear(64, 1)
    untouched_after(ValueError, r"outputs shape \(N, 1\).*\(N,\).*broadcast.*y.view\(-1, 1\)",
                    regressor, (X, y.astype(np.float32)), loss_fn=nn.MSELoss())


def test_error_x_and_y_lengths_differ(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    untouched_after(ValueError, "one row per sample.*X has 400, y has 399", mlp(), (X, y[:-1]))


def test_error_labels_outside_the_classes(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    untouched_after(ValueError, "labels go from 1 to 10.*10 scores", mlp(), (X, y + 1))


def test_error_float64_tensor_for_a_float32_model(
    digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after
) -> None:
    X, y = digits
    untouched_after(TypeError, r"float64.*float32.*X.float\(\)", mlp(),
                    (torch.tensor(X), torch.tensor(y)))


def test_error_nan_in_the_inputs(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    X = X.copy()
    X[5, 3] = np.nan
    untouched_after(ValueError, "1 NaN or infinite", mlp(), (X, y))


def test_nan_loss_stops_and_names_epoch_and_step() -> None:
    X = torch.randn(50, 3)
    y = torch.zeros(50, 1)
    y[25] = 1.0  # a marker in the third batch of 10; the loss below turns NaN on it

    def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.mse_loss(output, target)
        return loss * math.nan if bool(target.max() > 0) else loss

    model = nn.Linear(3, 1)
    with pytest.raises(train.NonFiniteLossError, match=r"nan at epoch 1, step 3 of that epoch "
                       r"\(step 3 overall\).*Lower the learning rate") as caught:
        train.fit(model, TensorLoader(X, y, batch_size=10, shuffle=False, device="cpu"),
                  loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), epochs=3)
    assert caught.value.epoch == 1 and caught.value.step == 3
    assert len(caught.value.history) == 0


def test_exploding_learning_rate_stops_with_advice(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    torch.manual_seed(0)
    model = nn.Linear(64, 1)  # regression on the digit's value: SGD with lr=10 diverges
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+ of that epoch.*"
                       r"Lower the learning rate \(it is 10; try 1\)"):
        train.fit(model, (X, y[:, None].astype(np.float32)), nn.MSELoss(),
                  torch.optim.SGD(model.parameters(), lr=10.0), epochs=5, batch_size=32)


@pytest.mark.gpu
@needs_cuda
def test_cuda_data_with_a_cpu_model_is_refused(digits: tuple[np.ndarray, np.ndarray], mlp, untouched_after) -> None:
    X, y = digits
    loader = TensorLoader(X, y, device="cuda")
    untouched_after(RuntimeError, "model is on cpu but train_data", mlp(), loader)
