"""Metrics computed on the device: each returns a 0-dim tensor, the batch mean.

They stay tensors so that the training loop never waits for the device; the
loop averages them over the epoch (weighted by batch size) and reads them once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

__all__ = ["Metric", "accuracy", "mean_absolute_error", "resolve_metrics"]

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def accuracy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of correct predictions.

    Inputs:
    - output: class scores (N, C) with integer targets (N,), or one logit per
      sample (N,) / (N, 1) with 0/1 targets of the same shape (positive when > 0)
    - target: the labels
    """
    if output.ndim == target.ndim + 1:  # (N, C) scores, (N,) class indices
        predicted = output.argmax(dim=1)
    else:  # binary: a logit above 0 means probability above 1/2
        predicted = output > 0
        target = target > 0.5
    return (predicted == target).float().mean()


def mean_absolute_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``|output - target|``, for regression."""
    return (output - target).abs().float().mean()


_BY_NAME: dict[str, Metric] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}


def resolve_metrics(
    metrics: Mapping[str, Metric] | Sequence[Metric | str] | None,
) -> dict[str, Metric]:
    """``{name: function}`` from a dict, a list of functions or names, or None."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        resolved = dict(metrics)
    else:
        resolved = {}
        for metric in metrics:
            if isinstance(metric, str):
                if metric not in _BY_NAME:
                    raise ValueError(f"unknown metric {metric!r}; known: {sorted(_BY_NAME)}")
                resolved[metric] = _BY_NAME[metric]
            else:
                resolved[getattr(metric, "__name__", type(metric).__name__)] = metric
    if "loss" in resolved:
        raise ValueError("'loss' is recorded anyway; give the metric another name")
    return resolved
