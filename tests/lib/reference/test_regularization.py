"""Tests of dlcourse.reference.regularization.

The L2 penalty's gradient is proven twice (central differences and torch
autograd in float64); AdamW is run for many steps next to torch.optim.AdamW in
float64, and shown to differ from Adam with the L2 gradient (torch.optim.Adam's
weight_decay) while plain SGD cannot tell the two apart. The image shift is
checked against a pixel-by-pixel loop and the lecture's worked example.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import optim, regularization

STEPS = 60
TOL = 1e-12


def grad_fn(w: np.ndarray) -> np.ndarray:
    """Gradients of very different sizes per weight (scales 0.01 to 10), non-linear in w."""
    scales = np.geomspace(0.01, 10.0, w.size).reshape(w.shape)
    return scales * (w - 1.0) + 0.1 * w**3


def run_ours(update: Callable, w0: np.ndarray, config: dict) -> np.ndarray:
    w, out = w0.copy(), []
    for _ in range(STEPS):
        w, config = update(w, grad_fn(w), config)
        out.append(w.copy())
    return np.stack(out)


def run_torch(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer], w0: np.ndarray) -> np.ndarray:
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt, out = make([p]), []
    for _ in range(STEPS):
        p.grad = torch.tensor(grad_fn(p.detach().numpy()), dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


# ---- the L2 penalty


def test_l2_worked_example_of_the_lecture() -> None:
    """I2DL lecture 4: x = [1, 2, 1]; theta_1 = [0, 0.75, 0] and theta_2 = [0.25, 0.5, 0.25] give the same
    output 1.5, but L2 prefers theta_2: R = 0.5625 against 0.375."""
    x = np.array([1.0, 2.0, 1.0])
    theta_1, theta_2 = np.array([0.0, 0.75, 0.0]), np.array([0.25, 0.5, 0.25])
    assert x @ theta_1 == x @ theta_2 == 1.5
    assert regularization.l2_regularization([theta_1], 1.0)[0] == pytest.approx(0.5625, abs=1e-15)
    assert regularization.l2_regularization([theta_2], 1.0)[0] == pytest.approx(0.375, abs=1e-15)


def test_l2_gradient_numerical_and_torch() -> None:
    rng = np.random.default_rng(0)
    weights, reg = [rng.standard_normal((4, 3)), rng.standard_normal(5), rng.standard_normal((2, 3, 2))], 0.37
    penalty, grads = regularization.l2_regularization(weights, reg)
    ts = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    total = reg * sum((w**2).sum() for w in ts)
    total.backward()
    assert penalty == pytest.approx(total.item(), rel=1e-14)
    for k, (w, g) in enumerate(zip(weights, grads, strict=True)):
        assert g.shape == w.shape
        assert rel_error(g, ts[k].grad.numpy()) < 1e-14

        def f(v: np.ndarray, k: int = k) -> np.ndarray:
            return np.array(regularization.l2_regularization([*weights[:k], v, *weights[k + 1:]], reg)[0])

        assert rel_error(g, eval_numerical_gradient_array(f, w.copy(), np.array(1.0))) < 1e-7


def test_l2_never_modifies_the_weights_and_rejects_bad_input() -> None:
    w = np.ones((2, 2))
    _, grads = regularization.l2_regularization([w], 0.5)
    grads[0][:] = 7.0
    np.testing.assert_array_equal(w, 1.0)
    with pytest.raises(ValueError, match="list of arrays"):
        regularization.l2_regularization(w, 0.5)
    with pytest.raises(ValueError, match="reg must be a finite number >= 0"):
        regularization.l2_regularization([w], -1.0)


# ---- AdamW against torch, and against Adam with L2


@pytest.mark.parametrize(("lr", "wd"), [(1e-2, 1e-2), (5e-2, 0.3), (1e-3, 0.0)])
def test_adamw_matches_torch_adamw(lr: float, wd: float) -> None:
    w0 = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    ours = run_ours(regularization.adamw, w0, {"learning_rate": lr, "weight_decay": wd})
    theirs = run_torch(lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=wd, eps=1e-8), w0)
    assert rel_error(ours, theirs) < TOL


def test_adamw_defaults_are_torch_defaults() -> None:
    w0 = np.array([0.5, -1.5, 3.0])
    ours = run_ours(regularization.adamw, w0, {})
    theirs = run_torch(lambda p: torch.optim.AdamW(p, eps=1e-8), w0)  # lr 1e-3, weight_decay 1e-2
    assert rel_error(ours, theirs) < TOL


def test_adamw_without_decay_is_adam() -> None:
    w0 = np.array([0.5, -1.5, 3.0, 2.0])
    np.testing.assert_array_equal(run_ours(regularization.adamw, w0, {"learning_rate": 0.02, "weight_decay": 0.0}),
                                  run_ours(optim.adam, w0, {"learning_rate": 0.02}))


def test_decoupled_decay_differs_from_l2_under_adam_but_not_under_sgd() -> None:
    """Loshchilov and Hutter: torch.optim.Adam(weight_decay) adds wd * w to the gradient (L2); AdamW does not."""
    w0, lr, wd = np.linspace(-2.0, 2.0, 8), 0.05, 0.2
    decoupled = run_ours(regularization.adamw, w0, {"learning_rate": lr, "weight_decay": wd})
    coupled = run_torch(lambda p: torch.optim.Adam(p, lr=lr, weight_decay=wd, eps=1e-8), w0)
    assert rel_error(decoupled, coupled) > 1e-3
    # Plain SGD: a decay of lr * wd * w is the step of the penalty wd/2 * |w|^2 (gradient wd * w).
    sgd_l2 = run_torch(lambda p: torch.optim.SGD(p, lr=lr, weight_decay=wd), w0)
    w, out = w0.copy(), []
    for _ in range(STEPS):
        w = w * (1 - lr * wd) - lr * grad_fn(w)
        out.append(w.copy())
    assert rel_error(np.stack(out), sgd_l2) < TOL


def test_adamw_keeps_its_inputs_and_checks_its_config() -> None:
    w, dw = np.ones(3), np.full(3, 0.5)
    config = {"learning_rate": 0.1, "weight_decay": 0.5}
    next_w, config = regularization.adamw(w, dw, config)
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(dw, 0.5)
    # First step: decay to 1 - 0.1 * 0.5 = 0.95, then Adam's first step is lr * sign(dw) (m_hat / sqrt(v_hat) = 1).
    np.testing.assert_allclose(next_w, 0.95 - 0.1 * 0.5 / (0.5 + 1e-8), rtol=1e-14)
    assert config["t"] == 1
    with pytest.raises(ValueError, match="weight_decay"):
        regularization.adamw(w, dw, {"weight_decay": -0.1})
    with pytest.raises(ValueError, match="config must be a dict"):
        regularization.adamw(w, dw, [0.1])


# ---- shifting images


def shift_loop(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    _, H, W = images.shape
    out = np.zeros_like(images, dtype=np.float64)
    for r in range(H):
        for c in range(W):
            if 0 <= r + dy < H and 0 <= c + dx < W:
                out[:, r + dy, c + dx] = images[:, r, c]
    return out


@pytest.mark.parametrize(("dy", "dx"), [(0, 0), (1, 0), (0, -2), (-1, 3), (2, 2), (-3, -1), (5, 0), (0, -7), (9, 9)])
def test_shift_matches_a_pixel_loop(dy: int, dx: int) -> None:
    images = np.random.default_rng(1).standard_normal((3, 5, 7))  # H != W
    np.testing.assert_array_equal(regularization.shift_images(images, dy, dx), shift_loop(images, dy, dx))


def test_shift_by_hand_and_no_wrap_around() -> None:
    image = np.arange(1.0, 10.0).reshape(1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    np.testing.assert_array_equal(regularization.shift_images(image, 1, 0)[0], [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(regularization.shift_images(image, 0, -1)[0], [[2, 3, 0], [5, 6, 0], [8, 9, 0]])
    assert not np.array_equal(regularization.shift_images(image, 1, 0), np.roll(image, 1, axis=1))
    np.testing.assert_array_equal(image[0], np.arange(1.0, 10.0).reshape(3, 3))  # not modified


@pytest.mark.parametrize(("args", "match"), [
    ((np.zeros((3, 3)), 1, 0), r"\(N, H, W\).*images\[None\]"),
    ((np.zeros((1, 3, 3)), 1.5, 0), "dy must be an integer"),
    ((np.zeros((1, 3, 3)), 0, True), "dx must be an integer"),
])
def test_shift_rejects_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        regularization.shift_images(*args)
