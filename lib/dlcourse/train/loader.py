"""Batches for small data sets: kept whole on the device, shuffled by one permutation.

``torch.utils.data.DataLoader`` fetches every sample with its own ``__getitem__``
call and stacks them again into a batch (``default_collate``): on the 8x8 digits
that Python work costs more than the model's own step. A data set this small
fits on the device, so ``TensorLoader`` draws one ``torch.randperm`` per epoch
(from its own seeded ``torch.Generator``), gathers the whole data set in that
order with one indexing operation, and hands out contiguous slices of it, which
are views and cost no copy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from dlcourse.train.device import select_device

__all__ = ["DeviceLoader", "TensorLoader", "as_tensor", "check_lengths"]


def as_tensor(
    data: Any, device: torch.device, float_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """A tensor on ``device`` from an array, a list or a tensor.

    NumPy's floats are float64 while torch's layers are float32, the most common
    "expected scalar type Float but found Double" of a first notebook; so
    floating *arrays* become ``float_dtype`` (default: torch's default dtype)
    and integer arrays become int64, the dtype class labels need. Tensors keep
    their dtype: converting one is the caller's decision.
    """
    if isinstance(data, torch.Tensor):
        return data.to(device)
    array = np.asarray(data)
    if array.dtype.kind == "f":
        dtype = float_dtype or torch.get_default_dtype()
    elif array.dtype.kind in "iub":
        dtype = torch.bool if array.dtype.kind == "b" else torch.int64
    else:
        raise TypeError(f"cannot make a tensor from an array of dtype {array.dtype}")
    return torch.as_tensor(array, dtype=dtype, device=device)


def check_lengths(tensors: tuple[torch.Tensor, ...], names: str = "Xy") -> None:
    """Every tensor needs one row per sample."""
    lengths = [len(t) for t in tensors]
    if len(set(lengths)) > 1:
        described = ", ".join(
            f"{names[i] if i < len(names) else f'tensor {i}'} has {n}" for i, n in enumerate(lengths)
        )
        raise ValueError(
            f"Inputs and labels must have one row per sample, but {described} rows. "
            f"Check that X and y were split (train/validation) and filtered the same way."
        )


class TensorLoader:
    """Shuffled mini-batches of tensors that all live on one device.

    Inputs:
    - *tensors: X of shape (N, ...) and y of shape (N, ...) (tensors or arrays)
    - batch_size: samples per batch B
    - shuffle: a new order every epoch, drawn with ``torch.randperm`` from ``generator``
    - drop_last: leave out the last batch when it has fewer than B samples
    - device: where the data lives (default: ``select_device()``)
    - seed: seeds the loader's own generator (default: drawn from torch's global one)

    Iterating yields tuples ``(xb, yb)`` of shapes (B, ...); one pass is one epoch.
    The permutation is drawn on the CPU, so a seed gives the same order on every device.
    """

    def __init__(
        self,
        *tensors: Any,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_last: bool = False,
        device: str | torch.device | None = None,
        seed: int | None = None,
        float_dtype: torch.dtype | None = None,
    ) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor, e.g. TensorLoader(X, y)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.device = select_device(device)
        self.tensors = tuple(as_tensor(t, self.device, float_dtype) for t in tensors)
        check_lengths(self.tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        if seed is None:  # follow torch's global seed, so seeding a notebook once is enough
            # (only when shuffling: an evaluation loader leaves the global generator alone)
            seed = int(torch.randint(2**62, (1,)).item()) if shuffle else 0
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_samples(self) -> int:
        return len(self.tensors[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        tensors = self.tensors
        if self.shuffle:
            order = torch.randperm(self.num_samples, generator=self.generator)
            order = order.to(self.device, non_blocking=True)
            # One gather for the whole epoch: the batches below are then views.
            tensors = tuple(t[order] for t in tensors)
        batches = zip(*(t.split(self.batch_size) for t in tensors), strict=True)
        # A plain iterator (no generator function): nothing runs per batch but zip.
        return itertools.islice(batches, len(self)) if self.drop_last else batches

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return (
            f"TensorLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, device={self.device})"
        )


class DeviceLoader:
    """Any iterable of batches (a ``DataLoader``, say), its CPU tensors moved to ``device``.

    A ``DataLoader`` always yields CPU tensors, so moving them is routine. Tensors
    already on another accelerator are left alone: that is a mistake the
    pre-flight checks name, not something to paper over with a copy.
    """

    def __init__(self, batches: Iterable[Any], device: torch.device) -> None:
        self.batches = batches
        self.device = device

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]  # TypeError when it has none

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for batch in self.batches:
            yield tuple(_to(t, self.device) for t in batch)


def _to(tensor: Any, device: torch.device) -> Any:
    if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu" != device.type:
        return tensor.to(device, non_blocking=True)
    return tensor
