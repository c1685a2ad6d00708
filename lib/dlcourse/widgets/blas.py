"""One BLAS thread for the small matrix products of a slider update (no matplotlib: computations use it too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["one_blas_thread"]

_CONTROLLER: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the small matrix products of a slider update on one BLAS thread.

    For matrices this small, threads only add synchronisation, which costs tens of
    milliseconds on a busy machine. A no-op without threadpoolctl (it comes with scikit-learn).
    """
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        yield
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield
