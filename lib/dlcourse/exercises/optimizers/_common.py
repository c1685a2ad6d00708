"""What the exercises of notebook 03 share: the training loop that grades an update rule, and the float64 judge.

:func:`run_updates` is the twin of the function of the same name in the notebook's setup cell (the test cells grade a
student's rule through that one; the variants module proves the two agree).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare_outputs, flatten_outputs

Update = Callable[..., tuple[np.ndarray, dict[str, Any]]]
Check = Callable[[dict[str, Any], list[np.ndarray]], Comparison]


def run_updates(update: Update, w: np.ndarray, dws: np.ndarray, config: dict[str, Any] | None = None,
                keep: Sequence[str] = ()) -> np.ndarray | tuple[Any, ...]:
    """Call ``update`` once per gradient in ``dws`` (k, *w.shape), carrying the config it returns.

    The first call gets no config argument at all when ``config`` is None (as a
    training loop starts), so a mutable default ``config={}`` is used, and caught.
    Returns every new w, shape (k, *w.shape), in the dtype the rule returned;
    with ``keep``, also those entries of the config the last call returned.
    """
    ws = []
    for i, dw in enumerate(dws):
        w, config = update(w, dw) if i == 0 and config is None else update(w, dw, config)
        ws.append(np.array(w, copy=True))  # a rule may update w in place
    if not keep:
        return np.stack(ws)
    name = getattr(update, "__name__", "the rule")
    if not isinstance(config, dict):
        raise TypeError(f"{name} returned config = {type(config).__name__}, not the dict of its hyperparameters "
                        "and state")
    missing = [key for key in keep if key not in config]
    if missing:
        raise ValueError(f"the config that {name} returned has no {', '.join(map(repr, missing))}: keep every "
                         "hyperparameter (defaults filled in) and the state under the names of the docstring")
    return (np.stack(ws), *(config[key] for key in keep))


def float64_check(reference: Callable[..., Any], names: Sequence[str], *, rtol: float, atol: float) -> Check:
    """The elementwise comparison with the reference, after the notebook's policy: results in float64.

    Every docstring of notebook 03 requires float64. A float32 computation can
    agree with the reference to 1e-7, so its dtype is judged first and the
    message says what it is.
    """
    def check(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
        verdict = float32_verdict(outputs, names)
        if verdict is not None:
            return verdict
        expected = flatten_outputs(reference(*copy.deepcopy(case["args"]), **copy.deepcopy(case.get("kwargs", {}))))
        return compare_outputs(*nan_as_zero(outputs, expected), names=names, rtol=rtol, atol=atol)
    return check


def nan_as_zero(outputs: list[np.ndarray], expected: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Where the expected value is NaN (a diverged run's score) and so is the output, both become 0 for comparing.

    A NaN where a number is expected, or the other way round, stays and is reported as a difference.
    """
    out_pairs = []
    for out, exp in zip(outputs, expected, strict=False):
        if out.shape == exp.shape and exp.dtype.kind == "f" and out.dtype.kind == "f":
            both = np.isnan(out) & np.isnan(exp)
            if np.any(both):
                out, exp = np.where(both, 0.0, out), np.where(both, 0.0, exp)
        out_pairs.append((out, exp))
    return ([o for o, _ in out_pairs] + list(outputs[len(out_pairs):]),
            [e for _, e in out_pairs] + list(expected[len(out_pairs):]))


def float32_verdict(outputs: list[np.ndarray], names: Sequence[str]) -> Comparison | None:
    """A failing verdict naming the first output of float32 (or float16) precision, or None."""
    for i, out in enumerate(outputs):
        if out.dtype in (np.float32, np.float16):
            name = names[i] if i < len(names) else f"output {i + 1}"
            return Comparison(False, (
                f"your {name} has {out.dtype} precision: this exercise needs float64 (the inputs are float64; "
                "np.zeros(..., dtype=np.float32), astype(np.float32) or a torch tensor's default dtype loses digits)."))
    return None
