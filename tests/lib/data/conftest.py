"""Shared by the tests of dlcourse.data: checking that splits partition a data set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest


def _row_counter(X: np.ndarray) -> Counter[bytes]:
    X = np.ascontiguousarray(X.reshape(len(X), -1))
    return Counter(row.tobytes() for row in X)


@pytest.fixture
def row_counter() -> Callable[[np.ndarray], Counter[bytes]]:
    """The rows of an array X (N, ...) as a multiset: equal multisets mean the splits partition X."""
    return _row_counter
