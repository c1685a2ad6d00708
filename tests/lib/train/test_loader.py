"""Tests of dlcourse.train.loader: ``TensorLoader`` batches a data set kept whole on the device."""

from __future__ import annotations

import numpy as np
import torch

from dlcourse.train.loader import TensorLoader


def test_loader_gives_every_sample_once_per_epoch_in_a_new_order() -> None:
    index = torch.arange(103)
    loader = TensorLoader(index, index * 2, batch_size=10, device="cpu", seed=0)
    assert len(loader) == 11
    orders = []
    for _ in range(2):
        batches = list(loader)
        assert [len(x) for x, _ in batches] == [10] * 10 + [3]
        seen = torch.cat([x for x, _ in batches])
        assert torch.equal(torch.cat([y for _, y in batches]), seen * 2)  # pairs stay paired
        assert torch.equal(seen.sort().values, index)
        orders.append(seen)
    assert not torch.equal(orders[0], orders[1]), "a new permutation every epoch"
    assert not torch.equal(orders[0], index), "shuffled"


def test_loader_shuffles_reproducibly_with_its_seed() -> None:
    def epochs(seed: int) -> list[torch.Tensor]:
        loader = TensorLoader(torch.arange(50), batch_size=8, device="cpu", seed=seed)
        return [torch.cat([b for (b,) in loader]) for _ in range(3)]

    assert all(torch.equal(a, b) for a, b in zip(epochs(1), epochs(1), strict=True))
    assert not torch.equal(epochs(1)[0], epochs(2)[0])


def test_loader_drop_last_and_no_shuffle() -> None:
    loader = TensorLoader(torch.arange(25), batch_size=10, shuffle=False, drop_last=True,
                          device="cpu")
    assert len(loader) == 2
    assert [b.tolist() for (b,) in loader] == [list(range(10)), list(range(10, 20))]


def test_loader_converts_numpy_arrays(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    loader = TensorLoader(X, y, device="cpu")
    assert loader.tensors[0].dtype == torch.float32  # NumPy's float64 -> torch's float32
    assert loader.tensors[1].dtype == torch.int64
