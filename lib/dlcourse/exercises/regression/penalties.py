"""Notebook 01's regularization exercises: the L1/L2-regularized MSE with its gradient, and ridge regression in
closed form (I2DL lecture 3, "Regularization").

Both leave the bias ``theta[0]`` unpenalised, so every case has a bias far from 0 (a penalised bias shows). Edge
cases: weights exactly 0 with the L1 penalty (the docstring fixes sign(0) = 0 there), lam = 0 (the plain MSE; the
normal equations), the lecture's two classifiers, one sample; for ridge, more parameters than samples and a repeated
column (X^T X is singular, the penalty makes the system solvable), and lam = 1e8 (the weights vanish, the bias
becomes mean(y)).
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.regression._cases import design, sizes
from dlcourse.lazy_reference import reference

# -- the regularized loss and its gradient ------------------------------------------------------------


def _with_bias(rng: np.random.Generator, d: int) -> np.ndarray:
    theta = rng.standard_normal(d + 1)
    theta[0] = float(rng.choice([-1.0, 1.0])) * rng.uniform(1.0, 3.0)  # far from 0: a penalised bias must show
    return theta


def _regularized_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, penalty in enumerate(("l2", "l1", "l2", "l1")):
        n, d = sizes(rng, (3, 30), (1, 6))
        lam = float(rng.uniform(0.05, 2.0))
        cases.append(Case((design(rng, n, d), rng.standard_normal(n), _with_bias(rng, d), lam, penalty),
                          label=f"random case {k + 1} ({penalty}, lam={lam:.3f}, n={n}, d={d})"))
    theta = _with_bias(rng, 5)
    theta[[2, 4]] = 0.0
    cases.append(Case((design(rng, 8, 5), rng.standard_normal(8), theta, 0.5, "l1"),
                      label="l1 with theta[2] = theta[4] = 0 exactly (the kink: sign(0) = 0)"))
    cases.append(Case((design(rng, 9, 3), rng.standard_normal(9), _with_bias(rng, 3), 0.0, "l2"),
                      label="lam = 0 (the plain MSE and its gradient)"))
    X, y = np.array([[1.0, 1.0, 2.0, 1.0]]), np.array([1.5])
    for penalty in ("l2", "l1"):
        cases.append(Case((X, y, np.array([0.5, 0.25, 0.5, 0.25]), 1.0, penalty),
                          label=f"the lecture's x = [1, 2, 1], theta = [0.25, 0.5, 0.25] after a bias 0.5 ({penalty})"))
    return cases


def _wrong_regularized(penalise_bias: bool = False, l2_factor: float = 2.0, sign_at_zero: float = 0.0,
                       lam_scale: float = 1.0):
    def loss_and_gradient(X, y, theta, lam, penalty):
        w = theta.copy() if penalise_bias else np.concatenate([[0.0], theta[1:]])
        r = X @ theta - y
        if penalty == "l2":
            reg, dreg = w @ w, l2_factor * w
        else:
            reg, dreg = np.abs(w).sum(), np.where(w == 0, sign_at_zero, np.sign(w))
            if not penalise_bias:
                dreg[0] = 0.0
        return float(r @ r / len(y) + lam_scale * lam * reg), 2 / len(y) * X.T @ r + lam_scale * lam * dreg
    return loss_and_gradient


register(Exercise(
    name="regression.regularized_loss_and_gradient",
    reference=reference("regression.regularized_loss_and_gradient"),
    cases=_regularized_cases,
    names=("loss", "gradient"),
    float64=True,
    mistakes=(
        Mistake("the bias theta[0] is penalised too: the penalty sums over theta[1:] only.",
                _wrong_regularized(penalise_bias=True)),
        Mistake("the gradient of lam * theta_j^2 is 2 lam theta_j: the factor 2 is missing.",
                _wrong_regularized(l2_factor=1.0)),
        Mistake("at theta_j = 0 the docstring fixes the L1 gradient to lam * sign(0) = 0 (np.sign does it).",
                _wrong_regularized(sign_at_zero=1.0)),
        Mistake("the penalty is lam * R(theta), not lam / n * R(theta).",
                lambda X, y, theta, lam, penalty: _wrong_regularized(lam_scale=1 / len(y))(X, y, theta, lam,
                                                                                          penalty)),
    ),
))


# -- ridge regression ------------------------------------------------------------------------


def _ridge_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        n, d = sizes(rng, (6, 40), (1, 6))
        X = design(rng, n, d)
        y = X @ rng.standard_normal(d + 1) + 0.5 * rng.standard_normal(n) + 3.0  # a bias of about 3
        lam = float(10 ** rng.uniform(-2, 1))
        cases.append(Case((X, y, lam), label=f"random case {k + 1} (lam={lam:.3g}, n={n}, d={d})"))
    X = design(rng, 10, 2)
    cases.append(Case((X, rng.standard_normal(10), 0.0), label="lam = 0 (the normal equations)"))
    cases.append(Case((design(rng, 4, 6), rng.standard_normal(4) + 2.0, 0.5),
                      label="4 samples, 7 parameters (X^T X is singular; the penalty makes it solvable)"))
    X = design(rng, 9, 2)
    cases.append(Case((np.hstack([X, X[:, 1:2]]), rng.standard_normal(9) - 2.0, 0.1),
                      label="a repeated feature column (X^T X is singular)"))
    cases.append(Case((design(rng, 8, 3), rng.standard_normal(8) + 5.0, 1e8),
                      label="lam = 1e8 (the weights vanish, the bias becomes mean(y))"))
    return cases


def _ridge_with(scale: float, penalise_bias: bool = False):
    def ridge(X, y, lam):
        D = np.eye(X.shape[1])
        if not penalise_bias:
            D[0, 0] = 0.0
        return np.linalg.solve(X.T @ X + scale * X.shape[0] * lam * D, X.T @ y)
    return ridge


register(Exercise(
    name="regression.ridge_regression",
    reference=reference("regression.ridge_regression"),
    cases=_ridge_cases,
    names=("theta",),
    float64=True,
    mistakes=(
        Mistake("the bias is penalised too: the penalty, and so its term in your linear system, leaves theta[0] "
                "out.", _ridge_with(1.0, penalise_bias=True)),
        Mistake("the data term is a MEAN over n samples: multiply the zero-gradient equation by n, and the "
                "penalty's term gets a factor n next to X^T X.",
                lambda X, y, lam: _ridge_with(1.0 / X.shape[0])(X, y, lam)),
        Mistake("a factor 2 is lost: the MSE's gradient is 2/n X^T (X theta - y) and the penalty's 2 lam theta.",
                _ridge_with(0.5)),
    ),
))
