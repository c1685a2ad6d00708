"""Graded exercises of notebook 01_regression (I2DL lecture 2, "Machine Learning Basics").

Each exercise draws random cases of varied sizes plus fixed edge cases; the
mistakes are what students really write, used to explain a failure.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference


def _design(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return np.hstack([np.ones((n, 1)), rng.standard_normal((n, d))])


# -- mse ----------------------------------------------------------------------

def _mse_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(4):
        n = int(rng.integers(2, 60))
        y = rng.standard_normal(n) * 3
        cases.append(Case((y + rng.standard_normal(n), y), label=f"random case {k + 1} (n={n})"))
    y = rng.standard_normal(7)
    cases.append(Case((y.copy(), y), label="a perfect prediction (loss must be 0)"))
    cases.append(Case((np.array([2.5]), np.array([-1.0])), label="a single sample"))
    return cases


register(Exercise(
    name="regression.mse",
    reference=reference("regression.mse"),
    cases=_mse_cases,
    names=("loss",),
    mistakes=(
        Mistake("you summed the squared errors; J is their mean (divide by n).",
                lambda y_hat, y: float(np.sum((y_hat - y) ** 2))),
        Mistake("you took a square root: that is the RMSE, not the MSE.",
                lambda y_hat, y: float(np.sqrt(np.mean((y_hat - y) ** 2)))),
        Mistake("you averaged absolute errors (MAE); the errors must be squared.",
                lambda y_hat, y: float(np.mean(np.abs(y_hat - y)))),
    ),
))


# -- normal equations -------------------------------------------------------------

def _normal_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        n, d = int(rng.integers(8, 40)), int(rng.integers(1, 5))
        X = _design(rng, n, d)
        y = X @ rng.standard_normal(d + 1) + 0.3 * rng.standard_normal(n)
        cases.append(Case((X, y), label=f"noisy data {k + 1} (n={n}, d={d})"))
    X = _design(rng, 10, 2)
    theta = np.array([1.5, -2.0, 0.5])
    cases.append(Case((X, X @ theta), label="noise-free data (must recover theta exactly)"))
    y = rng.standard_normal(9)
    cases.append(Case((np.ones((9, 1)), y), label="a bias column only (theta must be mean(y))"))
    return cases


def _no_bias(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    Z = X[:, 1:]
    return np.concatenate([[0.0], np.linalg.solve(Z.T @ Z, Z.T @ y)])


register(Exercise(
    name="regression.normal_equations",
    reference=reference("regression.normal_equations"),
    cases=_normal_cases,
    names=("theta",),
    rtol=1e-6,
    atol=1e-8,
    mistakes=(
        Mistake("you divided by n: the 1/n of the loss cancels when the gradient is set to 0.",
                lambda X, y: np.linalg.solve(X.T @ X, X.T @ y) / X.shape[0]),
        Mistake("the first column of X is the bias; fit all columns, including it.", _no_bias),
    ),
))


# -- gradient of the MSE -------------------------------------------------------------

def _grad_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(4):
        n, d = int(rng.integers(3, 40)), int(rng.integers(1, 6))
        X = _design(rng, n, d)
        cases.append(Case((X, rng.standard_normal(n), rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (n={n}, d={d})"))
    X = _design(rng, 6, 2)
    theta = rng.standard_normal(3)
    cases.append(Case((X, X @ theta, theta), label="at the optimum (gradient must be 0)"))
    return cases


register(Exercise(
    name="regression.mse_gradient",
    reference=reference("regression.mse_gradient"),
    cases=_grad_cases,
    names=("dJ/dtheta",),
    mistakes=(
        Mistake("the factor 2 from differentiating the square is missing.",
                lambda X, y, theta: X.T @ (X @ theta - y) / X.shape[0]),
        Mistake("the 1/n of the mean is missing.",
                lambda X, y, theta: 2 * X.T @ (X @ theta - y)),
        Mistake("the sign is flipped: the residual is X theta - y, not y - X theta.",
                lambda X, y, theta: 2 / X.shape[0] * X.T @ (y - X @ theta)),
    ),
))


# -- gradient descent -------------------------------------------------------------

def _gd_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        n, d = int(rng.integers(5, 30)), int(rng.integers(1, 4))
        X = _design(rng, n, d)
        y = X @ rng.standard_normal(d + 1) + 0.1 * rng.standard_normal(n)
        lr = float(rng.uniform(0.01, 0.2))
        iters = int(rng.integers(1, 25))
        cases.append(Case((X, y, lr, iters, rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (lr={lr:.3f}, {iters} steps)"))
    X = _design(rng, 5, 1)
    cases.append(Case((X, rng.standard_normal(5), 0.1, 0, np.array([0.5, -0.5])),
                      label="zero steps (the path is just theta0)"))
    return cases


def _gd_plus(X, y, learning_rate, num_iters, theta0):
    path = [np.array(theta0, dtype=float)]
    for _ in range(num_iters):
        t = path[-1]
        path.append(t + learning_rate * 2 / X.shape[0] * X.T @ (X @ t - y))
    return np.array(path)


def _gd_from_start(X, y, learning_rate, num_iters, theta0):
    path = [np.array(theta0, dtype=float)]
    for _ in range(num_iters):
        path.append(theta0 - learning_rate * 2 / X.shape[0] * X.T @ (X @ theta0 - y))
    return np.array(path)


register(Exercise(
    name="regression.gradient_descent",
    reference=reference("regression.gradient_descent"),
    cases=_gd_cases,
    names=("path",),
    rtol=1e-6,
    atol=1e-8,
    mistakes=(
        Mistake("you step up the gradient: theta must move by MINUS learning_rate * gradient.", _gd_plus),
        Mistake("every step starts again from theta0: use the theta of the previous step.", _gd_from_start),
    ),
))


# -- Gaussian log-likelihood -------------------------------------------------------

def _ll_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(4):
        n = int(rng.integers(1, 50))
        y = rng.standard_normal(n)
        cases.append(Case((y, y + rng.standard_normal(n) * 0.5, float(rng.uniform(0.2, 3.0))),
                          label=f"random case {k + 1} (n={n})"))
    y = rng.standard_normal(4)
    cases.append(Case((y, y.copy(), 1.0), label="a perfect fit (only the normalising term is left)"))
    return cases


register(Exercise(
    name="regression.gaussian_log_likelihood",
    reference=reference("regression.gaussian_log_likelihood"),
    cases=_ll_cases,
    names=("log-likelihood",),
    mistakes=(
        Mistake("the normalising term -n/2 log(2 pi sigma^2) is missing.",
                lambda y, y_hat, sigma: float(-np.sum((y - y_hat) ** 2) / (2 * sigma**2))),
        Mistake("divide the squared residuals by 2 sigma^2, not 2 sigma.",
                lambda y, y_hat, sigma: float(-0.5 * len(y) * np.log(2 * np.pi * sigma**2)
                                              - np.sum((y - y_hat) ** 2) / (2 * sigma))),
    ),
))


# -- sigmoid ------------------------------------------------------------------------

def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((rng.standard_normal(int(rng.integers(1, 30))) * 4,), label="a random vector"),
        Case((rng.standard_normal((3, 5)) * 2,), label="a 3x5 matrix (keep the shape)"),
        Case((np.array([-800.0, -40.0, 0.0, 40.0, 800.0]),), label="very large |z| (no NaN allowed)"),
    ]


register(Exercise(
    name="regression.sigmoid",
    reference=reference("regression.sigmoid"),
    cases=_sigmoid_cases,
    names=("sigmoid(z)",),
    rtol=1e-7,
    atol=1e-12,
    mistakes=(
        Mistake("the sign in the exponent is flipped: sigmoid(z) = 1 / (1 + exp(-z)).",
                lambda z: 1 / (1 + np.exp(np.clip(z, -700, 700)))),
    ),
))


# -- logistic regression loss and gradient -------------------------------------------

def _logistic_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(4):
        n, d = int(rng.integers(4, 40)), int(rng.integers(1, 5))
        X = _design(rng, n, d)
        cases.append(Case((X, rng.integers(0, 2, n).astype(np.float64), rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (n={n}, d={d})"))
    X = _design(rng, 6, 1)
    cases.append(Case((X, np.zeros(6), np.zeros(2)), label="theta = 0 (the loss must be log 2)"))
    return cases


def _bce_sum_grad(X, y, theta):
    p = 1 / (1 + np.exp(-(X @ theta)))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), X.T @ (p - y)


def _bce_wrong_sign(X, y, theta):
    p = 1 / (1 + np.exp(-(X @ theta)))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), X.T @ (y - p) / len(y)


register(Exercise(
    name="regression.logistic_loss_and_gradient",
    reference=reference("regression.logistic_loss_and_gradient"),
    cases=_logistic_cases,
    names=("loss", "gradient"),
    mistakes=(
        Mistake("the gradient is missing the 1/n of the mean.", _bce_sum_grad),
        Mistake("the gradient's sign is flipped: it is X^T (p - y) / n.", _bce_wrong_sign),
    ),
))
