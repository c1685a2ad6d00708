"""Tests of the tests for 01_regression: wrong implementations are rejected, other
correct ones accepted, by the notebook's own graded test cells (as a student and as the grader)."""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("01_regression")

NOTEBOOK = REPO / "solutions" / "01_regression" / "01_regression.ipynb"

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "mse": ("mse", "test_mse", [
        Variant("sum instead of mean", "def mse(y_hat, y):\n    return float(np.sum((y_hat - y) ** 2))"),
        Variant("root mean square", "def mse(y_hat, y):\n    return float(np.sqrt(np.mean((y_hat - y) ** 2)))"),
        Variant("array, not a number", "def mse(y_hat, y):\n    return (y_hat - y) ** 2"),
    ], [
        Variant("a Python loop", (
            "def mse(y_hat, y):\n"
            "    total = 0.0\n"
            "    for a, b in zip(y_hat, y):\n"
            "        total += (a - b) ** 2\n"
            "    return total / len(y)")),
        Variant("a dot product", "def mse(y_hat, y):\n    r = y_hat - y\n    return r @ r / r.size"),
    ]),
    "normal_equations": ("normal_equations", "test_normal_equations", [
        Variant("divided by n", "def normal_equations(X, y):\n    return np.linalg.solve(X.T @ X, X.T @ y) / len(y)"),
        Variant("missing transpose", "def normal_equations(X, y):\n    return np.linalg.inv(X.T @ X) @ X @ y"),
        Variant("bias column left out", (
            "def normal_equations(X, y):\n"
            "    Z = X[:, 1:]\n"
            "    return np.concatenate([[0.0], np.linalg.solve(Z.T @ Z, Z.T @ y)])")),
    ], [
        Variant("explicit inverse", "def normal_equations(X, y):\n    return np.linalg.inv(X.T @ X) @ X.T @ y"),
        Variant("lstsq", "def normal_equations(X, y):\n    return np.linalg.lstsq(X, y, rcond=None)[0]"),
        Variant("pseudo-inverse", "def normal_equations(X, y):\n    return np.linalg.pinv(X) @ y"),
    ]),
    "mse_gradient": ("mse_gradient", "test_mse_gradient", [
        Variant("factor 2 missing", "def mse_gradient(X, y, theta):\n    return X.T @ (X @ theta - y) / len(y)"),
        Variant("sign flipped", "def mse_gradient(X, y, theta):\n    return 2 / len(y) * X.T @ (y - X @ theta)"),
        Variant("1/n missing", "def mse_gradient(X, y, theta):\n    return 2 * X.T @ (X @ theta - y)"),
    ], [
        Variant("loop over samples", (
            "def mse_gradient(X, y, theta):\n"
            "    g = np.zeros_like(theta, dtype=float)\n"
            "    for xi, yi in zip(X, y):\n"
            "        g += 2 * (xi @ theta - yi) * xi\n"
            "    return g / len(y)")),
    ]),
    "gradient_descent": ("gradient_descent", "test_gradient_descent", [
        Variant("steps uphill", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0):\n"
            "    path = [theta0.astype(float)]\n"
            "    for _ in range(num_iters):\n"
            "        path.append(path[-1] + learning_rate * mse_gradient(X, y, path[-1]))\n"
            "    return np.array(path)")),
        Variant("always from theta0", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0):\n"
            "    path = [theta0.astype(float)]\n"
            "    for _ in range(num_iters):\n"
            "        path.append(theta0 - learning_rate * mse_gradient(X, y, theta0))\n"
            "    return np.array(path)")),
        Variant("start point missing from the path", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0):\n"
            "    theta, path = theta0.astype(float), []\n"
            "    for _ in range(num_iters):\n"
            "        theta = theta - learning_rate * mse_gradient(X, y, theta)\n"
            "        path.append(theta)\n"
            "    return np.array(path)")),
    ], [
        Variant("preallocated, own gradient", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0):\n"
            "    path = np.zeros((num_iters + 1, len(theta0)))\n"
            "    path[0] = theta0\n"
            "    for k in range(num_iters):\n"
            "        t = path[k]\n"
            "        path[k + 1] = t - learning_rate * 2 * X.T @ (X @ t - y) / X.shape[0]\n"
            "    return path")),
    ]),
    "gaussian_log_likelihood": ("gaussian_log_likelihood", "test_gaussian_log_likelihood", [
        Variant("constant term missing", (
            "def gaussian_log_likelihood(y, y_hat, sigma):\n"
            "    return float(-np.sum((y - y_hat) ** 2) / (2 * sigma ** 2))")),
        Variant("sigma not squared", (
            "def gaussian_log_likelihood(y, y_hat, sigma):\n"
            "    return float(-len(y) / 2 * np.log(2 * np.pi * sigma ** 2) - np.sum((y - y_hat) ** 2) / (2 * sigma))")),
        Variant("mean instead of sum", (
            "def gaussian_log_likelihood(y, y_hat, sigma):\n"
            "    return float(np.mean(-0.5 * np.log(2 * np.pi * sigma ** 2) - (y - y_hat) ** 2 / (2 * sigma ** 2)))")),
    ], [
        Variant("log of the product of densities", (
            "def gaussian_log_likelihood(y, y_hat, sigma):\n"
            "    dens = np.exp(-(y - y_hat) ** 2 / (2 * sigma ** 2)) / np.sqrt(2 * np.pi * sigma ** 2)\n"
            "    return float(np.sum(np.log(dens)))")),
        Variant("scipy.stats", (
            "def gaussian_log_likelihood(y, y_hat, sigma):\n"
            "    from scipy.stats import norm\n"
            "    return norm.logpdf(y, loc=y_hat, scale=sigma).sum()")),
    ]),
    "sigmoid": ("sigmoid", "test_sigmoid", [
        Variant("sign flipped", "def sigmoid(z):\n    return 1 / (1 + np.exp(z))"),
        Variant("unstable: nan for large z", "def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))"),
    ], [
        Variant("textbook formula (warns on overflow)", "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"),
        Variant("via tanh", "def sigmoid(z):\n    return 0.5 * (1 + np.tanh(z / 2))"),
        Variant("scipy.special.expit", "def sigmoid(z):\n    from scipy.special import expit\n    return expit(z)"),
    ]),
    "logistic": ("logistic_loss_and_gradient", "test_logistic", [
        Variant("gradient without 1/n", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = sigmoid(X @ theta)\n"
            "    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return loss, X.T @ (p - y)")),
        Variant("gradient sign flipped", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = sigmoid(X @ theta)\n"
            "    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return loss, X.T @ (y - p) / len(y)")),
        Variant("loss summed, not averaged", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = sigmoid(X @ theta)\n"
            "    loss = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return loss, X.T @ (p - y) / len(y)")),
    ], [
        Variant("textbook cross entropy", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = 1 / (1 + np.exp(-(X @ theta)))\n"
            "    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return float(loss), X.T @ (p - y) / X.shape[0]")),
        Variant("loop over samples", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    loss, grad = 0.0, np.zeros(X.shape[1])\n"
            "    for xi, yi in zip(X, y):\n"
            "        p = sigmoid(xi @ theta)\n"
            "        loss -= yi * np.log(p) + (1 - yi) * np.log(1 - p)\n"
            "        grad += (p - yi) * xi\n"
            "    return loss / len(y), grad / len(y)")),
    ]),
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
