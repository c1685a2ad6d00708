"""Argument checks and type aliases shared by the data modules (no notebook imports this directly).

Every check raises a ValueError that names the argument and says what is valid,
so a wrong call from a notebook fails on its own line, not deep inside NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Seed = int | np.random.Generator
Pair = tuple[np.ndarray, np.ndarray]


def check_positive(name: str, value: int) -> None:
    if int(value) != value or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def check_noise(noise: float) -> None:
    if not noise >= 0:  # also rejects NaN
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise!r}")


def check_choice(what: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid are {', '.join(map(repr, valid))}")
