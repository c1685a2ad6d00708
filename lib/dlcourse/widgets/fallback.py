"""The one policy of every view for a student's function: theirs, else the reference, else say what to do.

A view draws what the student's own functions compute. While one of them is
a stub or broken, the reference stands in and the figure's title says why
(:class:`WithFallback`). Where the reference is absent too (the grading
sandbox, the student hand-out: see :mod:`dlcourse.lazy_reference`), calling
the function raises :class:`FunctionMissing`; the view catches it around the
part of the figure that needed the function (``View.part`` in
:mod:`dlcourse.widgets.core`), leaves that part hidden and says "implement
`name` first" in its title, instead of crashing.

No matplotlib here: the computations of every topic (``compute.py``) use
this module, and they draw nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.lazy_reference import ReferenceUnavailable, reference

__all__ = ["FunctionMissing", "WithFallback"]


class FunctionMissing(ReferenceUnavailable):
    """Neither the student's function nor the reference can compute ``function`` here."""

    def __init__(self, function: str) -> None:
        super().__init__(f"implement `{function}` first")
        self.function = function


class WithFallback:
    """A student's function, with the reference standing in until it works.

    ``name`` is the student's function as the notebook calls it; ``student``
    is that function or None; ``reference`` names the reference function as
    ``"module.function"`` of :mod:`dlcourse.reference` (reached lazily through
    :func:`dlcourse.lazy_reference.reference`), or is a callable built on such
    a stand-in where the call needs adapting (the student's function goes
    through the same adapter).

    Calling it runs the student's function when there is one; if that raises
    (``NotImplementedError``: a stub not yet done) or returns the wrong shape,
    the reference runs instead and :attr:`note` says why, for the figure title.
    If the reference cannot be imported here either, the call raises
    :class:`FunctionMissing`.
    """

    def __init__(self, name: str, student: Callable[..., Any] | None,
                 reference_function: str | Callable[..., Any]) -> None:
        self.name = name
        self.student = student
        self.reference = (reference(reference_function) if isinstance(reference_function, str)
                          else reference_function)
        self.note = ""  # why the last call used the reference; "" when it did not

    def __call__(self, *args: Any, shape: tuple[int, ...] | None = None,
                 finite: bool = False) -> np.ndarray:
        """The result as a float array; ``shape``/``finite``: what a valid result must be."""
        self.note = ""
        if self.student is not None:
            try:
                # Copies: a student's function that writes into X or y must not
                # change the data every later update sees.
                copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                out = np.asarray(self.student(*copies), dtype=np.float64)
            except NotImplementedError:
                self.note = f"your {self.name} is not done yet"
            except Exception as exc:  # any bug in student code: say so, never crash the view
                self.note = f"your {self.name} raised {type(exc).__name__}"
            else:
                if shape is not None and out.shape != shape:
                    self.note = f"your {self.name} returned shape {out.shape}, not {shape}"
                elif finite and not np.all(np.isfinite(out)):
                    self.note = f"your {self.name} returned inf/nan"
                else:
                    return out
        try:
            out = self.reference(*args)
        except ReferenceUnavailable as exc:
            self.note = ""  # the reference did not stand in: the title asks for the function instead
            raise FunctionMissing(self.name) from exc
        return np.asarray(out, dtype=np.float64)
