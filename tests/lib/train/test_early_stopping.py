"""Tests of dlcourse.train.early_stopping: stopping, restoring the best weights, modes."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from dlcourse import train


def test_early_stopping_stops_and_restores_the_best_weights(
    digits: tuple[np.ndarray, np.ndarray], mlp, adam
) -> None:
    X, y = digits
    # Validation labels shifted by one: the better the model learns, the worse val_loss gets.
    val = (X[300:], (y[300:] + 1) % 10)
    model = mlp()
    stopper = train.EarlyStopping(monitor="val_loss", patience=2)
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=30, val_data=val, early_stopping=stopper, seed=0)
    assert history.stopped_early
    best = min(range(len(history)), key=lambda i: history["val_loss"][i])
    assert history.best_epoch == best + 1
    assert len(history) == history.best_epoch + 3  # best, then patience + 1 worse epochs
    restored = train.evaluate(model, val, nn.CrossEntropyLoss())["loss"]
    assert restored == pytest.approx(history["val_loss"][best], rel=1e-6)
    assert restored < history["val_loss"][-1]


def test_early_stopping_modes() -> None:
    assert train.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert train.EarlyStopping(monitor="val_loss").mode == "min"
    with pytest.raises(ValueError, match="'min' or 'max'"):
        train.EarlyStopping(mode="lowest")  # type: ignore[arg-type]


def test_early_stopping_on_a_missing_metric_fails_before_training(
    digits: tuple[np.ndarray, np.ndarray], mlp, adam
) -> None:
    X, y = digits
    model = mlp()
    with pytest.raises(ValueError, match="pass val_data"):
        train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1,
                  early_stopping=train.EarlyStopping(monitor="val_loss"))
