"""Sequence tasks for recurrent networks and attention, generated from a seed.

Used by notebook 07 (the adding problem and sine waves: vanilla RNN against
LSTM) and notebook 08 (copy, reverse and sort: toy sequence-to-sequence tasks
for attention and transformers).
"""

from __future__ import annotations

import numpy as np

from dlcourse.data._validate import Pair, Seed, check_noise, check_positive

__all__ = ["adding_problem", "copy_task", "reverse_task", "sine_sequences", "sort_task"]


def adding_problem(n: int = 1000, T: int = 50, seed: Seed = 0) -> Pair:
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): a long-memory test.

    Each step carries a value uniform in [0, 1] and a marker; exactly two
    markers are 1, one in each half of the sequence, and the target is the sum
    of the two marked values. Always predicting 1 gives MSE 1/6, the bar to beat.
    Used in notebook 07 (vanilla RNN vs LSTM). Returns X (n, T, 2), y (n,).
    """
    check_positive("n", n)
    if int(T) != T or T < 2:
        raise ValueError(f"T must be an integer >= 2 (one marker per half), got {T!r}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, T))
    rows = np.arange(n)
    first, second = rng.integers(0, T // 2, size=n), rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    markers[rows, first] = markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1)  # (n, T, 2): value, marker
    return X, values[rows, first] + values[rows, second]


def _tokens(n: int, T: int, vocab: int, seed: Seed) -> np.ndarray:
    """Random int64 tokens (n, T) in 0..vocab-1, the inputs of the three toy seq2seq tasks."""
    check_positive("n", n)
    check_positive("T", T)
    if int(vocab) != vocab or vocab < 2:
        raise ValueError(f"vocab must be an integer >= 2, got {vocab!r}")
    return np.random.default_rng(seed).integers(0, vocab, size=(n, T), dtype=np.int64)


# Three toy sequence-to-sequence tasks of notebook 08 (attention and transformers).
# Each returns inputs (n, T) and targets (n, T), int64 tokens in 0..vocab-1.


def copy_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input (notebook 08: the easiest check that a model trains)."""
    X = _tokens(n, T, vocab, seed)
    return X, X.copy()


def reverse_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input reversed (notebook 08: attention learns to look at T-1-t)."""
    X = _tokens(n, T, vocab, seed)
    return X, X[:, ::-1].copy()


def sort_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input sorted ascending (notebook 08: needs all of the input first)."""
    X = _tokens(n, T, vocab, seed)
    return X, np.sort(X, axis=1)


def sine_sequences(n: int = 1000, T: int = 50, seed: Seed = 0, noise: float = 0.0) -> Pair:
    """Sine waves with random amplitude (0.5-1.5), period (10-40 steps) and phase.

    The target at step t is the input at step t+1 (next-step prediction);
    ``noise`` (std) is added before the shift, so ``y[:, t] == X[:, t+1]``.
    Used in notebook 07 (RNN/LSTM regression). Returns X (n, T, 1), y (n, T, 1).
    """
    check_positive("n", n)
    check_positive("T", T)
    check_noise(noise)
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1))
    period = rng.uniform(10.0, 40.0, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    s = amplitude * np.sin(2 * np.pi * np.arange(T + 1) / period + phase)
    s = s + noise * rng.standard_normal(s.shape)  # (n, T+1)
    return s[:, :T, None], s[:, 1:, None]
