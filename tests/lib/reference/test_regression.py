"""Tests of dlcourse.reference.regression's penalties, ridge regression and softmax regression.

Each gradient twice: central differences and PyTorch autograd in float64; the
lecture's worked examples by hand; scikit-learn's Ridge for the closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from dlcourse.checks.gradients import eval_numerical_gradient
from dlcourse.reference import regression as ref


def design(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return ref.add_bias_column(rng.standard_normal((n, d)))


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = design(rng, 13, 4)
    return X, rng.standard_normal(13), rng.standard_normal(5)


# -- the penalties ------------------------------------------------------------------------------

def test_the_lectures_penalties_of_its_two_classifiers():
    # I2DL's example: x = [1, 2, 1]; theta_1 = [0, 0.75, 0] and theta_2 = [0.25, 0.5, 0.25] predict the same 1.5.
    X, y = np.array([[1.0, 1.0, 2.0, 1.0]]), np.array([1.5])  # a bias column in front, bias 0
    t1, t2 = np.array([0.0, 0.0, 0.75, 0.0]), np.array([0.0, 0.25, 0.5, 0.25])
    loss = {(p, name): ref.regularized_loss_and_gradient(X, y, t, 1.0, p)[0]
            for p in ("l1", "l2") for name, t in (("t1", t1), ("t2", t2))}
    assert loss["l2", "t1"] == pytest.approx(0.5625) and loss["l2", "t2"] == pytest.approx(0.375)  # L2 spreads
    assert loss["l1", "t1"] == pytest.approx(0.75) and loss["l1", "t2"] == pytest.approx(1.0)  # L1 is sparse


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_regularized_gradient_equals_central_differences(problem, penalty):
    X, y, theta = problem
    _, grad = ref.regularized_loss_and_gradient(X, y, theta, 0.7, penalty)
    numerical = eval_numerical_gradient(lambda t: ref.regularized_loss_and_gradient(X, y, t, 0.7, penalty)[0],
                                        theta.copy())
    np.testing.assert_allclose(grad, numerical, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_regularized_loss_and_gradient_equal_torch_autograd(problem, penalty):
    X, y, theta = problem
    theta = theta.copy()
    theta[2] = 0.0  # at |t|'s kink torch's abs also takes the gradient 0
    loss, grad = ref.regularized_loss_and_gradient(X, y, theta, 0.3, penalty)
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    weights = t[1:]
    reg = (weights**2).sum() if penalty == "l2" else weights.abs().sum()
    total = torch.mean((Xt @ t - yt) ** 2) + 0.3 * reg
    total.backward()
    assert loss == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    if penalty == "l1":  # sign(0) = 0: at the kink the penalty adds nothing to the gradient
        assert grad[2] == pytest.approx(ref.mse_gradient(X, y, theta)[2], abs=1e-15)


def test_the_bias_is_not_penalised_and_lam_zero_is_the_mse(problem):
    X, y, theta = problem
    for penalty in ("l1", "l2"):
        loss, grad = ref.regularized_loss_and_gradient(X, y, theta, 0.0, penalty)
        assert loss == pytest.approx(ref.mse(X @ theta, y), rel=1e-14)
        np.testing.assert_allclose(grad, ref.mse_gradient(X, y, theta), rtol=1e-14)
        big = ref.regularized_loss_and_gradient(X, y, theta, 5.0, penalty)
        assert big[1][0] == pytest.approx(grad[0], rel=1e-14)  # the bias's gradient has no penalty part


def test_regularized_loss_leaves_its_arguments_alone(problem):
    X, y, theta = problem
    copies = [a.copy() for a in problem]
    ref.regularized_loss_and_gradient(X, y, theta, 1.0, "l1")
    for a, b in zip(problem, copies, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("args", "match"), [
    ({"penalty": "l3"}, "penalty must be"), ({"lam": -1.0}, "lam must be"), ({"lam": float("nan")}, "lam must be"),
    ({"theta": np.zeros(4)}, r"theta must have shape \(d\+1,\) = \(5,\)"), ({"y": np.zeros(12)}, r"y must have"),
    ({"X": np.zeros(13)}, "design matrix"),
])
def test_regularized_loss_rejects_bad_input_by_name(problem, args, match):
    X, y, theta = problem
    with pytest.raises(ValueError, match=match):
        ref.regularized_loss_and_gradient(**{"X": X, "y": y, "theta": theta, "lam": 1.0, "penalty": "l2", **args})


# -- ridge regression ------------------------------------------------------------------------------

def test_ridge_is_where_the_regularized_gradient_vanishes(problem):
    X, y, _ = problem
    theta = ref.ridge_regression(X, y, 0.4)
    np.testing.assert_allclose(ref.regularized_loss_and_gradient(X, y, theta, 0.4, "l2")[1], 0.0, atol=1e-12)


def test_ridge_equals_scikit_learn(problem):
    X, y, _ = problem
    # scikit-learn minimises ||y - Xw - b||^2 + alpha ||w||^2; ours is that divided by n, so alpha = n lam.
    model = Ridge(alpha=13 * 0.25).fit(X[:, 1:], y)
    np.testing.assert_allclose(ref.ridge_regression(X, y, 0.25), [model.intercept_, *model.coef_], rtol=1e-10)


def test_ridge_by_hand_and_at_the_ends_of_lam():
    # X = [[1, -1], [1, 1]], y = [-1, 1]: X^T X = 2 I, X^T y = [0, 2], so theta_1 = 2 / (2 + 2 lam).
    X, y = np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([-1.0, 1.0])
    np.testing.assert_allclose(ref.ridge_regression(X, y, 1.0), [0.0, 0.5], atol=1e-15)
    rng = np.random.default_rng(3)
    X, y = design(rng, 9, 3), rng.standard_normal(9)
    np.testing.assert_allclose(ref.ridge_regression(X, y, 0.0), ref.normal_equations(X, y), rtol=1e-12)
    far = ref.ridge_regression(X, y, 1e9)  # the weights vanish; the unpenalised bias becomes mean(y)
    np.testing.assert_allclose(far, [y.mean(), 0, 0, 0], atol=1e-7)


def test_ridge_solves_what_least_squares_cannot():
    rng = np.random.default_rng(4)
    X = design(rng, 3, 6)  # 3 samples, 7 parameters: X^T X is singular
    theta = ref.ridge_regression(X, rng.standard_normal(3), 0.1)
    assert np.all(np.isfinite(theta)) and theta.shape == (7,)


# -- softmax regression ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def multiclass() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return design(rng, 11, 3), rng.integers(0, 4, 11), rng.standard_normal((4, 4))


def test_softmax_by_hand_and_the_lectures_model_1():
    loss, grad = ref.softmax_loss_and_gradient(np.ones((1, 1)), np.array([2]), np.zeros((1, 3)))
    assert loss == pytest.approx(np.log(3))
    np.testing.assert_allclose(grad, [[1 / 3, 1 / 3, -2 / 3]])
    # I2DL's model 1: scores [5, -3, 2] for the true class 0 cost -ln(e^5 / (e^5 + e^-3 + e^2)) = 0.05.
    loss, _ = ref.softmax_loss_and_gradient(np.ones((1, 1)), np.array([0]), np.array([[5.0, -3.0, 2.0]]))
    assert round(loss, 2) == 0.05


def test_softmax_gradient_equals_central_differences(multiclass):
    X, y, Theta = multiclass
    _, grad = ref.softmax_loss_and_gradient(X, y, Theta)
    numerical = eval_numerical_gradient(lambda t: ref.softmax_loss_and_gradient(X, y, t)[0], Theta.copy())
    np.testing.assert_allclose(grad, numerical, rtol=1e-7, atol=1e-9)


def test_softmax_equals_torch_cross_entropy(multiclass):
    X, y, Theta = multiclass
    loss, grad = ref.softmax_loss_and_gradient(X, y, Theta)
    t = torch.tensor(Theta, requires_grad=True)
    total = torch.nn.functional.cross_entropy(torch.tensor(X) @ t, torch.tensor(y))
    total.backward()
    assert loss == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_is_exact_for_huge_scores():
    # Row 0 scores [0, 0.5, -0.5]; row 1 [1000, 0.5, 998.5] (maxima 1000 apart), its true class 999.5 below the best.
    X = np.array([[1.0, 0.0], [1.0, 1.0]])
    Theta = np.array([[0.0, 0.5, -0.5], [1000.0, 0.0, 999.0]])
    loss, grad = ref.softmax_loss_and_gradient(X, np.array([0, 1]), Theta)
    assert np.isfinite(loss) and loss == pytest.approx((np.log(1 + np.exp(0.5) + np.exp(-0.5)) + 999.5
                                                        + np.log(1 + np.exp(-1.5))) / 2, rel=1e-12)
    assert np.all(np.isfinite(grad))


def test_two_class_softmax_is_logistic_regression(multiclass):
    X, _, _ = multiclass
    rng = np.random.default_rng(6)
    y, Theta = rng.integers(0, 2, 11), rng.standard_normal((4, 2))
    loss, grad = ref.softmax_loss_and_gradient(X, y, Theta)
    theta = Theta[:, 1] - Theta[:, 0]  # only the difference of the scores matters
    l_loss, l_grad = ref.logistic_loss_and_gradient(X, y.astype(float), theta)
    assert loss == pytest.approx(l_loss, rel=1e-12)
    np.testing.assert_allclose(grad[:, 1], l_grad, rtol=1e-10)
    np.testing.assert_allclose(grad[:, 0], -l_grad, rtol=1e-10)


def test_softmax_leaves_its_arguments_alone_and_rejects_bad_input(multiclass):
    X, y, Theta = multiclass
    copies = [a.copy() for a in multiclass]
    ref.softmax_loss_and_gradient(X, y, Theta)
    for a, b in zip(multiclass, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Theta"):
        ref.softmax_loss_and_gradient(X, y, Theta[1:])
    with pytest.raises(ValueError, match="integer"):
        ref.softmax_loss_and_gradient(X, y.astype(float), Theta)
    with pytest.raises(ValueError, match=r"\[0, C\)"):
        ref.softmax_loss_and_gradient(X, y + 4, Theta)
