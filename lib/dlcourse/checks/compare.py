"""Comparing a student's result with the expected one, and saying what is wrong.

A failed comparison should point at the likely mistake, not only say that two
numbers differ: a transposed weight shows up as swapped dimensions, a sum
instead of a mean as a constant factor, a flipped sign as ``-expected``. The
functions here look for those patterns and put them in the message.

The same code runs in two places: in the student's kernel (test cells, while
they work) and in the grader's own process (verdicts at grading time), so it
must not trust its inputs to be arrays of the right kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Comparison",
    "OutputError",
    "assert_close",
    "compare",
    "compare_outputs",
    "flatten_outputs",
    "passed",
    "rel_error",
]


def rel_error(x: np.ndarray | float, y: np.ndarray | float) -> float:
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``.

    The CS231n convention: about 1e-7 or less means agreement in float64,
    1e-2 or more means something is wrong.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs equal shapes, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


@dataclass(frozen=True)
class Comparison:
    """The outcome of one comparison: ``ok`` and, when not, a message that teaches."""

    ok: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _shape_hint(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if len(actual) == 0 and len(expected) > 0:
        return " You returned a single number where an array was expected: did you sum or average too early?"
    if len(expected) == 0 and len(actual) > 0:
        return " A single number was expected: did you forget to reduce (sum or mean)?"
    if len(actual) == len(expected) == 2 and actual == expected[::-1]:
        return " The dimensions are swapped: is a matrix transposed (W vs W.T, or x @ W vs W @ x)?"
    if sorted(actual) == sorted(expected):
        return " The same dimensions in another order: check which axis is which."
    if tuple(d for d in actual if d != 1) == tuple(d for d in expected if d != 1):
        if len(actual) > len(expected):
            return " There is an extra dimension of size 1: use a 1-D vector, or squeeze it."
        return " A dimension of size 1 is missing: keepdims=True, or reshape."
    if int(np.prod(actual)) == int(np.prod(expected)):
        return " Same number of elements, other shape: a reshape or flatten went wrong."
    if len(actual) == len(expected) - 1 and actual == expected[1:]:
        return " The first (batch) dimension is missing: did you reduce over the batch?"
    return ""


def _value_hint(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    """Recognise a few mistakes from how the wrong values relate to the right ones."""
    a = actual.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a) | (a == e)):  # an infinity the reference has too is no mistake
        return " Your result has NaN or inf: look for log(0), division by zero or an overflowing exp."
    if np.allclose(a, -e, rtol=rtol, atol=atol):
        return " Your result is exactly the negative of the expected one: a sign is flipped."
    if e.ndim >= 1 and e.shape == a.shape and e.ndim == 2 and e.shape[0] == e.shape[1]:
        if np.allclose(a, e.T, rtol=rtol, atol=atol):
            return " Your result is the transpose of the expected one."
    nz = np.abs(e) > max(atol, 1e-12)
    # A constant factor is a pattern only across several values (any single wrong number is "r times" the right
    # one) and only away from 1 (a ratio of 1.0000001 is a rounding difference, not a missing 1/N).
    if np.count_nonzero(nz) >= 2:
        ratios = a[nz] / e[nz]
        r = float(np.median(ratios))
        if (np.isfinite(r) and abs(r) > 1e-12 and abs(r - 1) > 1e-3
                and np.allclose(ratios, r, rtol=1e-6, atol=0) and np.allclose(a, r * e, rtol=1e-6, atol=atol)):
            for k, what in _factor_names(r):
                return f" Your result is {what} times the expected one ({r:.6g}): {k}"
            return (
                f" Your result is a constant {r:.6g} times the expected one: "
                "a scale factor (1/N, 2, a learning rate) is wrong or missing."
            )
    diff = a - e
    if diff.size > 1 and np.allclose(diff, diff.flat[0], rtol=0, atol=max(atol, 1e-9) * 10):
        return (
            f" Your result is off by the same constant ({float(diff.flat[0]):.6g}) everywhere: "
            "a bias or offset term is wrong."
        )
    return ""


def _factor_names(r: float) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if np.isclose(r, 2.0):
        out.append(("a factor 2 from the derivative of a square is doubled or missing.", "2"))
    elif np.isclose(r, 0.5):
        out.append(("a factor 2 from the derivative of a square is missing.", "0.5"))
    elif r > 2 and np.isclose(r, round(r)):
        out.append(
            ("did you sum where a mean was needed (a missing 1/N)?", f"{round(r)}")
        )
    elif 0 < r < 0.5 and np.isclose(1 / r, round(1 / r)):
        out.append(
            ("did you divide by N once too often, or average where a sum was needed?", f"1/{round(1 / r)}")
        )
    return out


def compare(
    actual: object,
    expected: np.ndarray | float,
    *,
    name: str = "result",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    check_dtype: bool = False,
) -> Comparison:
    """Compare ``actual`` with ``expected`` and explain any difference.

    Shapes must match exactly (no broadcasting: a (N, 1) column where a (N,)
    vector is expected is a real bug). Values are compared with
    ``|a - e| <= atol + rtol * |e|`` elementwise.
    """
    expected_arr = np.asarray(expected)
    if actual is None:
        return Comparison(False, f"{name}: your function returned None. Did you forget `return`?")
    if isinstance(actual, (tuple, list)) and not _is_numeric_sequence(actual):
        return Comparison(
            False,
            f"{name}: expected one array of shape {expected_arr.shape}, got a {type(actual).__name__} "
            f"of {len(actual)} items. Return the array itself.",
        )
    try:
        a = np.asarray(actual)
    except Exception as exc:  # an object numpy cannot turn into an array
        return Comparison(False, f"{name}: could not read your result as an array ({exc}).")
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        return Comparison(
            False, f"{name}: expected numbers, got values of type {a.dtype} ({type(actual).__name__})."
        )
    if a.shape != expected_arr.shape:
        return Comparison(
            False,
            f"{name}: wrong shape {a.shape}, expected {expected_arr.shape}."
            + _shape_hint(a.shape, expected_arr.shape),
        )
    if check_dtype and a.dtype != expected_arr.dtype:
        return Comparison(False, f"{name}: wrong dtype {a.dtype}, expected {expected_arr.dtype}.")
    if a.size == 0:
        return Comparison(True)
    af = a.astype(np.float64)
    ef = expected_arr.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN here: equal infinities are judged below
        bad = ~(np.abs(af - ef) <= atol + rtol * np.abs(ef))
    bad |= ~np.isfinite(af) & ~(af == ef)
    bad &= ~((af == ef) | (np.isnan(af) & np.isnan(ef)))  # the same infinity (or NaN where NaN is expected)
    if not np.any(bad):
        return Comparison(True)
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f" at index {idx}" if a.ndim else ""
    got, want = (float(af[idx]), float(ef[idx])) if a.ndim else (float(af), float(ef))
    msg = (
        f"{name}: {np.count_nonzero(bad)} of {a.size} values differ. "
        f"First{where}: got {got:.6g}, expected {want:.6g} "
        f"({_error_text(got, want)}; tolerance rtol={rtol:g}, atol={atol:g})."
    )
    with np.errstate(all="ignore"):  # ratios and differences of infinities: the hints handle them
        return Comparison(False, msg + _value_hint(af, ef, rtol, atol))


def _error_text(got: float, want: float) -> str:
    """The error of one value, relative to the expected one: |a - e| / |e| (absolute where e is 0)."""
    if not (np.isfinite(got) and np.isfinite(want)):
        return "not finite"
    if abs(want) < 1e-300:
        return f"absolute error {abs(got - want):.2e}"
    return f"relative error {abs(got - want) / abs(want):.2e}"


def _is_numeric_sequence(obj: Sequence) -> bool:
    return all(isinstance(v, (int, float, np.number)) for v in obj)


def assert_close(
    actual: object,
    expected: np.ndarray | float,
    *,
    name: str = "result",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    check_dtype: bool = False,
) -> None:
    """Raise ``AssertionError`` with a teaching message unless ``actual`` matches.

    While grading, visible checks do not judge (the grader does, in its own
    process): the message is printed and the test cell goes on.
    """
    result = compare(actual, expected, name=name, rtol=rtol, atol=atol, check_dtype=check_dtype)
    if not result.ok:
        _fail(result.message)


def assert_shape(actual: object, shape: tuple[int, ...], *, name: str = "result") -> None:
    """Raise a teaching ``AssertionError`` unless ``actual`` has exactly ``shape``."""
    got = getattr(actual, "shape", None)
    if got is None:
        _fail(f"{name}: expected an array of shape {shape}, got a {type(actual).__name__}.")
    elif tuple(got) != tuple(shape):
        _fail(f"{name}: wrong shape {tuple(got)}, expected {tuple(shape)}." + _shape_hint(tuple(got), tuple(shape)))


_failed_while_grading: list[str] = []  # visible checks that failed since the last passed(...)


def _fail(message: str) -> None:
    from dlcourse.checks import protocol

    if protocol.grading():
        # The grader decides from the recorded outputs; a visible check only informs.
        print(f"[visible check] {message}")
        _count_per_cell()
        _failed_while_grading.append(message)
        return
    raise AssertionError(message)


def _count_per_cell() -> None:
    """In a kernel, forget the failures of earlier cells when a new cell starts (registered once)."""
    global _registered
    if _registered:
        return
    _registered = True
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None:
        shell.events.register("pre_run_cell", lambda *args: _failed_while_grading.clear())


_registered = False


def passed(name: str, detail: str = "") -> None:
    """The last line of a test cell: says the visible tests passed, and never when one failed.

    While a student works a failed check has raised already, so this line is
    only reached when all passed. While grading, failed checks only print (the
    grader judges); then this says that one failed above, so the feedback never
    shows "all visible tests passed" under a failing check.
    """
    if _failed_while_grading:
        count = len(_failed_while_grading)
        _failed_while_grading.clear()
        print(f"{name}: {count} visible test(s) failed (see above)")
        return
    print(f"{name}: all visible tests passed{'; ' + detail if detail else ''}")


class OutputError(TypeError):
    """A returned value that is not numbers; ``index`` is the output it concerns (None: the whole result)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def flatten_outputs(result: object, *, max_items: int = 32) -> list[np.ndarray]:
    """Turn what a function returned into a list of arrays.

    An array or a number becomes one item; a tuple or list of them becomes one
    item each (``(out, cache)`` pairs are unpacked by the caller first).
    Raises :class:`OutputError` (a ``TypeError``) for anything that is not numbers.
    """
    items = list(result) if isinstance(result, (tuple, list)) and not _is_numeric_sequence(result) else [result]
    if len(items) > max_items:
        raise OutputError(f"expected at most {max_items} outputs, got {len(items)}")
    out = []
    for i, item in enumerate(items):
        if item is None:
            raise OutputError(f"output {i} is None (a missing `return`?)", i)
        if hasattr(item, "detach") and hasattr(item, "numpy"):  # a torch tensor
            item = item.detach().cpu().numpy()
        arr = np.asarray(item)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise OutputError(f"output {i} is not numeric (got {type(item).__name__})", i)
        out.append(arr)
    return out


def compare_outputs(
    actual: Sequence[np.ndarray],
    expected: Sequence[np.ndarray],
    *,
    names: Sequence[str] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> Comparison:
    """Compare two lists of outputs item by item (``dx, dw, db`` and the like)."""
    if names is None:
        names = ["result"] if len(expected) == 1 else [f"output {i}" for i in range(len(expected))]
    if len(actual) != len(expected):
        return Comparison(
            False,
            f"expected {len(expected)} output(s) ({', '.join(names)}), your function returned {len(actual)}.",
        )
    for a, e, n in zip(actual, expected, names, strict=True):
        r = compare(a, e, name=n, rtol=rtol, atol=atol)
        if not r.ok:
            return r
    return Comparison(True)
