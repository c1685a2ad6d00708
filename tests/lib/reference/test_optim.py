"""Tests of dlcourse.reference.optim.

Every update rule is run for many steps, carrying its config, next to the
``torch.optim`` optimizer it corresponds to, in float64 on the same gradients
(gradients of a loss at the current weights, so that any difference would
feed back). The conventions that differ (momentum's velocity, Nesterov's
look-ahead variable, where ε goes) are mapped as the module docstring says.
Schedules are compared with ``torch.optim.lr_scheduler``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from dlcourse.reference import optim

STEPS = 60
TOL = 1e-12  # the same arithmetic in float64 on both sides


def grad_fn(w: np.ndarray) -> np.ndarray:
    """Gradient of an ill-conditioned quadratic plus a quartic, elementwise: non-linear in w."""
    scales = np.linspace(0.2, 5.0, w.size).reshape(w.shape)
    return scales * w + 0.1 * w**3 - 0.3


def run_ours(update: Callable, w0: np.ndarray, config: dict | None, steps: int = STEPS) -> np.ndarray:
    w, out = w0.copy(), []
    for _ in range(steps):
        w, config = update(w, grad_fn(w), config)
        out.append(w.copy())
    return np.stack(out)


def run_torch(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer], w0: np.ndarray,
              steps: int = STEPS) -> np.ndarray:
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    out = []
    for _ in range(steps):
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy()))
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


@pytest.fixture
def w0() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 4))


def test_sgd_matches_torch(w0):
    ours = run_ours(optim.sgd, w0, {"learning_rate": 0.05})
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.05), w0)
    np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_momentum_matches_torch(w0, momentum):
    # Lecture: v = βv - α dw, w += v. Torch: b = βb + dw, w -= α b. With constant α, v = -α b.
    ours = run_ours(optim.sgd_momentum, w0, {"learning_rate": 0.03, "momentum": momentum})
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.03, momentum=momentum), w0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_sgd_momentum_velocity_is_minus_lr_times_torch_buffer(w0):
    config = {"learning_rate": 0.03, "momentum": 0.9}
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.03, momentum=0.9)
    w = w0.copy()
    for _ in range(10):
        w, config = optim.sgd_momentum(w, grad_fn(w), config)
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy()))
        opt.step()
    buf = opt.state[p]["momentum_buffer"].numpy()
    np.testing.assert_allclose(config["velocity"], -0.03 * buf, rtol=1e-10)


@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_nesterov_matches_torch(w0, momentum):
    ours = run_ours(optim.nesterov, w0, {"learning_rate": 0.03, "momentum": momentum})
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.03, momentum=momentum, nesterov=True), w0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_nesterov_equals_the_lectures_look_ahead_form(w0):
    # The lecture: θ̃ = θ + βv; v = βv - α∇L(θ̃); θ = θ + v. Our w is θ̃, so w_k = θ_k + β v_k.
    lr, beta = 0.03, 0.9
    theta, v, lecture = w0.copy(), np.zeros_like(w0), []
    for _ in range(STEPS):
        v = beta * v - lr * grad_fn(theta + beta * v)
        theta = theta + v
        lecture.append(theta + beta * v)
    ours = run_ours(optim.nesterov, w0, {"learning_rate": lr, "momentum": beta})
    np.testing.assert_allclose(ours, np.stack(lecture), rtol=1e-10, atol=1e-12)


def test_nesterov_differs_from_plain_momentum(w0):
    config = {"learning_rate": 0.03, "momentum": 0.9}
    assert not np.allclose(run_ours(optim.nesterov, w0, dict(config)), run_ours(optim.sgd_momentum, w0, dict(config)))


@pytest.mark.parametrize("initial", [0.0, 0.5])
def test_adagrad_matches_torch(w0, initial):
    config = {"learning_rate": 0.2, "epsilon": 1e-10, "cache": np.full_like(w0, initial)}
    ours = run_ours(optim.adagrad, w0, config)
    theirs = run_torch(lambda p: torch.optim.Adagrad(p, lr=0.2, eps=1e-10, initial_accumulator_value=initial), w0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("decay_rate", "eps"), [(0.99, 1e-8), (0.9, 1e-3)])
def test_rmsprop_matches_torch(w0, decay_rate, eps):
    config = {"learning_rate": 0.01, "decay_rate": decay_rate, "epsilon": eps}
    ours = run_ours(optim.rmsprop, w0, config)
    theirs = run_torch(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=decay_rate, eps=eps), w0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("betas", "eps"), [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3), ((0.0, 0.99), 1e-8)])
def test_adam_matches_torch(w0, betas, eps):
    config = {"learning_rate": 0.01, "beta1": betas[0], "beta2": betas[1], "epsilon": eps}
    ours = run_ours(optim.adam, w0, config)
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, betas=betas, eps=eps), w0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert config["t"] == STEPS


def test_defaults_are_filled_in_and_state_is_kept():
    w, dw = np.ones(3), np.full(3, 2.0)
    _, c = optim.sgd(w, dw)
    assert c == {"learning_rate": 1e-2}
    _, c = optim.sgd_momentum(w, dw)
    assert c["momentum"] == 0.9 and np.allclose(c["velocity"], -0.02)
    _, c = optim.rmsprop(w, dw)
    assert c["decay_rate"] == 0.99 and c["epsilon"] == 1e-8 and np.allclose(c["cache"], 0.01 * 4)
    _, c = optim.adam(w, dw, {"learning_rate": 0.5})
    assert c["learning_rate"] == 0.5 and (c["beta1"], c["beta2"], c["t"]) == (0.9, 0.999, 1)
    _, c = optim.adam(w, dw, c)
    assert c["t"] == 2


def test_first_adam_step_is_lr_times_sign_thanks_to_bias_correction():
    w, dw = np.zeros(4), np.array([3.0, -0.001, 1e3, -7.0])
    next_w, _ = optim.adam(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, -0.1 * np.sign(dw), rtol=1e-4)


def test_rules_do_not_write_into_their_inputs():
    for rule in (optim.sgd, optim.sgd_momentum, optim.nesterov, optim.adagrad, optim.rmsprop, optim.adam):
        w, dw = np.ones(5), np.arange(5.0)
        rule(w, dw, None)
        assert np.array_equal(w, np.ones(5)) and np.array_equal(dw, np.arange(5.0)), rule.__name__


@pytest.mark.parametrize(("rule", "config"), [
    (optim.sgd, {"learning_rate": -1.0}),
    (optim.sgd_momentum, {"momentum": 1.0}),
    (optim.rmsprop, {"decay_rate": 1.5}),
    (optim.adam, {"beta2": -0.1}),
    (optim.adagrad, {"epsilon": -1e-8}),
    (optim.adam, {"m": np.zeros(4)}),
])
def test_bad_hyperparameters_raise(rule, config):
    with pytest.raises(ValueError):
        rule(np.ones(3), np.ones(3), config)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        optim.adam(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="dict"):
        optim.sgd(np.ones(3), np.ones(3), [0.1])


# -- Newton ---------------------------------------------------------------------------

def test_newton_step_minimises_a_quadratic_in_one_step():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((4, 4))
    A, b = M @ M.T + 4 * np.eye(4), rng.standard_normal(4)
    w = rng.standard_normal(4)
    w1 = optim.newton_step(w, A @ w - b, A)  # L = 1/2 wᵀAw - bᵀw
    np.testing.assert_allclose(w1, np.linalg.solve(A, b), rtol=1e-10)


def test_newton_step_matches_torch_autograd_hessian():
    w = np.array([-1.2, 1.0])

    def rosenbrock(v):
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2

    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    g = torch.autograd.grad(rosenbrock(wt), wt)[0].numpy()
    H = torch.autograd.functional.hessian(rosenbrock, wt.detach()).numpy()
    expected = w - np.linalg.inv(H) @ g
    np.testing.assert_allclose(optim.newton_step(w, g, H), expected, rtol=1e-10)
    with pytest.raises(ValueError):
        optim.newton_step(w, g, H[:1])


# -- schedules --------------------------------------------------------------------------

def torch_lrs(make: Callable[[torch.optim.Optimizer], object], lr0: float, steps: int) -> np.ndarray:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    scheduler = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(out)


def test_step_decay_matches_steplr():
    ours = [optim.step_decay(s, 0.1, step_size=7, gamma=0.5) for s in range(40)]
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 0.1, 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_exponential_decay_matches_exponentiallr():
    ours = [optim.exponential_decay(s, 0.1, gamma=0.95) for s in range(40)]
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95), 0.1, 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("lr_min", [0.0, 0.01])
def test_cosine_annealing_matches_cosineannealinglr(lr_min):
    T = 30
    ours = [optim.cosine_annealing(s, 0.1, T, lr_min) for s in range(T + 1)]
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=lr_min), 0.1, T + 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)
    assert optim.cosine_annealing(T + 10, 0.1, T, lr_min) == pytest.approx(lr_min)


def test_inverse_time_decay_matches_lambdalr_and_the_lecture():
    ours = [optim.inverse_time_decay(s, 0.1, decay_rate=1.0) for s in range(20)]
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)), 0.1, 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(ours[:4], [0.1, 0.05, 0.1 / 3, 0.025])  # the lecture's table


def test_warmup_inverse_sqrt_matches_lambdalr_and_peaks_at_warmup():
    d_model, warmup = 512, 40
    ours = np.array([optim.warmup_inverse_sqrt(s, d_model, warmup) for s in range(1, 201)])
    # LambdaLR multiplies the base lr (1 here) by the lambda of the epoch count, from 0.
    lam = lambda e: d_model**-0.5 * min((e + 1) ** -0.5, (e + 1) * warmup**-1.5)  # noqa: E731
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lam), 1.0, 200)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert int(np.argmax(ours)) + 1 == warmup
    assert ours.max() == pytest.approx((d_model * warmup) ** -0.5)
    np.testing.assert_allclose(np.diff(ours[:warmup]), ours[0])  # linear warm-up from 0
    with pytest.raises(ValueError):
        optim.warmup_inverse_sqrt(0, d_model, warmup)


def test_schedules_reject_negative_steps():
    for fn, args in [(optim.step_decay, (0.1, 5)), (optim.exponential_decay, (0.1, 0.9)),
                     (optim.inverse_time_decay, (0.1, 1.0)), (optim.cosine_annealing, (0.1, 10))]:
        with pytest.raises(ValueError):
            fn(-1, *args)
    assert math.isclose(optim.step_decay(0, 0.1, 5), 0.1)
