"""Saving a run and picking it up again: model, optimizer, history and epoch.

Checkpoints hold only tensors and plain containers, so ``torch.load`` opens
them with ``weights_only=True``, which refuses to run code hidden in a pickle:
a checkpoint downloaded from somewhere is then just data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcourse.train.device import model_device
from dlcourse.train.history import History

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT = 1  # bump when the layout below changes


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns besides the weights it loaded in place."""

    epoch: int
    history: History
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    history: History | None = None,
    epoch: int = 0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint; ``extra`` takes anything else (tensors, numbers, strings, dicts).

    Written to a temporary file first and renamed, so a kernel killed halfway
    leaves the previous checkpoint intact rather than a truncated one.
    """
    path = Path(path)
    state = {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": (history or History()).to_dict(),
        "epoch": epoch,
        "extra": extra or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    map_location: str | torch.device | None = None,
    weights_only: bool = True,
) -> Checkpoint:
    """Load weights (and optimizer state) in place; return the epoch, history and extras.

    Tensors go to the model's device unless ``map_location`` says otherwise.
    Pass ``weights_only=False`` only for a checkpoint you wrote yourself that
    holds other Python objects: it unpickles, which can run code.
    """
    location = map_location if map_location is not None else (model_device(model) or "cpu")
    state = torch.load(path, map_location=location, weights_only=weights_only)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a dlcourse checkpoint (format {FORMAT}); for a bare state_dict use "
            f"model.load_state_dict(torch.load(path))"
        )
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"{path} holds no optimizer state; load it without an optimizer")
        optimizer.load_state_dict(state["optimizer"])
    return Checkpoint(state["epoch"], History.from_dict(state["history"]), state["extra"])
