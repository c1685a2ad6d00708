"""scikit-learn's 8x8 digits, the course's offline "MNIST", and the stratified splits it shares with MNIST.

Used by notebooks 01 (logistic regression on two digits), 02-04 (the networks
trained on the digits, and each "train it for real" section), by the views in
``dlcourse.widgets`` and by ``benchmarks/bench_train.py``. :mod:`dlcourse.data.mnist`
splits the real MNIST with the same :func:`stratified_indices`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlcourse.data import _packaged
from dlcourse.data._validate import Pair, Seed, check_fraction

__all__ = ["Splits", "load_digits", "stratified_indices"]


@dataclass(frozen=True, repr=False)
class Splits:
    """Train/validation/test arrays: X float64 (N, D) or (N, C, H, W), y int64 (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def train(self) -> Pair:
        return self.X_train, self.y_train

    @property
    def val(self) -> Pair:
        return self.X_val, self.y_val

    @property
    def test(self) -> Pair:
        return self.X_test, self.y_test

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    def __repr__(self) -> str:
        # Shapes, not the arrays: a notebook cell that ends in `data` stays readable.
        parts = [f"{name}={getattr(self, name).shape}" for name in ("X_train", "X_val", "X_test")]
        return f"Splits({', '.join(parts)}, num_classes={self.num_classes})"


def stratified_indices(y: np.ndarray, fractions: Sequence[float], seed: Seed) -> list[np.ndarray]:
    """Cut ``arange(N)`` for labels y (N,) into ``len(fractions) + 1`` shuffled parts, the last taking the rest.

    Stratified: each class is cut in the same proportions, so every part has
    (up to rounding) the class balance of the whole, and part i has
    ``round(fractions[i] * N)`` samples in all.
    """
    if sum(fractions) >= 1.0:
        raise ValueError(f"the split fractions {tuple(fractions)} must sum to less than 1")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    sizes = np.stack([_apportion(counts, f) for f in fractions], axis=1)  # (K, parts - 1)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c, class_sizes in zip(classes, sizes, strict=True):
        idx = rng.permutation(np.flatnonzero(y == c))
        for part, chunk in zip(parts, np.split(idx, np.cumsum(class_sizes)), strict=True):
            part.append(chunk)
    # Shuffle across classes too, so a batch taken from the front is not all one digit.
    out = [rng.permutation(np.concatenate(p)) for p in parts]
    if min(map(len, out)) == 0:
        raise ValueError(f"{len(y)} samples are too few to split by {tuple(fractions)}")
    return out


def _apportion(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-class sizes (K,) ~ ``fraction * counts`` summing to ``round(fraction * counts.sum())``.

    Rounding each class on its own could miss the total by up to K/2 samples;
    instead floor every quota and give the leftover samples to the classes with
    the largest remainders (Hamilton's method).
    """
    exact = fraction * counts
    sizes = np.floor(exact).astype(np.int64)
    leftover = round(fraction * counts.sum()) - sizes.sum()
    sizes[np.argsort(sizes - exact, kind="stable")[:leftover]] += 1
    return sizes


def load_digits(
    split: bool = True,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: Seed = 0,
    flatten: bool = True,
    normalize: bool = True,
    classes: Sequence[int] | None = None,
) -> Splits | Pair:
    """scikit-learn's 8x8 digits (1797 images, 10 classes): the course's offline "MNIST".

    Used in notebook 01 (logistic regression on two digits: ``classes=(3, 8)``)
    and in the "train it for real" sections of notebooks 02-06.

    Inputs:
    - split: return a stratified, seeded :class:`Splits`; if False return ``(X, y)``.
    - val_fraction, test_fraction: shares of all samples, each in (0, 1).
    - flatten: X of shape (N, 64) if True, else (N, 1, 8, 8) for convolutions.
    - normalize: scale pixels from 0..16 to 0..1.
    - classes: keep only these digits, relabelled 0..K-1 in the given order.

    Returns: X float64, y int64 (N,), either split or not.
    """
    X, y = _packaged.digits()  # scikit-learn's file, read without importing scikit-learn (slow to import)
    if classes is not None:
        classes = tuple(int(c) for c in classes)
        if len(classes) < 2 or len(set(classes) & set(range(10))) != len(classes):
            raise ValueError(f"classes must be at least two distinct digits 0..9, got {classes}")
        keep = np.isin(y, classes)
        relabel = np.full(10, -1, dtype=np.int64)
        relabel[list(classes)] = np.arange(len(classes))
        X, y = X[keep], relabel[y[keep]]
    if normalize:
        X = X / 16.0
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)  # (N, C, H, W) with one channel
    if not split:
        return X, y
    check_fraction("val_fraction", val_fraction)
    check_fraction("test_fraction", test_fraction)
    val, test, train = stratified_indices(y, (val_fraction, test_fraction), seed)
    return Splits(X[train], y[train], X[val], y[val], X[test], y[test])
