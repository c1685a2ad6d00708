"""Tests of dlcourse.widgets.optimizers.compute: the surfaces, trajectories, and the softmax-regression helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient
from dlcourse.data import add_bias_column, load_digits
from dlcourse.reference import optim as ref
from dlcourse.widgets.optimizers.compute import (
    SURFACES,
    gradient_cloud,
    gradient_noise,
    minibatch_losses,
    minibatch_run,
    per_sample_gradients,
    softmax_regression_loss,
    surface_losses,
    trajectory,
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits(seed=0)
    return d.X_train, d.y_train


# -- surfaces ------------------------------------------------------------------------------

@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_surface_gradients_and_hessians_match_autograd(surface):
    rng = np.random.default_rng(0)
    for _ in range(3):
        w = np.array([rng.uniform(*surface.xlim), rng.uniform(*surface.ylim)])
        wt = torch.tensor(w, requires_grad=True)
        g = torch.autograd.grad(surface.f(wt[0], wt[1]), wt)[0].numpy()
        H = torch.autograd.functional.hessian(lambda v: surface.f(v[0], v[1]), wt.detach()).numpy()
        assert rel_error(surface.grad(w), g) < 1e-10
        assert rel_error(surface.hessian(w), H) < 1e-10
        numerical = eval_numerical_gradient(lambda v: float(surface.f(v[0], v[1])), w.copy())
        assert rel_error(surface.grad(w), numerical) < 1e-6
    for minimum in surface.minima:
        assert np.allclose(surface.grad(np.array(minimum)), 0)
        assert surface.f(*minimum) == pytest.approx(surface.f_min)


def test_trajectory_of_sgd_on_the_ravine_is_the_closed_form():
    ravine, lr = SURFACES[0], 0.1
    path = trajectory(ref.sgd, ravine, 20, {"learning_rate": lr})
    curvature = np.diag(ravine.hessian(np.zeros(2)))
    expected = np.array(ravine.start) * (1 - lr * curvature) ** np.arange(21)[:, None]
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_trajectory_stops_when_it_diverges_and_leaves_config_alone():
    config = {"learning_rate": 1.0}
    path = trajectory(ref.sgd, SURFACES[1], 50, config)  # Rosenbrock with α = 1 explodes at once
    assert path.shape == (51, 2) and np.isnan(path[-1]).all() and np.isfinite(path[0]).all()
    assert config == {"learning_rate": 1.0}
    losses = surface_losses(SURFACES[1], path)
    assert np.isnan(losses[-1]) and losses[0] > 0


def test_trajectory_copies_weights_updated_in_place():
    def in_place(w, dw, config):
        w -= 0.01 * dw
        return w, config

    np.testing.assert_allclose(trajectory(in_place, SURFACES[0], 5, {}),
                               trajectory(ref.sgd, SURFACES[0], 5, {"learning_rate": 0.01}))


# -- softmax regression and noise ------------------------------------------------------------

def test_softmax_regression_loss_matches_torch_and_numerical_gradient():
    rng = np.random.default_rng(1)
    X, y, W = add_bias_column(rng.standard_normal((7, 4))), rng.integers(0, 3, 7), rng.standard_normal((5, 3))
    loss, dW = softmax_regression_loss(W, X, y)
    Wt = torch.tensor(W, requires_grad=True)
    lt = F.cross_entropy(torch.tensor(X) @ Wt, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    assert rel_error(dW, Wt.grad.numpy()) < 1e-10
    assert rel_error(dW, eval_numerical_gradient(lambda v: softmax_regression_loss(v, X, y)[0], W.copy())) < 1e-7


def test_per_sample_gradients_average_to_the_gradient():
    rng = np.random.default_rng(2)
    X, y, W = add_bias_column(rng.standard_normal((9, 3))), rng.integers(0, 4, 9), rng.standard_normal((4, 4))
    G = per_sample_gradients(W, X, y)
    assert G.shape == (9, 16)
    np.testing.assert_allclose(G.mean(axis=0).reshape(4, 4), softmax_regression_loss(W, X, y)[1], rtol=1e-10)
    np.testing.assert_allclose(G[3].reshape(4, 4), softmax_regression_loss(W, X[3:4], y[3:4])[1], rtol=1e-10)


def test_gradient_noise_matches_sampling_without_replacement():
    rng = np.random.default_rng(3)
    G = rng.standard_normal((40, 6)) + 2.0
    g = G.mean(axis=0)
    m = 7
    draws = np.array([G[rng.choice(40, m, replace=False)].mean(axis=0) for _ in range(20000)])
    measured = np.sqrt(np.mean(np.sum((draws - g) ** 2, axis=1))) / np.linalg.norm(g)
    assert gradient_noise(G, np.array([m]))[0] == pytest.approx(measured, rel=0.03)
    assert gradient_noise(G, np.array([40]))[0] == 0.0


def test_minibatch_run_with_the_full_batch_is_gradient_descent(digits):
    X, y = add_bias_column(digits[0][:200]), digits[1][:200]
    full, batch = minibatch_run(ref.sgd, X, y, 200, 0.5, 20)
    W, expected = np.zeros((65, 10)), []
    for _ in range(21):
        loss, dW = softmax_regression_loss(W, X, y)
        expected.append(loss)
        W = W - 0.5 * dW
    np.testing.assert_allclose(full, expected[::5], rtol=1e-10)
    np.testing.assert_allclose(batch, expected[:20], rtol=1e-10)
    small = minibatch_run(ref.sgd, X, y, 8, 0.5, 20, seed=4)
    np.testing.assert_array_equal(small[0], minibatch_run(ref.sgd, X, y, 8, 0.5, 20, seed=4)[0])
    assert small[0][-1] < small[0][0]


def test_minibatch_losses_are_both_curves_of_a_run(digits):
    X, y = add_bias_column(digits[0][:200]), digits[1][:200]
    full, batch = minibatch_run(ref.sgd, X, y, 16, 0.5, 20, seed=2, every=5)
    np.testing.assert_array_equal(minibatch_losses(ref.sgd, X, y, 16, 0.5, 20, 2, every=5),
                                  np.concatenate([full, batch]))


def test_gradient_cloud_centres_on_the_full_gradient(digits):
    X, y = add_bias_column(digits[0][:200]), digits[1][:200]
    sizes = [1, 8, 200]
    cloud = gradient_cloud(X, y, sizes, np.random.default_rng(0), 50)
    assert [c.shape for c in cloud.clouds] == [(50, 2)] * 3
    G = per_sample_gradients(np.zeros((65, 10)), X, y)
    assert cloud.g_coords[0] == pytest.approx(np.linalg.norm(G.mean(axis=0))) and cloud.g_coords[1] == 0
    np.testing.assert_allclose(cloud.clouds[-1], np.tile(cloud.g_coords, (50, 1)), atol=1e-12)  # the full batch
    assert cloud.noise_at[1] == pytest.approx(gradient_noise(G, np.array([1]))[0]) and cloud.noise_at[200] == 0
    assert cloud.noise_m[0] == 1 and cloud.noise_m[-1] == 200 and np.all(np.diff(cloud.noise_m) > 0)


def test_wrong_steps_tells_a_wrong_rule_from_a_bad_setting():
    from dlcourse.widgets.optimizers.compute import wrong_steps

    ravine, rosenbrock = SURFACES[0], SURFACES[1]

    def forgetful_momentum(w, dw, config=None):  # the velocity is never stored: plain SGD from the second step
        config = dict(config or {})
        return w - config.get("learning_rate", 1e-2) * dw, config

    config = {"learning_rate": 0.1, "momentum": 0.9}
    expected = trajectory(ref.sgd_momentum, ravine, 4, config)
    assert wrong_steps(trajectory(ref.sgd_momentum, ravine, 150, config), ravine, expected) == ""
    assert wrong_steps(trajectory(forgetful_momentum, ravine, 150, config), ravine, expected) != ""
    # A correct rule that diverges (learning rate far too large) is not wrong, with or without the reference.
    fast = {"learning_rate": 0.05}
    diverging = trajectory(ref.sgd, rosenbrock, 150, fast)
    assert np.isnan(diverging[-1, 0])
    assert wrong_steps(diverging, rosenbrock, trajectory(ref.sgd, rosenbrock, 4, fast)) == ""
    assert wrong_steps(diverging, rosenbrock, None) == ""
    # Without the reference: a first step uphill is the rule's fault at any learning rate.
    uphill = trajectory(lambda w, dw, c: (w + c["learning_rate"] * dw, c), ravine, 10, {"learning_rate": 1e-4})
    assert wrong_steps(uphill, ravine, None) == "steps uphill at the start"
