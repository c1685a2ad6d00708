"""Notebook 03's reading of a learning curve: ``early_stopping`` (I2DL lecture 6, "Learning Curves").

The answer is two integer epochs (best, stop), recorded as one array of two and judged exactly; the rule is the one of
``dlcourse.train.EarlyStopping``. Edges: patience 0 (stop at the first epoch without improvement), an exact tie (an
equal loss is no improvement), a curve still falling at its end (never stops early: the underfitting curve), a
curve that only rises (the best is epoch 0), patience longer than the curve, a single epoch, an improvement that
comes just in time, and a better loss after the stop (it must not count).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference


def _curve(rng: np.random.Generator, epochs: int) -> np.ndarray:
    """A validation curve that falls, then turns up as the network overfits, with noise; rounded, so ties occur."""
    t = np.arange(epochs)
    turn = rng.uniform(0.3, 0.9) * epochs
    return np.round(1.5 / (1 + 0.3 * t) + 0.02 * np.maximum(t - turn, 0) + 0.03 * rng.standard_normal(epochs), 2)


def _cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        epochs, patience = int(rng.integers(8, 60)), int(rng.integers(0, 8))
        cases.append(Case((_curve(rng, epochs), patience),
                          label=f"random case {i + 1}: a curve of {epochs} epochs, patience {patience}"))
    cases.extend([
        Case((np.array([1.0, 0.8, 0.8, 0.9, 0.7, 0.75]), 0), label="patience 0, and an equal loss is no improvement"),
        Case((np.array([1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77, 0.6]), 2),
             label="0.7 at epoch 4 comes just in time; 0.6 at epoch 8 comes after the stop and must not count"),
        Case((np.linspace(2.0, 0.5, 12), 3), label="a curve still falling at its end: training never stops early"),
        Case((np.linspace(0.5, 2.0, 10), 4), label="a curve that only rises: epoch 0 is the best"),
        Case((np.array([0.9, 0.95, 1.0]), 10), label="patience longer than the curve"),
        Case((np.array([0.3]), 1), label="a single epoch"),
        Case((np.array([0.5, 0.5, 0.5, 0.5]), 1), label="a flat curve: no epoch improves on epoch 0"),
    ])
    return cases


def _wrong(ties: bool = False, off_by_one: int = 0, best_overall: bool = False):
    def early_stopping(val_losses, patience):
        best, stop = 0, len(val_losses) - 1
        for epoch in range(1, len(val_losses)):
            if val_losses[epoch] < val_losses[best] or (ties and val_losses[epoch] == val_losses[best]):
                best = epoch
            elif epoch - best > patience + off_by_one:
                stop = epoch
                break
        if best_overall:
            best = int(np.argmin(val_losses))
        return best, stop
    return early_stopping


def _check(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """Two integer epochs, exactly; the message names which of them is off."""
    expected = np.asarray(reference("tuning.early_stopping")(*copy.deepcopy(case["args"])))
    got = outputs[0] if len(outputs) == 1 else None
    if got is None or got.shape != (2,):
        shapes = [o.shape for o in outputs]
        return Comparison(False, f"expected two epochs, (best_epoch, stop_epoch); your function returned {shapes}.")
    wrong = [f"{name} {int(g) if float(g).is_integer() else float(g)}, expected {int(e)}"
             for name, g, e in zip(("best_epoch", "stop_epoch"), got, expected, strict=True) if g != e]
    return Comparison(not wrong, "; ".join(wrong) + ".")


register(Exercise(
    name="optimizers.early_stopping",
    reference=reference("tuning.early_stopping"),
    cases=_cases,
    names=("(best_epoch, stop_epoch)",),
    rtol=0.0,
    atol=0.0,
    check=_check,
    handout="outputs",
    mistakes=(
        Mistake("an equal loss is no improvement: only a loss strictly below the best so far resets the count.",
                _wrong(ties=True)),
        Mistake("you stop one epoch early: training goes on through `patience` epochs without improvement and "
                "stops at the next one (with patience 0, at the first epoch that does not improve).",
                _wrong(off_by_one=-1)),
        Mistake("you stop one epoch late: with patience 0 training stops at the first epoch that does not improve.",
                _wrong(off_by_one=1)),
        Mistake("the best epoch is the best one training has SEEN, up to the stop: a lower loss after the stop was "
                "never computed.", _wrong(best_overall=True)),
    ),
))
