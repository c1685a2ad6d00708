"""Tests of the tests for 01_regression: wrong implementations are rejected, other
correct ones accepted, by the notebook's own graded test cells (as a student and as the grader).

Beside the mistakes of each formula, the wrong variants cover the classes of escapes that a
test can miss (docs: "exercises that catch what students really write"), and for those the
message must name the class, as a student and as the grader (``REASONS``):

* side effects: ``theta = theta0; theta -= ...``, ``y_hat -= y``, ``theta[0] = 0`` to skip the bias,
  centring ``X`` in place: right numbers, changed arguments;
* the contract: labels of the right values as floats, per-fold accuracies instead of their mean;
* edges: log(sigmoid) and log(softmax) at scores of 1000, a global instead of a per-row maximum,
  clipped probabilities, np.sign replaced by a ">= 0" test at the kink of |t|, ties in a vote,
  a singular X^T X;
* hidden state: a mutable default that accumulates over calls;
* precision: float32 computations.
"""

from __future__ import annotations

import ast

import harness
import numpy as np
import pytest
from harness import REPO, Variant

from dlcourse import exercises
from dlcourse.exercises.regression import nearest_mean
from dlcourse.graded import run_case

pytestmark = pytest.mark.notebook("01_regression")

NOTEBOOK = REPO / "solutions" / "01_regression" / "01_regression.ipynb"

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "mse": ("mse", "test_mse", [
        Variant("sum instead of mean", "def mse(y_hat, y):\n    return float(np.sum((y_hat - y) ** 2))"),
        Variant("root mean square", "def mse(y_hat, y):\n    return float(np.sqrt(np.mean((y_hat - y) ** 2)))"),
        Variant("array, not a number", "def mse(y_hat, y):\n    return (y_hat - y) ** 2"),
        Variant("subtracts in place", "def mse(y_hat, y):\n    y_hat -= y\n    return float(np.mean(y_hat ** 2))"),
        Variant("expanded square loses the digits",
                "def mse(y_hat, y):\n    return float(np.mean(y_hat ** 2 - 2 * y_hat * y + y ** 2))"),
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
        Variant("updates theta0 in place", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0):\n"
            "    theta = theta0\n"
            "    path = [theta.copy()]\n"
            "    for _ in range(num_iters):\n"
            "        theta -= learning_rate * mse_gradient(X, y, theta)\n"
            "        path.append(theta.copy())\n"
            "    return np.array(path)")),
        Variant("mutable default path", (
            "def gradient_descent(X, y, learning_rate, num_iters, theta0, path=[]):\n"
            "    path.append(np.array(theta0, dtype=float))\n"
            "    for _ in range(num_iters):\n"
            "        path.append(path[-1] - learning_rate * mse_gradient(X, y, path[-1]))\n"
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
    "regularized_loss_and_gradient": ("regularized_loss_and_gradient", "test_regularized_loss_and_gradient", [
        Variant("penalises the bias", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    r = X @ theta - y\n"
            "    reg, dreg = (theta @ theta, 2 * theta) if penalty == 'l2' else (np.abs(theta).sum(), np.sign(theta))\n"
            "    return float(r @ r / len(y) + lam * reg), 2 / len(y) * X.T @ r + lam * dreg")),
        Variant("zeroes the bias in place", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    r = X @ theta - y\n"
            "    w = theta\n"
            "    w[0] = 0.0\n"
            "    reg, dreg = (w @ w, 2 * w) if penalty == 'l2' else (np.abs(w).sum(), np.sign(w))\n"
            "    return float(r @ r / len(y) + lam * reg), 2 / len(y) * X.T @ r + lam * dreg")),
        Variant("subgradient 1 at the kink", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    r = X @ theta - y\n"
            "    w = np.concatenate([[0.0], theta[1:]])\n"
            "    if penalty == 'l2':\n"
            "        reg, dreg = w @ w, 2 * w\n"
            "    else:\n"
            "        reg, dreg = np.abs(w).sum(), np.where(w >= 0, 1.0, -1.0)\n"
            "        dreg[0] = 0.0\n"
            "    return float(r @ r / len(y) + lam * reg), 2 / len(y) * X.T @ r + lam * dreg")),
        Variant("L2 gradient without the 2", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    r = X @ theta - y\n"
            "    w = np.concatenate([[0.0], theta[1:]])\n"
            "    reg, dreg = (w @ w, w) if penalty == 'l2' else (np.abs(w).sum(), np.sign(w))\n"
            "    return float(r @ r / len(y) + lam * reg), 2 / len(y) * X.T @ r + lam * dreg")),
        Variant("penalty divided by n", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    n, r = len(y), X @ theta - y\n"
            "    w = np.concatenate([[0.0], theta[1:]])\n"
            "    reg, dreg = (w @ w, 2 * w) if penalty == 'l2' else (np.abs(w).sum(), np.sign(w))\n"
            "    return float((r @ r + lam * reg) / n), (2 * X.T @ r + lam * dreg) / n")),
    ], [
        Variant("a loop over the weights", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    r = X @ theta - y\n"
            "    loss, grad = np.mean(r ** 2), 2 * X.T @ r / len(y)\n"
            "    for j in range(1, len(theta)):\n"
            "        if penalty == 'l2':\n"
            "            loss += lam * theta[j] ** 2\n"
            "            grad[j] += 2 * lam * theta[j]\n"
            "        else:\n"
            "            loss += lam * abs(theta[j])\n"
            "            grad[j] += lam * (1 if theta[j] > 0 else -1 if theta[j] < 0 else 0)\n"
            "    return float(loss), grad")),
        Variant("a mask for the bias", (
            "def regularized_loss_and_gradient(X, y, theta, lam, penalty):\n"
            "    mask = np.ones_like(theta)\n"
            "    mask[0] = 0\n"
            "    r = X @ theta - y\n"
            "    if penalty == 'l1':\n"
            "        return np.mean(r ** 2) + lam * np.sum(mask * np.abs(theta)), "
            "2 * X.T @ r / len(y) + lam * mask * np.sign(theta)\n"
            "    return (np.mean(r ** 2) + lam * np.sum(mask * theta ** 2),\n"
            "            2 * X.T @ r / len(y) + 2 * lam * mask * theta)")),
    ]),
    "ridge_regression": ("ridge_regression", "test_ridge_regression", [
        Variant("penalises the bias", (
            "def ridge_regression(X, y, lam):\n"
            "    return np.linalg.solve(X.T @ X + len(y) * lam * np.eye(X.shape[1]), X.T @ y)")),
        Variant("lam without the n", (
            "def ridge_regression(X, y, lam):\n"
            "    D = np.eye(X.shape[1])\n"
            "    D[0, 0] = 0\n"
            "    return np.linalg.solve(X.T @ X + lam * D, X.T @ y)")),
        Variant("shrinks the least-squares fit", (
            "def ridge_regression(X, y, lam):\n"
            "    theta = np.linalg.pinv(X) @ y\n"
            "    theta[1:] /= 1 + lam\n"
            "    return theta")),
    ], [
        Variant("least squares on augmented data", (
            "def ridge_regression(X, y, lam):\n"
            "    n, p = X.shape\n"
            "    rows = np.sqrt(n * lam) * np.eye(p)[1:]\n"
            "    return np.linalg.lstsq(np.vstack([X, rows]), np.concatenate([y, np.zeros(p - 1)]), rcond=None)[0]")),
        Variant("inverse of the penalised matrix", (
            "def ridge_regression(X, y, lam):\n"
            "    A = X.T @ X\n"
            "    A[1:, 1:] += len(y) * lam * np.eye(X.shape[1] - 1)\n"
            "    return np.linalg.inv(A) @ (X.T @ y)")),
    ]),
    "knn_predict": ("knn_predict", "test_knn_predict", [
        Variant("the k farthest points", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    d = np.abs(X_query[:, None] - X_train[None]).sum(2) if distance == 'l1' else "
            "np.sqrt(((X_query[:, None] - X_train[None]) ** 2).sum(2))\n"
            "    far = np.argsort(-d, axis=1)[:, :k]\n"
            "    return np.array([np.bincount(row).argmax() for row in y_train[far]])")),
        Variant("ties go to the nearest label (Counter.most_common)", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    from collections import Counter\n"
            "    d = np.abs(X_query[:, None] - X_train[None]).sum(2) if distance == 'l1' else "
            "np.sqrt(((X_query[:, None] - X_train[None]) ** 2).sum(2))\n"
            "    near = np.argsort(d, axis=1, kind='stable')[:, :k]\n"
            "    return np.array([Counter(row.tolist()).most_common(1)[0][0] for row in y_train[near]])")),
        Variant("always L2", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    d = ((X_query[:, None] - X_train[None]) ** 2).sum(2)\n"
            "    near = np.argsort(d, axis=1, kind='stable')[:, :k]\n"
            "    return np.array([np.bincount(row).argmax() for row in y_train[near]])")),
        Variant("float labels", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    d = np.abs(X_query[:, None] - X_train[None]).sum(2) if distance == 'l1' else "
            "((X_query[:, None] - X_train[None]) ** 2).sum(2)\n"
            "    near = np.argsort(d, axis=1, kind='stable')[:, :k]\n"
            "    return np.array([np.bincount(row).argmax() for row in y_train[near]], dtype=float)")),
        Variant("k + 1 neighbours (skips the nearest as if it were the query)", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    d = np.abs(X_query[:, None] - X_train[None]).sum(2) if distance == 'l1' else "
            "((X_query[:, None] - X_train[None]) ** 2).sum(2)\n"
            "    near = np.argsort(d, axis=1, kind='stable')[:, 1:k + 1]\n"
            "    return np.array([np.bincount(row, minlength=1).argmax() if row.size else y_train[0] "
            "for row in y_train[near]])")),
    ], [
        Variant("one query at a time, np.linalg.norm", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    order = 1 if distance == 'l1' else 2\n"
            "    labels = []\n"
            "    for q in X_query:\n"
            "        d = np.linalg.norm(X_train - q, ord=order, axis=1)\n"
            "        votes = y_train[np.argsort(d, kind='stable')[:k]]\n"
            "        counts = np.bincount(votes)\n"
            "        labels.append(np.flatnonzero(counts == counts.max())[0])\n"
            "    return np.array(labels)")),
        Variant("scipy cdist and unique", (
            "def knn_predict(X_train, y_train, X_query, k, distance='l2'):\n"
            "    from scipy.spatial.distance import cdist\n"
            "    d = cdist(X_query, X_train, 'cityblock' if distance == 'l1' else 'euclidean')\n"
            "    near = np.argsort(d, axis=1, kind='mergesort')[:, :k]\n"
            "    out = np.empty(len(X_query), dtype=y_train.dtype)\n"
            "    for i, row in enumerate(y_train[near]):\n"
            "        values, counts = np.unique(row, return_counts=True)\n"
            "        out[i] = values[np.argmax(counts)]\n"
            "    return out")),
    ]),
    "cross_validate": ("cross_validate", "test_cross_validate", [
        Variant("trains on the validation fold too", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    folds = np.array_split(np.arange(len(y)), num_folds)\n"
            "    return np.array([np.mean([np.mean(predict(X, y, X[f], p) == y[f]) for f in folds])\n"
            "                     for p in params])")),
        Variant("every num_folds-th sample", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    n = len(y)\n"
            "    out = []\n"
            "    for p in params:\n"
            "        accs = []\n"
            "        for j in range(num_folds):\n"
            "            val = np.arange(j, n, num_folds)\n"
            "            train = np.setdiff1d(np.arange(n), val)\n"
            "            accs.append(np.mean(predict(X[train], y[train], X[val], p) == y[val]))\n"
            "        out.append(np.mean(accs))\n"
            "    return np.array(out)")),
        Variant("pooled accuracy", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    folds = np.array_split(np.arange(len(y)), num_folds)\n"
            "    out = []\n"
            "    for p in params:\n"
            "        correct = 0\n"
            "        for f in folds:\n"
            "            train = np.setdiff1d(np.arange(len(y)), f)\n"
            "            correct += np.sum(predict(X[train], y[train], X[f], p) == y[f])\n"
            "        out.append(correct / len(y))\n"
            "    return np.array(out)")),
        Variant("per-fold accuracies, not their mean", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    folds = np.array_split(np.arange(len(y)), num_folds)\n"
            "    return np.array([[np.mean(predict(X[np.setdiff1d(np.arange(len(y)), f)], "
            "y[np.setdiff1d(np.arange(len(y)), f)], X[f], p) == y[f]) for f in folds] for p in params])")),
        Variant("centres X in place first", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    X -= X.mean(axis=0)  # distances do not change, but the caller's X does\n"
            "    folds = np.array_split(np.arange(len(y)), num_folds)\n"
            "    acc = np.zeros((len(params), num_folds))\n"
            "    for j, f in enumerate(folds):\n"
            "        train = np.setdiff1d(np.arange(len(y)), f)\n"
            "        for i, p in enumerate(params):\n"
            "            acc[i, j] = np.mean(predict(X[train], y[train], X[f], p) == y[f])\n"
            "    return acc.mean(axis=1)")),
        Variant("totals in a mutable default", (
            "def cross_validate(predict, X, y, params, num_folds, totals={}):\n"
            "    folds = np.array_split(np.arange(len(y)), num_folds)\n"
            "    for j, f in enumerate(folds):\n"
            "        train = np.setdiff1d(np.arange(len(y)), f)\n"
            "        for i, p in enumerate(params):\n"
            "            totals[i] = totals.get(i, 0.0) + np.mean(predict(X[train], y[train], X[f], p) == y[f])\n"
            "    return np.array([totals[i] / num_folds for i in range(len(params))])")),
    ], [
        Variant("boolean masks", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    sizes = [len(f) for f in np.array_split(np.arange(len(y)), num_folds)]\n"
            "    fold_of = np.repeat(np.arange(num_folds), sizes)\n"
            "    scores = np.zeros(len(params))\n"
            "    for j in range(num_folds):\n"
            "        val = fold_of == j\n"
            "        for i, p in enumerate(params):\n"
            "            scores[i] += np.mean(predict(X[~val], y[~val], X[val], p) == y[val]) / num_folds\n"
            "    return scores")),
        Variant("fold boundaries by hand", (
            "def cross_validate(predict, X, y, params, num_folds):\n"
            "    n = len(y)\n"
            "    sizes = [n // num_folds + (1 if j < n % num_folds else 0) for j in range(num_folds)]\n"
            "    bounds = np.concatenate([[0], np.cumsum(sizes)])\n"
            "    result = []\n"
            "    for p in params:\n"
            "        accs = []\n"
            "        for a, b in zip(bounds[:-1], bounds[1:]):\n"
            "            Xtr, ytr = np.concatenate([X[:a], X[b:]]), np.concatenate([y[:a], y[b:]])\n"
            "            accs.append(np.mean(predict(Xtr, ytr, X[a:b], p) == y[a:b]))\n"
            "        result.append(sum(accs) / len(accs))\n"
            "    return np.array(result)")),
    ]),
    "sigmoid": ("sigmoid", "test_sigmoid", [
        Variant("sign flipped", "def sigmoid(z):\n    return 1 / (1 + np.exp(z))"),
        Variant("unstable: nan for large z", "def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))"),
        Variant("float32", "def sigmoid(z):\n    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float32)))"),
    ], [
        Variant("textbook formula (warns on overflow)", "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"),
        Variant("via tanh", "def sigmoid(z):\n    return 0.5 * (1 + np.tanh(z / 2))"),
        Variant("scipy.special.expit", "def sigmoid(z):\n    from scipy.special import expit\n    return expit(z)"),
    ]),
    "logistic": ("logistic_loss_and_gradient", "test_logistic", [
        Variant("gradient without 1/n", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    s = X @ theta\n"
            "    return np.mean(np.logaddexp(0, s) - y * s), X.T @ (sigmoid(s) - y)")),
        Variant("gradient sign flipped", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    s = X @ theta\n"
            "    return np.mean(np.logaddexp(0, s) - y * s), X.T @ (y - sigmoid(s)) / len(y)")),
        Variant("loss summed, not averaged", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    s = X @ theta\n"
            "    return np.sum(np.logaddexp(0, s) - y * s), X.T @ (sigmoid(s) - y) / len(y)")),
        Variant("log of the sigmoid: inf at large scores", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = sigmoid(X @ theta)\n"
            "    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return float(loss), X.T @ (p - y) / X.shape[0]")),
        Variant("clipped probabilities", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    p = np.clip(sigmoid(X @ theta), 1e-12, 1 - 1e-12)\n"
            "    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))\n"
            "    return float(loss), X.T @ (sigmoid(X @ theta) - y) / X.shape[0]")),
    ], [
        Variant("log-sigmoid of both signs", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    s = X @ theta\n"
            "    log_p, log_q = -np.logaddexp(0, -s), -np.logaddexp(0, s)  # log sigmoid(s), log(1 - sigmoid(s))\n"
            "    return float(-np.mean(y * log_p + (1 - y) * log_q)), X.T @ (sigmoid(s) - y) / X.shape[0]")),
        Variant("loop over samples", (
            "def logistic_loss_and_gradient(X, y, theta):\n"
            "    loss, grad = 0.0, np.zeros(X.shape[1])\n"
            "    for xi, yi in zip(X, y):\n"
            "        s = xi @ theta\n"
            "        loss += max(s, 0.0) + np.log1p(np.exp(-abs(s))) - yi * s\n"
            "        grad += (sigmoid(s) - yi) * xi\n"
            "    return loss / len(y), grad / len(y)")),
    ]),
    "softmax": ("softmax_loss_and_gradient", "test_softmax_loss_and_gradient", [
        Variant("gradient without 1/n", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    S = X @ Theta\n"
            "    S = S - S.max(axis=1, keepdims=True)\n"
            "    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)\n"
            "    rows = np.arange(len(y))\n"
            "    loss = np.mean(np.log(np.exp(S).sum(axis=1)) - S[rows, y])\n"
            "    P[rows, y] -= 1\n"
            "    return loss, X.T @ P")),
        Variant("one global maximum", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    S = X @ Theta\n"
            "    S = S - S.max()\n"
            "    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)\n"
            "    rows = np.arange(len(y))\n"
            "    loss = -np.mean(np.log(P[rows, y]))\n"
            "    P[rows, y] -= 1\n"
            "    return loss, X.T @ P / len(y)")),
        Variant("log of the softmax", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    S = X @ Theta\n"
            "    S = S - S.max(axis=1, keepdims=True)\n"
            "    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)\n"
            "    rows = np.arange(len(y))\n"
            "    loss = -np.mean(np.log(P[rows, y]))\n"
            "    P[rows, y] -= 1\n"
            "    return loss, X.T @ P / len(y)")),
        Variant("one-hot missing from the gradient", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    S = X @ Theta\n"
            "    S = S - S.max(axis=1, keepdims=True)\n"
            "    logZ = np.log(np.exp(S).sum(axis=1, keepdims=True))\n"
            "    rows = np.arange(len(y))\n"
            "    return -np.mean((S - logZ)[rows, y]), X.T @ np.exp(S - logZ) / len(y)")),
        Variant("float32", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    S = (X @ Theta).astype(np.float32)\n"
            "    S = S - S.max(axis=1, keepdims=True)\n"
            "    log_p = S - np.log(np.exp(S).sum(axis=1, keepdims=True))\n"
            "    rows = np.arange(len(y))\n"
            "    G = np.exp(log_p)\n"
            "    G[rows, y] -= 1\n"
            "    return -log_p[rows, y].mean(), X.astype(np.float32).T @ G / len(y)")),
    ], [
        Variant("scipy logsumexp and a one-hot matrix", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    from scipy.special import logsumexp, softmax\n"
            "    S = X @ Theta\n"
            "    Y = np.eye(Theta.shape[1])[y]\n"
            "    loss = np.mean(logsumexp(S, axis=1) - (S * Y).sum(axis=1))\n"
            "    return loss, X.T @ (softmax(S, axis=1) - Y) / len(y)")),
        Variant("loop over samples", (
            "def softmax_loss_and_gradient(X, y, Theta):\n"
            "    loss, grad = 0.0, np.zeros_like(Theta)\n"
            "    for xi, yi in zip(X, y):\n"
            "        s = xi @ Theta\n"
            "        m = s.max()\n"
            "        log_z = m + np.log(np.sum(np.exp(s - m)))\n"
            "        loss += log_z - s[yi]\n"
            "        p = np.exp(s - log_z)\n"
            "        p[yi] -= 1\n"
            "        grad += np.outer(xi, p)\n"
            "    return loss / len(y), grad / len(y)")),
    ]),
}

# What the message must say, as a student and as the grader, for the variants of a class of escapes.
REASONS = {
    "subtracts in place": "changed argument `y_hat` in place",
    "updates theta0 in place": "changed argument `theta0` in place",
    "zeroes the bias in place": "changed argument `theta` in place",
    "centres X in place first": "changed argument `X` in place",
    "mutable default path": "hidden state",
    "totals in a mutable default": "hidden state",
    "float labels": "dtype float64",
    "per-fold accuracies, not their mean": "wrong shape",
    "float32": "float32 precision",
    "log of the sigmoid: inf at large scores": "NaN or inf",
    "log of the softmax": "NaN or inf",
    "one global maximum": "NaN or inf",
    "subgradient 1 at the kink": "sign(0) = 0",
    "ties go to the nearest label (Counter.most_common)": "the smallest label",
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path, reasons=REASONS)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
    assert set(REASONS) <= {v.label for _, _, wrong, _ in VARIANTS.values() for v in wrong}


def test_a_visible_test_calls_no_other_exercises_function():
    """Doing the exercises in another order never fails with another exercise's error (issue: Exercise 4's test
    called normal_equations)."""
    nb = harness.notebook(NOTEBOOK)
    defined = {}  # solution cell -> the functions it defines
    for cell in nb.nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            defined[meta["grade_id"]] = {node.name for node in ast.parse(cell.source).body
                                         if isinstance(node, ast.FunctionDef)}
    for exercise, (solution_id, test_id, _, _) in VARIANTS.items():
        used = {node.id for node in ast.walk(ast.parse(nb.test_source(test_id))) if isinstance(node, ast.Name)}
        others = set().union(*(names for sid, names in defined.items() if sid != solution_id))
        assert not used & others, f"the test of {exercise} calls {sorted(used & others)}"


def test_every_exercise_accepts_its_reference_whatever_the_students_seed():
    """tests/lib/test_graded.py leaves out exercises with a check of their own: all of this notebook's have one."""
    for name in (n for n in exercises.all_exercises() if n.startswith("regression.")):
        exercise = exercises.get(name)
        for seed in range(12):
            for case in exercise.seeded_cases(seed):
                verdict = exercise.judge(case, run_case(exercise.reference, case))
                assert verdict.ok, f"{name}, seed {seed}: {verdict.message}"


def test_every_known_mistake_is_rejected_whatever_the_students_seed():
    """The hints name mistakes that every student's hidden cases catch, not only the seeds tried above."""
    names = [n for n in exercises.all_exercises() if n.startswith("regression.")]
    for name in names:
        exercise = exercises.get(name)
        for mistake in exercise.mistakes:
            for seed in range(12):
                cases = exercise.seeded_cases(seed)
                verdicts = [exercise.judge(case, run_case(mistake.fn, case)) for case in cases]
                assert not all(v.ok for v in verdicts), f"{name}: seed {seed} accepts '{mistake.hint}'"


def test_the_notebooks_nearest_mean_is_the_exercises():
    """The locked helper cell of cross_validate's test and the grader's reference use the same classifier."""
    source = harness.notebook(NOTEBOOK).nb.cells[harness.notebook(NOTEBOOK).cell_index("cv_helpers")].source
    namespace: dict = {"np": np}
    exec(compile(source, "cv_helpers", "exec"), namespace)
    rng = np.random.default_rng(0)
    for _ in range(20):
        X, y, X_val = rng.standard_normal((15, 4)), rng.integers(0, 3, 15), rng.standard_normal((6, 4))
        p = int(rng.integers(1, 5))
        np.testing.assert_array_equal(namespace["nearest_mean"](X, y, X_val, p), nearest_mean(X, y, X_val, p))
