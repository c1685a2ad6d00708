"""The one way library code reaches ``dlcourse.reference``: lazily, by name.

The reference implementations are absent where a student's code runs for
grading (the sandbox replaces ``dlcourse.reference`` with an ImportError) and
in the student hand-out. So no module outside ``dlcourse.reference`` imports
it at the top: exercise descriptions and views name the function they need
and get a stand-in that imports it on first call::

    from dlcourse.lazy_reference import reference
    mse = reference("regression.mse")            # nothing imported yet
    mse(y_hat, y)                                # imports dlcourse.reference.regression now

One policy where the reference is absent: the call raises
:class:`ReferenceUnavailable` (an ImportError) whose message says what to do.
An exercise description is then unusable (only the grader judges, in its own
process, where the reference exists); a view catches it through
``dlcourse.widgets.core.WithFallback`` and says which of the student's
functions to implement first, instead of drawing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["ReferenceUnavailable", "available", "module", "reference"]


class ReferenceUnavailable(ImportError):  # noqa: N818 (an ImportError by kind; the name says what is missing)
    """``dlcourse.reference`` cannot be imported here (grading sandbox, student hand-out)."""


def module(name: str) -> ModuleType:
    """``dlcourse.reference.<name>``, imported now; :class:`ReferenceUnavailable` where it is absent."""
    try:
        return importlib.import_module(f"dlcourse.reference.{name}")
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name not in (None, "dlcourse.reference",
                                                                      f"dlcourse.reference.{name}"):
            raise  # a dependency of the reference is missing: a real bug, say so as it is
        raise ReferenceUnavailable(
            f"dlcourse.reference.{name} is not available here (it is left out of the student hand-out and of "
            "the grading sandbox): your own function must compute the result"
        ) from exc


def available(name: str = "layers") -> bool:
    """Whether ``dlcourse.reference.<name>`` can be imported here."""
    try:
        module(name)
    except ReferenceUnavailable:
        return False
    return True


class _Lazy:
    """A reference function, imported on its first call."""

    def __init__(self, path: str) -> None:
        mod, _, fn = path.rpartition(".")
        if not mod or not fn:
            raise ValueError(f"name a reference function as 'module.function', got {path!r}")
        self.path = path
        self._module, self._name = mod, fn
        self.__name__ = fn
        self.__qualname__ = fn
        self.__doc__ = f"dlcourse.reference.{path}, imported on first call."

    def resolve(self) -> Callable[..., Any]:
        return getattr(module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"reference({self.path!r})"


def reference(path: str) -> Callable[..., Any]:
    """A stand-in for ``dlcourse.reference.<path>`` (``"layers.affine_forward"``) that imports it when called."""
    return _Lazy(path)
