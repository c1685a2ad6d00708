"""What the exercises of notebook 01 share: case generators."""

from __future__ import annotations

import numpy as np


def design(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """A design matrix (n, d+1): a column of ones, then d standard normal features."""
    return np.hstack([np.ones((n, 1)), rng.standard_normal((n, d))])


def sizes(rng: np.random.Generator, n: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    """Random n and d in the given half-open ranges, as plain ints (they appear in labels)."""
    return int(rng.integers(*n)), int(rng.integers(*d))
