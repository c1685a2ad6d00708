"""Tests of dlcourse.reference.gradient_flow: the matrix-power recurrence, its backward pass, clipping.

The backward pass of ``A_t = theta A_{t-1}`` is proven by central differences and by PyTorch autograd in
float64, on non-symmetric matrices (a transpose mix-up cannot hide) and at T = 0 and T = 1; the lecture's
statement (eigenvalues below 1 vanish, above 1 explode, like lambda^T) is checked on matrices built from
their eigenvalues; clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient, eval_numerical_gradient_array
from dlcourse.reference import gradient_flow as gf

NUM_TOL = 1e-7
TORCH_TOL = 1e-12


def test_orthogonal_and_eigen_matrices() -> None:
    rng = np.random.default_rng(0)
    q = gf.orthogonal_matrix(5, rng)
    np.testing.assert_allclose(q.T @ q, np.eye(5), atol=1e-13)
    lam = np.array([1.1, 0.9, 0.5, -0.3])
    theta = gf.eigen_matrix(lam, rng)
    np.testing.assert_allclose(theta, theta.T, atol=1e-14)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(theta)), np.sort(lam), atol=1e-13)
    with pytest.raises(ValueError, match="rng"):
        gf.orthogonal_matrix(3, 0)


def test_forward_is_the_matrix_power() -> None:
    rng = np.random.default_rng(1)
    theta, a0 = rng.standard_normal((3, 3)) / 2, rng.standard_normal(3)
    states, _ = gf.recurrence_forward(theta, a0, 6)
    assert states.shape == (7, 3)
    for t in (0, 1, 6):
        np.testing.assert_allclose(states[t], np.linalg.matrix_power(theta, t) @ a0, rtol=1e-13)


@pytest.mark.parametrize("T", [0, 1, 2, 7])
def test_backward_matches_torch_and_central_differences(T: int) -> None:
    rng = np.random.default_rng(T)
    D = 4
    theta, a0, dout = rng.standard_normal((D, D)) / 1.5, rng.standard_normal(D), rng.standard_normal(D)
    dtheta, da0, norms = gf.recurrence_backward(theta, a0, T, dout)
    # torch: the same loop, autograd through it (also the norm of every intermediate gradient).
    tt, ta = torch.tensor(theta, requires_grad=True), torch.tensor(a0, requires_grad=True)
    states = [ta]
    for _ in range(T):
        states.append(tt @ states[-1])
    for s in states:
        s.retain_grad()
    (states[-1] * torch.tensor(dout)).sum().backward()
    if T == 0:  # theta is never used: no gradient at all
        assert tt.grad is None
        np.testing.assert_array_equal(dtheta, np.zeros((D, D)))
    else:
        assert rel_error(dtheta, tt.grad.numpy()) < TORCH_TOL
    assert rel_error(da0, ta.grad.numpy()) < TORCH_TOL
    torch_norms = [float(torch.linalg.norm(s.grad)) for s in states]
    np.testing.assert_allclose(norms, torch_norms, rtol=1e-12)
    # Central differences of L = dout . A_T.
    def loss_of_theta(th: np.ndarray) -> float:
        return float(dout @ gf.recurrence_forward(th, a0, T)[0][-1])

    num_theta = eval_numerical_gradient(loss_of_theta, theta.copy())
    num_a0 = eval_numerical_gradient_array(lambda v: gf.recurrence_forward(theta, v, T)[0][-1], a0.copy(), dout)
    assert rel_error(dtheta, num_theta) < NUM_TOL
    assert rel_error(da0, num_a0) < NUM_TOL


def test_gradient_norms_scale_like_lambda_to_the_power() -> None:
    rng = np.random.default_rng(2)
    T = 40
    for lam in (0.9, 1.0, 1.1):
        theta = gf.eigen_matrix(np.full(5, lam), rng)  # lambda I in a random basis
        dout = rng.standard_normal(5)
        _, _, norms = gf.recurrence_backward(theta, rng.standard_normal(5), T, dout)
        # ||dL/dA_t|| = lambda^(T - t) ||dout|| exactly for theta = lambda I.
        np.testing.assert_allclose(norms, np.linalg.norm(dout) * lam ** (T - np.arange(T + 1)), rtol=1e-12)


def test_recurrence_does_not_change_its_arguments_and_rejects_bad_input() -> None:
    rng = np.random.default_rng(3)
    theta, a0, dout = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3)
    saved = [v.copy() for v in (theta, a0, dout)]
    gf.recurrence_backward(theta, a0, 4, dout)
    for v, s in zip((theta, a0, dout), saved, strict=True):
        np.testing.assert_array_equal(v, s)
    with pytest.raises(ValueError, match="square"):
        gf.recurrence_forward(np.zeros((2, 3)), np.zeros(3), 2)
    with pytest.raises(ValueError, match=r"a0 must have shape \(D,\) = \(3,\)"):
        gf.recurrence_forward(theta, np.zeros(2), 2)
    with pytest.raises(ValueError, match="T must be an integer"):
        gf.recurrence_forward(theta, a0, -1)
    with pytest.raises(ValueError, match="dout"):
        gf.recurrence_backward(theta, a0, 2, np.zeros((3, 1)))


# ---- clipping


def test_stable_norm_survives_huge_and_tiny_entries() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gf.stable_norm(np.array([3e200, 4e200])) == pytest.approx(5e200, rel=1e-15)
        assert gf.stable_norm(np.array([3e-200, 4e-200])) == pytest.approx(5e-200, rel=1e-15)
    assert gf.stable_norm(np.zeros((2, 3))) == 0.0
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    assert gf.stable_norm(x) == pytest.approx(np.linalg.norm(x.ravel()), rel=1e-14)


def test_clip_by_norm_matches_torch_without_its_epsilon() -> None:
    rng = np.random.default_rng(5)
    g = 10 * rng.standard_normal((4, 3))
    clipped, norm = gf.clip_gradient(g, 2.0, "norm")
    assert norm == pytest.approx(np.linalg.norm(g), rel=1e-14)
    np.testing.assert_allclose(clipped, g * 2.0 / np.linalg.norm(g), rtol=1e-14)
    assert gf.stable_norm(clipped) == pytest.approx(2.0, rel=1e-14)
    t = torch.tensor(g)
    t.grad = torch.tensor(g)
    torch_norm = torch.nn.utils.clip_grad_norm_([t], 2.0)
    assert float(torch_norm) == pytest.approx(norm, rel=1e-12)
    np.testing.assert_allclose(clipped, t.grad.numpy(), rtol=1e-6)  # torch divides by norm + 1e-6


def test_clip_by_value_matches_torch_and_changes_the_direction() -> None:
    g = np.array([[5.0, -0.5], [-3.0, 0.2]])
    clipped, norm = gf.clip_gradient(g, 1.0, "value")
    t = torch.tensor(g)
    t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_([t], 1.0)
    np.testing.assert_array_equal(clipped, t.grad.numpy())
    np.testing.assert_array_equal(clipped, [[1.0, -0.5], [-1.0, 0.2]])
    assert norm == pytest.approx(math.sqrt(25 + 0.25 + 9 + 0.04))
    cosine = float((clipped * g).sum() / (np.linalg.norm(clipped) * np.linalg.norm(g)))
    assert cosine < 0.99  # by value: not parallel to g any more; by norm it would be


def test_clip_keeps_small_gradients_and_never_writes_into_its_argument() -> None:
    g = np.array([0.3, -0.4])
    for mode in gf.CLIP_MODES:
        clipped, norm = gf.clip_gradient(g, 1.0, mode)
        np.testing.assert_array_equal(clipped, g)
        assert clipped is not g and norm == pytest.approx(0.5)
    big = np.array([30.0, -40.0])
    gf.clip_gradient(big, 1.0)
    np.testing.assert_array_equal(big, [30.0, -40.0])
    zero, norm = gf.clip_gradient(np.zeros(3), 1.0)
    np.testing.assert_array_equal(zero, np.zeros(3))
    assert norm == 0.0
    huge, norm = gf.clip_gradient(np.array([3e200, -4e200]), 5.0)
    np.testing.assert_allclose(huge, [3.0, -4.0], rtol=1e-14)
    assert norm == pytest.approx(5e200, rel=1e-14)


def test_clip_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="mode"):
        gf.clip_gradient(np.ones(2), 1.0, "l1")
    with pytest.raises(ValueError, match="threshold"):
        gf.clip_gradient(np.ones(2), 0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        gf.clip_gradient(np.array([1.0, np.inf]), 1.0)


def test_fit_recurrence_diverges_without_clipping_and_converges_with_it() -> None:
    rng = np.random.default_rng(0)
    theta_true = gf.eigen_matrix(np.array([0.95, 0.8, 0.6, 0.3]), rng)
    a0 = rng.standard_normal(4)
    target = gf.recurrence_forward(theta_true, a0, 30)[0][-1]
    theta0 = gf.eigen_matrix(np.array([1.08, 0.9, 0.5, 0.2]), rng)
    _, plain, _ = gf.fit_recurrence(theta0, a0, target, 30, 0.01, 50)
    assert not np.all(np.isfinite(plain))  # exploding gradients: the first steps throw theta away
    theta, clipped, norms = gf.fit_recurrence(theta0, a0, target, 30, 0.01, 50, threshold=1.0)
    assert np.all(np.isfinite(clipped)) and clipped[-1] < 0.01 * clipped[0]
    assert norms[0] > 100  # the first gradient was large, and clipping cut it to 1
    # One step by hand: theta0 - lr * clip(dtheta).
    error = gf.recurrence_forward(theta0, a0, 30)[0][-1] - target
    dtheta = gf.recurrence_backward(theta0, a0, 30, error)[0]
    step = theta0 - 0.01 * gf.clip_gradient(dtheta, 1.0)[0]
    np.testing.assert_allclose(gf.fit_recurrence(theta0, a0, target, 30, 0.01, 1, threshold=1.0)[0], step,
                               rtol=1e-14)
    assert theta.shape == (4, 4)
