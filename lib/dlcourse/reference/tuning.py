"""Hyperparameter search and early stopping (I2DL lecture 6, "Training Neural Networks I"; KIOS lecture 6).

The lecture's recipe for hyperparameters: a coarse search over wide ranges, a
few epochs each, then a finer one around the best settings, judged on the
validation set. Two ways to place the trials:

- :func:`grid_search` tries every combination of a few values per
  hyperparameter ("define ranges for all parameter spaces and select points").
- :func:`random_search` draws every trial's values at random in the ranges.
  With the same number of trials it tries a new value of *every*
  hyperparameter in every trial, where a grid repeats each value many times:
  when only a few hyperparameters matter, random search explores those more
  finely (Bergstra and Bengio, "Random search for hyper-parameter
  optimization", JMLR 2012). Scales like learning rates are drawn on a log
  scale: 1e-4 to 1e-3 is as wide a step as 1e-2 to 1e-1.

Both minimise ``evaluate(params) -> float`` (a validation loss); a score that
is NaN (a run that diverged) never wins.

:func:`early_stopping` reads a validation curve the way the lecture's learning
curves are read for variance: once the validation loss stops improving while
training goes on, the network has begun to overfit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["early_stopping", "grid_search", "random_search"]

Evaluate = Callable[[np.ndarray], float]


def _best(points: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The point of the lowest score, the first on ties; NaN scores never win."""
    if np.all(np.isnan(scores)):
        raise ValueError("every score is NaN: no setting trained (lower the ranges of the learning rate)")
    return points[int(np.nanargmin(scores))].copy()


def grid_search(evaluate: Evaluate, values: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate every combination of the given values; return the best setting and every score.

    Inputs:
    - evaluate: evaluate(params) -> float, lower is better; params of shape (P,)
    - values: P one-dimensional arrays; values[p], shape (n_p,), holds the values of hyperparameter p

    Returns (best, scores):
    - best: (P,), the setting of the lowest score (the first in the row-major order of scores on ties;
      NaN scores never win)
    - scores: (n_1, ..., n_P), ``scores[i1, ..., iP] = evaluate([values[0][i1], ..., values[P-1][iP]])``
    """
    axes = [np.asarray(v, dtype=np.float64) for v in values]
    if not axes or any(a.ndim != 1 or a.size == 0 for a in axes):
        raise ValueError(f"values must be P >= 1 non-empty 1-D arrays, got shapes {[a.shape for a in axes]}")
    shape = tuple(a.size for a in axes)
    points = np.array(list(itertools.product(*axes)), dtype=np.float64)  # (n_1 ... n_P, P), row-major
    scores = np.array([float(evaluate(p.copy())) for p in points])
    return _best(points, scores), scores.reshape(shape)


def random_search(evaluate: Evaluate, low: np.ndarray, high: np.ndarray, log_scale: np.ndarray, num_trials: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``num_trials`` settings drawn at random in the box [low, high]; return the best and all.

    Every value of every trial is drawn independently: uniformly between
    ``low[p]`` and ``high[p]``, or, where ``log_scale[p]``, with its logarithm
    uniform between ``log(low[p])`` and ``log(high[p])``.

    Inputs:
    - evaluate: evaluate(params) -> float, lower is better; params of shape (P,)
    - low, high: (P,), 0 < low < high
    - log_scale: (P,) booleans
    - num_trials: T >= 1
    - rng: the numpy Generator to draw from

    Returns (best, points, scores): best (P,) (NaN scores never win; the first on ties), points (T, P) in the
    order they were tried, scores (T,) with ``scores[i] = evaluate(points[i])``.
    """
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    log_scale = np.asarray(log_scale, dtype=bool)
    if low.ndim != 1 or high.shape != low.shape or log_scale.shape != low.shape:
        raise ValueError(f"low, high and log_scale must all have shape (P,), got {low.shape}, {high.shape}, "
                         f"{log_scale.shape}")
    if not np.all((low > 0) & (low < high)):
        raise ValueError("need 0 < low < high for every hyperparameter")
    if num_trials < 1:
        raise ValueError(f"num_trials must be >= 1, got {num_trials!r}")
    u = rng.random((num_trials, low.size))  # (T, P), each value independent
    linear = low + u * (high - low)
    logarithmic = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
    points = np.clip(np.where(log_scale, logarithmic, linear), low, high)  # exp(log(high)) may round above high
    scores = np.array([float(evaluate(p.copy())) for p in points])
    return _best(points, scores), points, scores


def early_stopping(val_losses: np.ndarray, patience: int) -> tuple[int, int]:
    """Where training with early stopping ends, read from a validation curve.

    After each epoch e = 0, 1, ... the validation loss is compared with the
    best so far; a loss strictly below it is an improvement (an equal one is
    not). Training tolerates ``patience`` epochs in a row without improvement
    and stops at the next one (at the last epoch if that never comes); the
    weights of the best epoch are then restored. This is the rule of
    ``dlcourse.train.EarlyStopping(monitor="val_loss", patience=patience)``.

    Inputs:
    - val_losses: (E,) the validation loss after each epoch, finite
    - patience: an integer >= 0

    Returns (best_epoch, stop_epoch), two ints in 0..E-1.
    """
    losses = np.asarray(val_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0 or not np.all(np.isfinite(losses)):
        raise ValueError(f"val_losses must be a non-empty 1-D array of finite losses, got shape {losses.shape}")
    if isinstance(patience, bool) or int(patience) != patience or patience < 0:
        raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
    best = 0
    for epoch in range(1, losses.size):
        if losses[epoch] < losses[best]:
            best = epoch
        elif epoch - best > patience:
            return best, epoch
    return best, losses.size - 1
