"""Tests of dlcourse.train.loop: ``fit`` and ``evaluate``, their history, clipping and seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import train


def test_fit_records_history_per_step_and_per_epoch(digits: tuple[np.ndarray, np.ndarray], mlp, adam) -> None:
    X, y = digits
    model = mlp()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=3, batch_size=64, val_data=(X[300:], y[300:]),
                        metrics=[train.accuracy], seed=0)
    assert len(history) == 3
    assert history["epoch"] == [1, 2, 3]
    assert set(history.epoch) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                  "lr", "time"}
    assert all(t > 0 for t in history["time"])
    assert history["lr"] == [1e-2] * 3
    steps = 3 * math.ceil(300 / 64)  # 5 batches per epoch, the last of 44 samples
    assert len(history.step["loss"]) == len(history.step["accuracy"]) == steps
    assert history.step["epoch"] == [1] * 5 + [2] * 5 + [3] * 5
    # The epoch loss is the step losses' mean weighted by batch size.
    weights = [64] * 4 + [44]
    first = sum(v * w for v, w in zip(history.step["loss"][:5], weights, strict=True)) / 300
    assert history["loss"][0] == pytest.approx(first)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.5  # 3 epochs: learning, not yet learnt
    scores = train.evaluate(model, (X[300:], y[300:]), nn.CrossEntropyLoss(), ["accuracy"])
    assert scores == pytest.approx({"loss": history["val_loss"][-1],
                                    "accuracy": history["val_accuracy"][-1]})


def test_evaluate_restores_train_mode_and_takes_a_dataloader(
    digits: tuple[np.ndarray, np.ndarray], mlp
) -> None:
    X, y = digits
    model = mlp()
    model.train()
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=50)
    scores = train.evaluate(model, loader, nn.CrossEntropyLoss(), [train.accuracy])
    assert model.training
    assert scores == pytest.approx(
        train.evaluate(model, (X, y), nn.CrossEntropyLoss(), [train.accuracy])
    )


def test_fit_takes_a_dataloader(digits: tuple[np.ndarray, np.ndarray], mlp, adam) -> None:
    X, y = digits
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=100, shuffle=True)
    model = mlp()
    history = train.fit(model, loader, nn.CrossEntropyLoss(), adam(model), epochs=2, seed=0)
    assert len(history.step["loss"]) == 8


def test_clipping_limits_the_gradient_norm(digits: tuple[np.ndarray, np.ndarray], mlp) -> None:
    X, y = digits

    def one_sgd_step(max_grad_norm: float | None) -> tuple[float, train.History]:
        """With plain SGD and lr=1 the update is minus the (clipped) gradient."""
        model = mlp()
        before = nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        history = train.fit(model, (X, y), nn.CrossEntropyLoss(),
                            torch.optim.SGD(model.parameters(), lr=1.0), epochs=1,
                            batch_size=len(X), max_grad_norm=max_grad_norm)
        after = nn.utils.parameters_to_vector(model.parameters()).detach()
        return float((after - before).norm()), history

    unclipped, _ = one_sgd_step(None)
    clipped, history = one_sgd_step(0.05)
    assert unclipped > 4 * 0.05
    assert clipped == pytest.approx(0.05, rel=1e-4)
    assert history.step["grad_norm"][0] == pytest.approx(unclipped, rel=1e-4)  # before clipping


def test_same_seed_gives_identical_histories(
    digits: tuple[np.ndarray, np.ndarray], mlp, adam, without_time
) -> None:
    X, y = digits

    def run(seed: int) -> train.History:
        model = mlp(seed=123, dropout=0.3)  # dropout: the global generator matters too
        return train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                         epochs=3, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                         seed=seed)

    first, second = run(7), run(7)
    assert without_time(first) == without_time(second)
    assert without_time(run(8)) != without_time(first)
