"""Which device to train on, and seeding that makes runs repeatable.

A notebook calls ``select_device()`` once in its setup cell; the same notebook
then uses a GPU where there is one and the CPU elsewhere, with no code change.
"""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import torch
from torch import nn

__all__ = ["DEVICE_ENV_VAR", "model_device", "same_device", "seed_everything", "select_device"]

DEVICE_ENV_VAR = "DLCOURSE_DEVICE"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _check_available(device: torch.device, source: str) -> None:
    """Fail now, with the fix, rather than at the first ``.to(device)``."""
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"{source} asks for {device}, but torch.cuda.is_available() is False on this "
            f"machine. Use 'cpu', or leave the device out to pick the best available one."
        )
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"{source} asks for {device}, but Apple's MPS backend is not available here. "
            f"Use 'cpu', or leave the device out to pick the best available one."
        )


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` if given, else ``$DLCOURSE_DEVICE``, else the best one.

    "Best" is CUDA, then Apple's MPS, then the CPU. An explicit request for a
    device this machine lacks raises, so a typo does not silently train on the CPU.
    """
    if device is not None:
        chosen, source = torch.device(device), f"device={device!r}"
    elif os.environ.get(DEVICE_ENV_VAR):
        chosen = torch.device(os.environ[DEVICE_ENV_VAR])
        source = f"{DEVICE_ENV_VAR}={os.environ[DEVICE_ENV_VAR]!r}"
    elif torch.cuda.is_available():
        return torch.device("cuda")
    elif _mps_available():
        return torch.device("mps")
    else:
        return torch.device("cpu")
    _check_available(chosen, source)
    return chosen


def model_device(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter (or buffer); None for a model without any."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return None if first is None else first.device


def same_device(a: torch.device, b: torch.device) -> bool:
    """``cuda`` and ``cuda:0`` are the same device; ``torch.device.__eq__`` says they are not."""
    if a.type != b.type:
        return False
    if a.type == "cpu":
        return True
    current = torch.cuda.current_device() if a.type == "cuda" else 0
    return (a.index if a.index is not None else current) == (
        b.index if b.index is not None else current
    )


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch's covers every CUDA device).

    Loaders keep their own ``torch.Generator``; ``fit(seed=...)`` seeds that too.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (student code that calls np.random.* uses this one)
    torch.manual_seed(seed)
