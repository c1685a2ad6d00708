"""Tests of what notebook 02 added to the reference: ``layers.svm_loss`` (the multiclass hinge loss), the L2 term
of ``mlp.mlp_loss``, ``mlp.count_parameters`` and ``mlp.full_batch_descent``.

Every gradient is proven twice: by central differences (relative error < 1e-7) and against PyTorch autograd in
float64; the lecture's worked examples are checked by hand.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient
from dlcourse.reference import layers, mlp

pytestmark = pytest.mark.notebook("02_backprop")

NUM_TOL = 1e-7
TORCH_TOL = 1e-10

# I2DL lecture 7: three images (a cat, a chair, a car), one row of scores (cat, chair, car) each.
LECTURE_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LECTURE_LABELS = np.array([0, 1, 2])


def scores_away_from_kinks(rng: np.random.Generator, N: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Random scores whose hinge margins all stay 0.05 or more away from 0 (central differences never straddle)."""
    while True:
        s, y = 2 * rng.standard_normal((N, C)), rng.integers(0, C, N)
        margins = s - s[np.arange(N), y][:, None] + 1
        margins[np.arange(N), y] = 1.0
        if np.all(np.abs(margins) > 0.05):
            return s, y


# ---- svm_loss


def test_svm_loss_on_the_lectures_cat_chair_car_scores():
    loss, _ = layers.svm_loss(LECTURE_SCORES, LECTURE_LABELS)
    per_image = [layers.svm_loss(LECTURE_SCORES[i:i + 1], LECTURE_LABELS[i:i + 1])[0] for i in range(3)]
    np.testing.assert_allclose(per_image, [2.9, 0.0, 12.9], atol=1e-12)
    assert loss == pytest.approx((2.9 + 0.0 + 12.9) / 3, abs=1e-12)


def test_svm_loss_saturates_where_cross_entropy_keeps_pushing():
    # The lecture's three models for one image of class 0: hinge 0, 12, 0; cross entropy 0.05, 5.70, 2e-11.
    models = np.array([[5.0, -3.0, 2.0], [5.0, 10.0, 10.0], [5.0, -20.0, -20.0]])
    hinge = [layers.svm_loss(s[None], np.array([0]))[0] for s in models]
    ce = [layers.softmax_cross_entropy(s[None], np.array([0]))[0] for s in models]
    assert hinge == [0.0, 12.0, 0.0]
    np.testing.assert_allclose(ce, [0.0489, 5.6965, 2.7779e-11], rtol=1e-3)
    assert np.all(layers.svm_loss(models[[2]], np.array([0]))[1] == 0)  # no gradient at all once satisfied


@pytest.mark.parametrize(("N", "C"), [(1, 2), (4, 3), (7, 5)])
def test_svm_loss_gradient_numerical(N, C):
    s, y = scores_away_from_kinks(np.random.default_rng(N * C), N, C)
    _, ds = layers.svm_loss(s, y)
    assert rel_error(ds, eval_numerical_gradient(lambda v: layers.svm_loss(v, y)[0], s.copy())) < NUM_TOL


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_svm_loss_matches_torch_multi_margin_loss_times_c(seed):
    # PyTorch divides each example's hinge sum by C; the lecture's loss does not.
    s, y = scores_away_from_kinks(np.random.default_rng(seed), 6, 4)
    loss, ds = layers.svm_loss(s, y)
    st = torch.tensor(s, requires_grad=True)
    lt = F.multi_margin_loss(st, torch.tensor(y), margin=1.0) * s.shape[1]
    lt.backward()
    assert abs(loss - lt.item()) < TORCH_TOL
    assert rel_error(ds, st.grad.numpy()) < TORCH_TOL


def test_svm_loss_at_the_kink_is_flat_like_torch():
    s, y = np.array([[2.0, 3.0, 1.0], [0.0, 0.0, -1.0]]), np.array([1, 0])  # margins exactly 0
    loss, ds = layers.svm_loss(s, y)
    st = torch.tensor(s, requires_grad=True)
    (F.multi_margin_loss(st, torch.tensor(y), margin=1.0) * 3).backward()
    assert loss == 0.5  # only row 1's class-1 term (margin 1) is active
    np.testing.assert_array_equal(ds, st.grad.numpy())
    np.testing.assert_array_equal(ds[0], 0.0)


def test_svm_loss_does_not_change_its_arguments():
    s, y = LECTURE_SCORES.copy(), LECTURE_LABELS.copy()
    layers.svm_loss(s, y)
    np.testing.assert_array_equal(s, LECTURE_SCORES)
    np.testing.assert_array_equal(y, LECTURE_LABELS)


@pytest.mark.parametrize(("scores", "y", "match"), [
    (np.zeros(3), np.array([0]), r"\(N, C\)"),
    (np.zeros((2, 3)), np.array([0]), r"shape \(N,\)"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), "integer"),
    (np.zeros((2, 3)), np.array([0, 3]), r"\[0, 3\)"),
])
def test_svm_loss_rejects_bad_input(scores, y, match):
    with pytest.raises(ValueError, match=match):
        layers.svm_loss(scores, y)


# ---- mlp_loss with L2 regularization


def random_net(sizes: list[int], seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = mlp.init_mlp(sizes, rng)
    for i in range(1, len(sizes)):
        params[f"b{i}"] = 0.1 * rng.standard_normal(sizes[i])
    return params, rng.standard_normal((5, sizes[0])), rng.integers(0, sizes[-1], 5)


@pytest.mark.parametrize("sizes", [[4, 3], [5, 6, 3], [3, 4, 5, 2]])
def test_l2_term_gradient_numerical(sizes):
    params, X, y = random_net(sizes, 3)
    _, grads = mlp.mlp_loss(params, X, y, reg=0.3)
    for name, p in params.items():
        num = eval_numerical_gradient(lambda _: mlp.mlp_loss(params, X, y, reg=0.3)[0], p)
        assert rel_error(grads[name], num) < 1e-6, name  # ReLU kinks are far from these points


@pytest.mark.parametrize("sizes", [[4, 3], [5, 6, 3], [3, 4, 5, 2]])
def test_l2_term_matches_torch(sizes):
    params, X, y = random_net(sizes, 4)
    reg = 0.07
    loss, grads = mlp.mlp_loss(params, X, y, reg=reg)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a, L = torch.tensor(X), len(sizes) - 1
    for i in range(1, L + 1):
        a = a @ tensors[f"W{i}"] + tensors[f"b{i}"]
        a = torch.relu(a) if i < L else a
    total = F.cross_entropy(a, torch.tensor(y)) + reg * sum((tensors[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    total.backward()
    assert abs(loss - total.item()) < TORCH_TOL
    for name in params:
        assert rel_error(grads[name], tensors[name].grad.numpy()) < TORCH_TOL, name


def test_l2_term_is_the_lectures_example_and_leaves_the_biases_alone():
    # w1 = [1, 0, 0, 0] and w2 = [0.25, 0.25, 0.25, 0.25] as the two columns of W1: R = 1 + 0.25 = 1.25.
    params = {"W1": np.array([[1.0, 0.25], [0.0, 0.25], [0.0, 0.25], [0.0, 0.25]]), "b1": np.array([3.0, -2.0])}
    X, y = np.ones((1, 4)), np.array([0])
    plain, g0 = mlp.mlp_loss(params, X, y)
    regularized, g1 = mlp.mlp_loss(params, X, y, reg=1.0)
    assert regularized - plain == pytest.approx(1.25, abs=1e-12)
    np.testing.assert_allclose(g1["W1"] - g0["W1"], 2 * params["W1"], atol=1e-15)
    np.testing.assert_array_equal(g1["b1"], g0["b1"])


@pytest.mark.parametrize("reg", [-0.1, float("nan"), "0.1", True])
def test_mlp_loss_rejects_a_bad_reg(reg):
    params, X, y = random_net([3, 2], 0)
    with pytest.raises(ValueError, match="reg"):
        mlp.mlp_loss(params, X, y, reg=reg)


# ---- count_parameters


@pytest.mark.parametrize(("sizes", "expected"), [
    ([64, 128, 10], 9_610), ([784, 500, 10], 397_510), ([4, 3], 15), ([1, 1], 2), ([5, 4, 3, 2], 47)])
def test_count_parameters_by_hand(sizes, expected):
    assert mlp.count_parameters(sizes) == expected


@pytest.mark.parametrize("sizes", [[64, 128, 10], [3, 5, 4, 2], [7, 1]])
def test_count_parameters_matches_the_parameters_and_torch(sizes):
    params = mlp.init_mlp(sizes, np.random.default_rng(0))
    layers_ = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    torch_count = sum(p.numel() for layer in layers_ for p in layer.parameters())
    assert mlp.count_parameters(sizes) == sum(p.size for p in params.values()) == torch_count


@pytest.mark.parametrize("sizes", [[5], [], [3, 0, 2]])
def test_count_parameters_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp.count_parameters(sizes)


# ---- full_batch_descent


def test_full_batch_descent_overfits_a_tiny_batch_and_leaves_params_alone():
    params, X, y = random_net([6, 16, 3], 5)
    before = {k: v.copy() for k, v in params.items()}
    losses = mlp.full_batch_descent(mlp.mlp_loss, params, X, y, learning_rate=0.5, steps=200)
    assert losses.shape == (201,)
    assert losses[0] == pytest.approx(mlp.mlp_loss(params, X, y)[0])
    assert losses[-1] < 1e-2 < losses[0]
    for name in params:
        np.testing.assert_array_equal(params[name], before[name])


def test_full_batch_descent_is_plain_gradient_descent():
    # On L(w) = ||w||^2 / 2 (gradient w), one step of size lr scales w by (1 - lr): the loss by (1 - lr)^2.
    def bowl(p, X, y):
        return 0.5 * float(np.sum(p["w"] ** 2)), {"w": p["w"].copy()}

    losses = mlp.full_batch_descent(bowl, {"w": np.array([3.0, -4.0])}, None, None, learning_rate=0.1, steps=3)
    np.testing.assert_allclose(losses, 12.5 * 0.81 ** np.arange(4), rtol=1e-14)
    assert mlp.full_batch_descent(bowl, {"w": np.ones(2)}, None, None, learning_rate=0.0, steps=0).tolist() == [1.0]


@pytest.mark.parametrize(("learning_rate", "steps", "match"), [
    (0.1, -1, "steps"), (0.1, 2.5, "steps"), (-0.1, 3, "learning_rate"), (float("inf"), 3, "learning_rate")])
def test_full_batch_descent_rejects_bad_settings(learning_rate, steps, match):
    params, X, y = random_net([3, 2], 0)
    with pytest.raises(ValueError, match=match):
        mlp.full_batch_descent(mlp.mlp_loss, params, X, y, learning_rate=learning_rate, steps=steps)
