"""Tests of dlcourse.widgets.regression.compute: the loss surface, stability limit and polynomial fits."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.reference import regression as ref
from dlcourse.widgets.regression.compute import (
    descent_misbehaves,
    evaluate_polynomial,
    fit_polynomial,
    learning_rate_top,
    loss_surface,
    parameter_window,
    path_losses,
    polynomial_errors,
    solves_least_squares,
    stability_limit,
    unit_scale,
)


@pytest.fixture(scope="module")
def line() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 30)
    return ref.add_bias_column(x[:, None]), 2 * x + 1 + 0.3 * rng.standard_normal(30)


@pytest.fixture(scope="module")
def sine() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 40)
    y = np.sin(np.pi * x) + 0.2 * rng.standard_normal(40)
    return x[:20], y[:20], x[20:], y[20:]


def test_loss_surface_equals_the_mse_at_grid_points(line):
    X, y = line
    t0, t1 = np.linspace(-1, 3, 7), np.linspace(0, 4, 5)
    Z = loss_surface(X, y, t0, t1)
    assert Z.shape == (5, 7)  # (len(t1), len(t0)), as contour expects
    for i, j in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        assert Z[i, j] == pytest.approx(ref.mse(X @ np.array([t0[j], t1[i]]), y), rel=1e-10)


def test_path_losses_are_the_mse_at_every_step(line):
    X, y = line
    path = ref.gradient_descent(X, y, 0.1, 20, np.zeros(2))
    np.testing.assert_allclose(path_losses(X, y, path, ref.mse), np.mean((path @ X.T - y) ** 2, axis=1),
                               rtol=1e-12)


def test_stability_limit_separates_convergence_from_divergence(line):
    X, y = line
    limit = stability_limit(X)
    below = path_losses(X, y, ref.gradient_descent(X, y, 0.95 * limit, 200, np.zeros(2)), ref.mse)
    above = path_losses(X, y, ref.gradient_descent(X, y, 1.05 * limit, 200, np.zeros(2)), ref.mse)
    assert below[-1] < below[0] and above[-1] > above[0]


def test_the_window_holds_the_optimum_and_the_origin():
    lo, hi = parameter_window(np.array([3.0, -0.5]))
    assert np.all(lo < [0.0, -0.5]) and np.all(hi > [3.0, 0.0])
    np.testing.assert_allclose(hi - lo, [3.0 + 2 * 1.8, 0.5 + 2 * 1.8])  # pad = 0.6 * max(1, |θ*|)


def test_the_learning_rate_slider_reaches_past_the_stability_limit():
    for rate in (1e-3, 0.37, 1.0, 45.0):
        top = learning_rate_top(rate)
        assert 3 * rate <= top < 3 * rate * 10**0.5 + 1e-12
        assert np.log10(top) * 2 == pytest.approx(round(np.log10(top) * 2))  # on a half decade


def test_training_error_does_not_increase_with_degree(sine):
    x_train, y_train, x_val, y_val = (unit_scale(a, -1, 1) for a in sine)
    train, val = polynomial_errors(x_train, y_train, x_val, y_val, 15)
    assert train.shape == val.shape == (16,)
    # Nested least-squares models: more features never fit the training set worse.
    assert np.all(np.diff(train) <= 1e-9 * train[0])
    assert val[15] > val.min()  # and degree 15 overfits


def test_polynomial_errors_are_the_mse_of_each_fit(sine):
    x_train, y_train, x_val, y_val = (unit_scale(a, -1, 1) for a in sine)
    train, val = polynomial_errors(x_train, y_train, x_val, y_val, 4, 1e-3, ref.normal_equations)
    theta = fit_polynomial(x_train, y_train, 3, 1e-3, ref.normal_equations)
    assert train[3] == pytest.approx(ref.mse(ref.polynomial_features(x_train, 3) @ theta, y_train), rel=1e-12)
    assert val[3] == pytest.approx(ref.mse(ref.polynomial_features(x_val, 3) @ theta, y_val), rel=1e-12)


def test_ridge_fit_equals_its_closed_form(sine):
    x, y = unit_scale(sine[0], -1, 1), sine[1]
    degree, ridge = 5, 1e-2
    Phi = ref.polynomial_features(x, degree)
    D = np.diag([0.0] + [1.0] * degree)  # the bias is not penalised
    expected = np.linalg.solve(Phi.T @ Phi + len(x) * ridge * D, Phi.T @ y)
    np.testing.assert_allclose(fit_polynomial(x, y, degree, ridge), expected, rtol=1e-8)
    np.testing.assert_allclose(fit_polynomial(x, y, degree, ridge, ref.normal_equations),
                               expected, rtol=1e-8)
    np.testing.assert_allclose(evaluate_polynomial(x, expected), Phi @ expected, rtol=1e-12)


def test_unit_scale_maps_the_ends_onto_minus_one_and_one():
    np.testing.assert_allclose(unit_scale(np.array([2.0, 3.0, 4.0]), 2.0, 4.0), [-1.0, 0.0, 1.0])


def test_correct_descent_below_the_limit_never_misbehaves(line):
    X, y = line
    limit = stability_limit(X)
    rng = np.random.default_rng(2)
    for lr in np.geomspace(1e-4 * limit, 0.999 * limit, 15):
        start = 3 * rng.standard_normal(2)
        path = ref.gradient_descent(X, y, lr, 200, start)
        assert not descent_misbehaves(X, y, path, start, lr, limit), lr
    theta_star = np.linalg.lstsq(X, y, rcond=None)[0]  # starting at the optimum: it stays there
    assert not descent_misbehaves(X, y, ref.gradient_descent(X, y, 0.5 * limit, 20, theta_star), theta_star,
                                  0.5 * limit, limit)
    exact = X @ np.array([1.0, -2.0])  # noise-free: the minimum is 0
    assert not descent_misbehaves(X, exact, ref.gradient_descent(X, exact, 0.5 * limit, 200, np.zeros(2)),
                                  np.zeros(2), 0.5 * limit, limit)


def test_wrong_descent_below_the_limit_misbehaves(line):
    X, y = line
    limit, start = stability_limit(X), np.array([0.5, -1.0])
    climbing = ref.gradient_descent(X, y, -0.1 * limit, 10, start)  # a flipped sign
    assert descent_misbehaves(X, y, climbing, start, 0.1 * limit, limit)
    one = ref.gradient_descent(X, y, 0.1 * limit, 1, start)  # every step from theta0 again: it stands still
    assert descent_misbehaves(X, y, np.vstack([one, one[1:], one[1:]]), start, 0.1 * limit, limit)
    good = ref.gradient_descent(X, y, 0.1 * limit, 5, start)
    assert descent_misbehaves(X, y, good[1:], start, 0.1 * limit, limit)  # theta0 missing from the path
    # Above the limit nothing is claimed: correct descent diverges there too.
    assert not descent_misbehaves(X, y, climbing, start, 1.5 * limit, limit)


def test_solves_least_squares_accepts_ill_conditioned_solves_and_rejects_wrong_formulas(sine):
    x, y = unit_scale(sine[0], -1, 1), sine[1]
    Phi = ref.polynomial_features(x, 15)  # degree 15 on 20 points: X^T X is nearly singular
    Phi_aug = np.vstack([Phi, np.sqrt(20 * 1e-8) * np.eye(16)[1:]])  # the view's smallest ridge
    y_aug = np.concatenate([y, np.zeros(15)])
    by_inverse = np.linalg.inv(Phi_aug.T @ Phi_aug) @ Phi_aug.T @ y_aug
    assert solves_least_squares(Phi_aug, y_aug, by_inverse)
    assert solves_least_squares(Phi_aug, y_aug, np.linalg.lstsq(Phi_aug, y_aug, rcond=None)[0])
    X = ref.polynomial_features(x, 3)
    theta = ref.normal_equations(X, y)
    assert not solves_least_squares(X, y, theta / 20)
    assert not solves_least_squares(X, y, np.concatenate([[0.0], theta[1:]]))
