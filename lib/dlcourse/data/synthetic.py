"""Synthetic data sets for pictures: noisy 1-D regression curves and 2-D classification sets.

Used by notebooks 01 (linear and polynomial regression, under- and overfitting,
logistic regression) and 02 (a two-layer network bends the decision boundary),
and by the views of those notebooks in ``dlcourse.widgets``.
"""

from __future__ import annotations

import numpy as np

from dlcourse.data._validate import Pair, Seed, check_choice, check_noise, check_positive

__all__ = ["make_classification_2d", "make_regression_1d"]


def make_regression_1d(
    n: int = 100, noise: float = 0.1, seed: Seed = 0, kind: str = "linear"
) -> Pair:
    """Noisy samples of a 1-D function, x uniform in [-1, 1] (unsorted).

    kind: 'linear' (y = 2x + 1), 'sine' (y = sin(πx), Bishop's curve-fitting
    example) or 'cubic' (y = 2x^3 - x); ``noise`` is the std of the Gaussian
    noise added to y. Used in notebook 01 (linear regression, and under- and
    overfitting as the polynomial degree grows). Returns x (n,), y (n,) float64.
    """
    check_positive("n", n)
    check_choice("kind", kind, ("linear", "sine", "cubic"))
    check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n)
    f = {"linear": 2 * x + 1, "sine": np.sin(np.pi * x), "cubic": 2 * x**3 - x}[kind]
    return x, f + noise * rng.standard_normal(n)


def make_classification_2d(
    n: int = 200, kind: str = "blobs", noise: float = 0.2, seed: Seed = 0, classes: int = 2
) -> Pair:
    """Points in the plane for decision-boundary pictures, classes as balanced as n allows.

    kind: 'blobs' (centres on the unit circle), 'moons' (two interleaved half
    circles, 2 classes only), 'circles' (concentric rings of radius k/K) or
    'spiral' (CS231n's K-armed spiral); ``noise`` is the std of the Gaussian
    jitter added to every point. Used in notebooks 01 (logistic regression)
    and 02 (a two-layer net bends the boundary).
    Returns X (n, 2) float64, y (n,) int64 in 0..classes-1, shuffled.
    """
    check_positive("n", n)
    check_choice("kind", kind, ("blobs", "moons", "circles", "spiral"))
    check_noise(noise)
    if int(classes) != classes or classes < 2 or (kind == "moons" and classes != 2):
        raise ValueError(f"classes must be an integer >= 2 (exactly 2 for moons), got {classes!r}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), [n // classes + (k < n % classes) for k in range(classes)])
    t = rng.uniform(size=n)  # where on its class's curve each point sits
    if kind == "blobs":
        angle = 2 * np.pi * y / classes
        X = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    elif kind == "moons":  # the construction of sklearn.datasets.make_moons
        a = np.pi * t
        upper = np.stack([np.cos(a), np.sin(a)], axis=1)
        X = np.where(y[:, None] == 0, upper, [1.0, 0.5] - upper)
    elif kind == "circles":
        a, r = 2 * np.pi * t, (y + 1) / classes
        X = r[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1)
    else:  # spiral: radius grows with t while the angle sweeps 4 radians
        a = 2 * np.pi * y / classes + 4 * t
        X = t[:, None] * np.stack([np.sin(a), np.cos(a)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)
