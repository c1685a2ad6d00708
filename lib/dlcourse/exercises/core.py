"""An exercise's description and the judging of a result: :class:`Case`, :class:`Mistake`, :class:`Exercise`.

See the package docstring (``dlcourse.exercises``) for how both sides of grading use them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcourse.checks import protocol
from dlcourse.checks.compare import Comparison, compare_outputs, flatten_outputs

__all__ = ["MAX_ERROR_CHARS", "Case", "Exercise", "Mistake", "float64_outputs", "judge_call", "matches_mistake"]

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``; ``label`` names it in messages."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"args": list(self.args), "kwargs": dict(self.kwargs), "label": self.label}


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation and the hint to give when a result matches it."""

    hint: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Exercise:
    """A graded function: how to make its cases, what it must return on them, how to judge it.

    ``reference(*args, **kwargs)`` returns the expected output(s); an ``(out,
    cache)`` pair is not an output: wrap such a function in the test cell so it
    returns only what is compared. ``cases(rng)`` returns the random cases
    plus fixed edge cases. ``names`` labels the outputs in messages.

    ``check``, when given, replaces the elementwise comparison with the
    reference: for outputs that are random samples (an initializer) it can
    test their statistics with tolerances that cannot flake. It gets the
    decoded case and the student's outputs (a list of arrays, already checked
    to be numeric) and returns a :class:`~dlcourse.checks.compare.Comparison`.

    ``may_change`` names the arguments the function may change in place (its
    docstring says so: an optimizer's ``config``, batch norm's running
    statistics); changing any other argument is wrong even when the returned
    values are right, because the caller's data are no longer what they were.

    ``repeat``: the kernel calls the function a second time on the same case
    (fresh copies; random generators restarted from the same seed), and, where
    the case holds a generator, a third time with generators of another seed.
    The second result must equal the first (hidden state: a shared mutable
    default, a module-level variable, drawing from ``np.random``), the third
    must differ (a generator argument that is ignored).

    ``float64``: the docstring requires float64 results; a float32 or float16
    output fails even within the tolerances, and the message says so (a
    float32 result can pass most cases and then fail the one that needs the
    digits, or the student's own gradient check).

    ``handout``: how the student hand-out, which has neither the reference nor
    this description, judges the visible cases (``dlcourse.exercises.recorded``):
    "outputs" compares with the reference's outputs recorded when it was built
    (the default without ``check``), "moments" compares a random sample with
    the recorded moments of a reference sample, "none" leaves the exercise to
    the grader (the default with a ``check``, which may accept other answers
    than the reference's).
    """

    def __post_init__(self) -> None:
        if self.handout not in (None, "outputs", "moments", "none"):
            raise ValueError(f"{self.name}: handout must be 'outputs', 'moments' or 'none', got {self.handout!r}")

    @property
    def handout_mode(self) -> str:
        return self.handout or ("outputs" if self.check is None else "none")

    name: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], Sequence[Case]]
    names: tuple[str, ...] | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    mistakes: tuple[Mistake, ...] = ()
    check: Callable[[dict[str, Any], list[np.ndarray]], Comparison] | None = None
    may_change: tuple[str, ...] = ()
    repeat: bool = True
    handout: str | None = None
    float64: bool = False

    # -- cases ------------------------------------------------------------------------

    def case_data(self, seed: int) -> list[dict[str, Any]]:
        """The cases for ``seed`` as plain data, ready to be encoded for the kernel."""
        rng = np.random.default_rng(seed)
        return [{**c.to_data(), "repeat": self.repeat} for c in self.cases(rng)]

    def seeded_cases(self, seed: int) -> list[dict[str, Any]]:
        """The cases for ``seed``, as they cross the grading boundary (encoded, then decoded)."""
        return [protocol.decode(protocol.encode(c)) for c in self.case_data(seed)]

    # -- judging ------------------------------------------------------------------------

    def judge(self, case: dict[str, Any], result: Any) -> Comparison:
        """Compare one result (``{"outputs": [...]}`` or ``{"error": text}``) with the reference on ``case``.

        ``result`` may be untrusted data read from a kernel's files.
        """
        label = case.get("label") or "a case"
        verdict = judge_call(self, label, result)
        if verdict is not None:
            return verdict
        outputs = result["outputs"]
        if self.float64:
            verdict = float64_outputs(outputs, self.names)
            if not verdict.ok:
                return Comparison(False, f"{label}: {verdict.message}")
        if self.check is not None:
            verdict = self.check(copy.deepcopy(case), outputs)
            return verdict if verdict.ok else Comparison(False, f"{label}: {verdict.message}")
        return self.compare(label, outputs, self.expected(case))

    def expected(self, case: dict[str, Any]) -> list[np.ndarray]:
        """The reference's outputs on ``case``."""
        return flatten_outputs(self.reference(*_args(case), **_kwargs(case)))

    def compare(self, label: str, outputs: list[np.ndarray], expected: list[np.ndarray]) -> Comparison:
        verdict = compare_outputs(outputs, expected, names=self.names, rtol=self.rtol, atol=self.atol)
        if verdict.ok:
            return verdict
        return Comparison(False, f"{label}: {verdict.message}{_precision_hint(outputs, expected, self.names)}")

    def diagnose(self, case: dict[str, Any], result: Any) -> str:
        """The hint of the first known mistake whose output matches the result, or "".

        Only where it is a mistake: a result that is right on this case (wrong for another reason, such as an
        argument changed in place) gets no hint, and neither does a mistake that gives the right answer here
        (leaky ReLU's slope 0 when alpha is 0), since the hint would name something the student did not do.
        """
        outputs = result.get("outputs") if isinstance(result, dict) else None
        if not _arrays(outputs):
            return ""
        try:
            right = self.expected(case)
        except Exception:
            right = None

        def is_right(candidate: list[np.ndarray]) -> bool:  # within this exercise's own tolerances
            return right is not None and compare_outputs(candidate, right, rtol=self.rtol, atol=self.atol).ok

        if is_right(outputs):
            return ""
        for mistake in self.mistakes:
            try:
                with np.errstate(all="ignore"):
                    wrong = flatten_outputs(mistake.fn(*_args(case), **_kwargs(case)))
            except Exception:  # a mistake that does not apply to this case
                continue
            if is_right(wrong):
                continue
            if matches_mistake(outputs, wrong):
                return f" Likely mistake: {mistake.hint}"
        return ""


def judge_call(exercise: Any, label: str, result: Any) -> Comparison | None:
    """What is wrong with a call before its numbers are compared, or None when nothing is.

    ``exercise`` provides ``may_change`` and ``names``. Checks, in order: a result at all, an exception (a stub says
    "not implemented yet"), arguments changed in place, outputs that are not numbers, and the repeated calls (hidden
    state, an ignored generator).
    """
    if not isinstance(result, dict):
        return Comparison(False, f"{label}: no result")
    if "error" in result:
        err = str(result["error"])[:MAX_ERROR_CHARS]
        if err.startswith("NotImplementedError"):
            return Comparison(False, f"not implemented yet ({err})")
        return Comparison(False, f"{label}: your function raised {err}")
    changed = result.get("changed") or []
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return Comparison(False, f"{label}: malformed result")
    wrongly_changed = [c for c in changed if c not in exercise.may_change]
    if wrongly_changed:
        names = ", ".join(f"`{c[:40]}`" for c in wrongly_changed[:5])
        return Comparison(False, (
            f"{label}: your function changed argument {names} in place. The caller's data must stay as they "
            "were: compute into a new array (`dx = dout * mask`, not `dx = dout; dx *= mask`; "
            "`x - m`, not `x -= m`), or work on a `.copy()`."))
    if "invalid" in result:
        return Comparison(False, f"{label}: {_invalid_text(exercise.names, result)}")
    outputs = result.get("outputs")
    if not _arrays(outputs):
        return Comparison(False, f"{label}: the result is not a list of arrays")
    repeated = _judge_repeats(result, outputs)
    return None if repeated.ok else Comparison(False, f"{label}: {repeated.message}")


def _judge_repeats(result: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """The second call must repeat the first; a call with generators of another seed must not."""
    if "again" in result:
        again = result["again"]
        if not _arrays(again):
            return Comparison(False, "the result of the second call is not a list of arrays")
        if not _identical(outputs, again):
            return Comparison(False, (
                "called twice on the same inputs, your function returned different results: it keeps hidden "
                "state between calls (a mutable default argument such as config={}, a module-level variable, "
                "or np.random instead of the rng argument)."))
    if "reseeded" in result:
        reseeded = result["reseeded"]
        if not _arrays(reseeded):
            return Comparison(False, "the result of the call with another seed is not a list of arrays")
        if _identical(outputs, reseeded) and any(o.size > 1 for o in outputs):
            return Comparison(False, (
                "with a generator of another seed your function returned exactly the same result: draw the "
                "random numbers from the rng argument you are given (rng.standard_normal(...)), "
                "not from a generator of your own."))
    return Comparison(True)


def _invalid_text(names: Sequence[str] | None, result: dict[str, Any]) -> str:
    index = result.get("index")
    text = str(result.get("invalid"))[:MAX_ERROR_CHARS]
    if isinstance(index, int) and not isinstance(index, bool) and names and 0 <= index < len(names):
        name = names[index]
        if "is None" in text:
            return f"your function returned None for `{name}` (output {index + 1}): is a `return` missing?"
        return f"`{name}` (output {index + 1}) is not numbers: {text}"
    return f"what your function returned is not numbers: {text}"


def float64_outputs(outputs: list[np.ndarray], names: Sequence[str] | None) -> Comparison:
    """Every floating-point output is float64 (an exercise whose docstring requires it)."""
    for i, out in enumerate(outputs):
        if out.dtype in (np.float32, np.float16):
            name = names[i] if names and i < len(names) else f"output {i + 1}"
            return Comparison(False, (
                f"your {name} has {out.dtype} precision: this exercise needs float64 (the inputs are float64; "
                "astype(np.float32), np.float32(...) or a torch tensor's default dtype loses digits)."))
    return Comparison(True)


def matches_mistake(outputs: list[np.ndarray], wrong: list[np.ndarray]) -> bool:
    return compare_outputs(outputs, wrong, rtol=1e-6, atol=1e-9).ok


def _arrays(outputs: Any) -> bool:
    return isinstance(outputs, list) and all(isinstance(o, np.ndarray) for o in outputs)


def _identical(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc" and y.dtype.kind in "fc"))
        for x, y in zip(a, b, strict=True))


def _precision_hint(outputs: list[np.ndarray], expected: list[np.ndarray], names: Sequence[str] | None) -> str:
    """Say so when a wrong result is a float32 computation of the right one (the exercises need float64)."""
    for i, (out, exp) in enumerate(zip(outputs, expected, strict=False)):
        if out.dtype in (np.float32, np.float16) and out.shape == exp.shape:
            name = names[i] if names and i < len(names) else f"output {i + 1}"
            if compare_outputs([out], [exp], rtol=1e-3 if out.dtype == np.float16 else 2e-5, atol=1e-6).ok:
                return (f" Your {name} has {out.dtype} precision: compute in float64 (the inputs are float64; "
                        "astype(np.float32) or a torch tensor's default dtype loses digits).")
    return ""


def _args(case: dict[str, Any]) -> list[Any]:
    return copy.deepcopy(case["args"])


def _kwargs(case: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(case.get("kwargs", {}))
