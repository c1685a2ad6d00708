"""Notebook 01's least-squares exercises: the MSE, the normal equations, the MSE's gradient, gradient descent and
the Gaussian log-likelihood (I2DL lecture 2).

Edge cases: a perfect prediction (the loss is exactly 0), one sample, a square design matrix (the fit interpolates),
badly scaled columns, the optimum (the gradient is exactly 0), zero and one steps of descent, a learning rate of 0,
a very sharp noise model (sigma = 1e-3). Gradient descent is the exercise students most often write in place
(``theta = theta0; theta -= ...``): the machinery compares ``theta0`` with a pristine copy after the call.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.regression._cases import design, sizes
from dlcourse.lazy_reference import reference

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
    y = 1e6 * rng.standard_normal(5)
    cases.append(Case((y + 1e-2 * rng.standard_normal(5), y),
                      label="targets near 1e6, errors near 1e-2 (loss about 1e-4)"))
    return cases


register(Exercise(
    name="regression.mse",
    reference=reference("regression.mse"),
    cases=_mse_cases,
    names=("loss",),
    float64=True,
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
        n, d = sizes(rng, (8, 40), (1, 5))
        X = design(rng, n, d)
        y = X @ rng.standard_normal(d + 1) + 0.3 * rng.standard_normal(n)
        cases.append(Case((X, y), label=f"noisy data {k + 1} (n={n}, d={d})"))
    X = design(rng, 10, 2)
    theta = np.array([1.5, -2.0, 0.5])
    cases.append(Case((X, X @ theta), label="noise-free data (must recover theta exactly)"))
    y = rng.standard_normal(9)
    cases.append(Case((np.ones((9, 1)), y), label="a bias column only (theta must be mean(y))"))
    X = design(rng, 4, 3)
    cases.append(Case((X, rng.standard_normal(4)), label="a square X (n = d+1 = 4): the fit goes through every point"))
    X = design(rng, 12, 2) * np.array([1.0, 1000.0, 0.001])
    cases.append(Case((X, rng.standard_normal(12)), label="columns of very different scales (x1000 and x0.001)"))
    return cases


def _no_bias(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    Z = X[:, 1:]
    return np.concatenate([[0.0], np.linalg.solve(Z.T @ Z, Z.T @ y)])


register(Exercise(
    name="regression.normal_equations",
    reference=reference("regression.normal_equations"),
    cases=_normal_cases,
    names=("theta",),
    float64=True,
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
        n, d = sizes(rng, (3, 40), (1, 6))
        X = design(rng, n, d)
        cases.append(Case((X, rng.standard_normal(n), rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (n={n}, d={d})"))
    X = design(rng, 6, 2)
    theta = rng.standard_normal(3)
    cases.append(Case((X, X @ theta, theta), label="at the optimum (gradient must be 0)"))
    X = design(rng, 1, 3)
    cases.append(Case((X, rng.standard_normal(1), rng.standard_normal(4)), label="a single sample (n = 1)"))
    return cases


register(Exercise(
    name="regression.mse_gradient",
    reference=reference("regression.mse_gradient"),
    cases=_grad_cases,
    names=("dJ/dtheta",),
    float64=True,
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
        n, d = sizes(rng, (5, 30), (1, 4))
        X = design(rng, n, d)
        y = X @ rng.standard_normal(d + 1) + 0.1 * rng.standard_normal(n)
        lr = float(rng.uniform(0.01, 0.2))
        iters = int(rng.integers(2, 25))
        cases.append(Case((X, y, lr, iters, rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (lr={lr:.3f}, {iters} steps)"))
    X = design(rng, 5, 1)
    cases.append(Case((X, rng.standard_normal(5), 0.1, 0, np.array([0.5, -0.5])),
                      label="zero steps (the path is just theta0)"))
    X = design(rng, 7, 2)
    cases.append(Case((X, rng.standard_normal(7), 0.05, 1, rng.standard_normal(3)), label="a single step"))
    X = design(rng, 6, 1)
    cases.append(Case((X, rng.standard_normal(6), 0.0, 3, rng.standard_normal(2)),
                      label="learning rate 0 (theta never moves)"))
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
    float64=True,
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
    y = rng.standard_normal(6)
    cases.append(Case((y, y + 1e-3 * rng.standard_normal(6), 1e-3),
                      label="sigma = 1e-3 (a sharp density: the log-likelihood is positive)"))
    return cases


register(Exercise(
    name="regression.gaussian_log_likelihood",
    reference=reference("regression.gaussian_log_likelihood"),
    cases=_ll_cases,
    names=("log-likelihood",),
    float64=True,
    mistakes=(
        Mistake("the normalising term -n/2 log(2 pi sigma^2) is missing.",
                lambda y, y_hat, sigma: float(-np.sum((y - y_hat) ** 2) / (2 * sigma**2))),
        Mistake("divide the squared residuals by 2 sigma^2, not 2 sigma.",
                lambda y, y_hat, sigma: float(-0.5 * len(y) * np.log(2 * np.pi * sigma**2)
                                              - np.sum((y - y_hat) ** 2) / (2 * sigma))),
        Mistake("the log-likelihood of the data set is a sum over the samples, not a mean.",
                lambda y, y_hat, sigma: float(-0.5 * np.log(2 * np.pi * sigma**2)
                                              - np.mean((y - y_hat) ** 2) / (2 * sigma**2))),
    ),
))
