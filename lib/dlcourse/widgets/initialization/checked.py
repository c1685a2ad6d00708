"""The student's functions as notebook 04's training view uses them: checked first, then called with the
reference standing in (:class:`CheckedFunction`).

ActivationStatsView trains a network with the student's ``forward_activations`` and ``weight_gradients``. A wrong
function would make that training diverge or stall, and the view would seem to say that the initialization chosen
by the sliders did it. So before training, :func:`student_problems` checks both on a small stack (the forward pass
against the reference where it exists, the backward pass against central differences of a forward pass, which needs
no reference), and a function that fails is named in the view's title ("fix ... first") instead of being used.
No matplotlib here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse import lazy_reference
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.widgets.fallback import FunctionMissing, WithFallback
from dlcourse.widgets.initialization.compute import ACTIVATIONS

__all__ = ["CheckedFunction", "student_problems"]


class CheckedFunction(WithFallback):
    """A student's function that returns a list of arrays, with the reference standing in while it is a stub,
    raises, returns other shapes, or failed the check made when the view was built (``broken`` says which).

    ``probe``: arguments of a small call that tells whether the student's function runs at all (a stub raises).
    """

    def __init__(self, name: str, student: Callable[..., Any] | None, reference_function: str,
                 broken: str = "", probe: tuple[Any, ...] = ()) -> None:
        super().__init__(name, student, reference_function)
        self.broken = broken
        self._runs = student is not None and not broken and _quietly(student, *probe) is not None

    def available(self) -> bool:
        """Whether a call can compute anything here (the student's function works, or the reference exists)."""
        return self._runs or lazy_reference.available("init")

    def __call__(self, *args: Any) -> list[np.ndarray]:  # type: ignore[override]  (a list, not one array)
        """The result as a list of float arrays: the student's when it works, else the reference's."""
        self.note = ""
        if self.student is not None and not self.broken:
            try:
                copies = [a.copy() if isinstance(a, np.ndarray) else [w.copy() for w in a] if isinstance(a, list)
                          else a for a in args]
                out = [np.asarray(a, dtype=np.float64) for a in self.student(*copies)]
            except NotImplementedError:
                self.note = f"your {self.name} is not done yet"
            except Exception as exc:  # any bug in student code: say so, never crash the view
                self.note = f"your {self.name} raised {type(exc).__name__}"
            else:
                expected = [w.shape if self.name == "weight_gradients" else (args[0].shape[0], w.shape[1])
                            for w in args[1]]
                if [o.shape for o in out] == expected:
                    return out
                self.note = f"your {self.name} returned shapes {[o.shape for o in out]}, not {expected}"
        elif self.broken:
            self.note = f"your {self.name} {self.broken}"
        try:
            out = self.reference(*args)
        except ReferenceUnavailable as exc:
            self.note = ""
            raise FunctionMissing(self.name) from exc
        return [np.asarray(a, dtype=np.float64) for a in out]


def student_problems(forward: Callable[..., Any] | None, backward: Callable[..., Any] | None) -> dict[str, str]:
    """Why the student's forward_activations / weight_gradients must not train the view's network: name -> reason.

    Checked on a small stack 4 -> 5 -> 3 (tanh and ReLU): the forward pass against the reference where it
    exists; the backward pass against central differences of a forward pass (the reference's, or else the
    student's). A stub or a function that raises is not judged here (the fallback says so when it is called).
    """
    draw = np.random.default_rng(7)
    x = draw.standard_normal((3, 4))
    ws = [draw.standard_normal((4, 5)) * 0.7, draw.standard_normal((5, 3)) * 0.7]
    dout = draw.standard_normal((3, 3))
    problems: dict[str, str] = {}
    trusted = None
    with contextlib.suppress(ReferenceUnavailable):
        trusted = lazy_reference.module("init").forward_activations
    for activation in ACTIVATIONS:
        mine = _quietly(forward, x, ws, activation)
        if trusted is not None and mine is not None:
            right = trusted(x, ws, activation)
            if len(mine) != len(right) or not all(
                    m.shape == r.shape and np.allclose(m, r, rtol=1e-6, atol=1e-9) for m, r in zip(mine, right,
                                                                                             strict=False)):
                problems["forward_activations"] = "gives other activations than the reference on a small stack"
        grads = _quietly(backward, x, ws, activation, dout)
        fwd = trusted if trusted is not None else (forward if mine is not None else None)
        if grads is not None and fwd is not None and "weight_gradients" not in problems:
            layer = _first_wrong_gradient(fwd, backward_result=grads, x=x, ws=ws, activation=activation, dout=dout)
            if layer is not None:
                problems["weight_gradients"] = (f"fails a gradient check (dW_{layer + 1} differs from central "
                                                "differences)")
    return problems


def _first_wrong_gradient(fwd: Callable[..., Any], *, backward_result: list[np.ndarray], x: np.ndarray,
                          ws: list[np.ndarray], activation: str, dout: np.ndarray) -> int | None:
    """The first layer whose gradient disagrees with central differences of ``fwd`` (None: all agree)."""
    if len(backward_result) != len(ws):
        return 0
    for layer, w in enumerate(ws):
        def top(w_layer: np.ndarray, layer: int = layer) -> np.ndarray:
            stack = [w_layer if i == layer else v for i, v in enumerate(ws)]
            return np.asarray(fwd(x, stack, activation)[-1], dtype=np.float64)

        numerical = eval_numerical_gradient_array(top, w.copy(), dout)
        mine = backward_result[layer]
        if mine.shape != w.shape or not np.allclose(mine, numerical, rtol=1e-5, atol=1e-7):
            return layer
    return None


def _quietly(fn: Callable[..., Any] | None, *args: Any) -> list[np.ndarray] | None:
    """fn's result as float arrays, or None if there is no fn, it raises, or it returns no list of arrays."""
    if fn is None:
        return None
    try:
        with np.errstate(all="ignore"):
            return [np.asarray(a, dtype=np.float64) for a in fn(*[a.copy() if isinstance(a, np.ndarray) else
                                                                  [w.copy() for w in a] if isinstance(a, list)
                                                                  else a for a in args])]
    except Exception:  # a stub or a bug: the fallback names it when the view calls the function
        return None
