"""Tests of dlcourse.train.metrics: accuracy for class scores and binary logits, metrics by name."""

from __future__ import annotations

import pytest
import torch

from dlcourse import train
from dlcourse.train.metrics import resolve_metrics


def test_accuracy_for_classes_and_for_binary_logits() -> None:
    scores = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert train.accuracy(scores, torch.tensor([0, 1, 1])).item() == pytest.approx(2 / 3)
    logits = torch.tensor([[1.5], [-2.0]])
    assert train.accuracy(logits, torch.tensor([[1.0], [1.0]])).item() == 0.5


def test_mean_absolute_error_and_metrics_by_name() -> None:
    output, target = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.5], [2.0], [1.0]])
    assert train.mean_absolute_error(output, target).item() == pytest.approx(3.5 / 3)
    assert resolve_metrics(["mae", "acc"]) == {"mae": train.mean_absolute_error, "acc": train.accuracy}
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        resolve_metrics(["f1"])
    with pytest.raises(ValueError, match="'loss' is recorded anyway"):
        resolve_metrics({"loss": train.accuracy})
