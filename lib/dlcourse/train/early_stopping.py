"""Early stopping: end training when a validation metric stops improving.

The validation curve of an over-fitting network falls, then rises again; the
weights at its lowest point generalise best (Prechelt, "Early Stopping - But
When?", 1998). So keep a copy of the best weights, stop after ``patience``
epochs without improvement, and put the best weights back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

__all__ = ["EarlyStopping"]


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs in which ``monitor`` did not improve by more than ``min_delta``.

    - monitor: a key of the epoch history, e.g. "val_loss" or "val_accuracy"
    - mode: "min" (lower is better) or "max"; default: "min" for names ending
      in "loss", else "max"
    - restore_best: load the best epoch's weights back into the model at the end
    """

    monitor: str = "val_loss"
    patience: int = 5
    mode: Literal["min", "max"] | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    # What has been seen so far; fit() resets it at the start of a run.
    best: float = field(default=math.nan, init=False)
    best_epoch: int | None = field(default=None, init=False)
    wait: int = field(default=0, init=False)
    best_state: dict[str, torch.Tensor] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode is None:
            self.mode = "min" if self.monitor.endswith("loss") else "max"
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")

    def reset(self) -> None:
        self.best, self.best_epoch, self.wait, self.best_state = math.nan, None, 0, None

    def improved(self, value: float) -> bool:
        if math.isnan(self.best):
            return not math.isnan(value)
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int, model: nn.Module) -> bool:
        """Record one epoch's value; True when training should stop."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:  # a copy on the same device: cheap for course-sized models
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait > self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best weights back (when asked to and when there were any)."""
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """Plain data and tensors, for checkpoints that load with ``weights_only=True``."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.best_state = state["wait"], state["best_state"]
