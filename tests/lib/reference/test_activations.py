"""Tests of dlcourse.reference.activations: ELU and PReLU.

Every backward pass twice: central differences (away from the kink at 0, where they would straddle it) and
PyTorch autograd in float64 (torch.nn.functional.elu, torch.nn.functional.prelu, which also fix the kink's
convention); worked examples by hand; no argument changed; bad input named.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import activations as act

NUM_TOL = 1e-7
TORCH_TOL = 1e-12


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 2.0) -> np.ndarray:
    x = scale * rng.standard_normal(shape)
    return np.sign(x) * (0.05 + np.abs(x))


# ---- ELU


def test_elu_by_hand() -> None:
    out, slope = act.elu(np.array([-1.0, 0.0, 2.0]), alpha=2.0)
    np.testing.assert_allclose(out, [2.0 * (math.exp(-1.0) - 1.0), 0.0, 2.0], rtol=1e-15)
    # At x = 0 the left branch: slope alpha e^0 = alpha (torch's convention); 1 for x > 0.
    np.testing.assert_allclose(slope, [2.0 * math.exp(-1.0), 2.0, 1.0], rtol=1e-15)


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_elu_matches_torch_and_central_differences(alpha: float) -> None:
    rng = np.random.default_rng(0)
    x = away_from_zero(rng, (4, 7))
    x[0, :3] = [0.0, -0.0, 1e-12]  # the kink itself, for torch's convention
    out, cache = act.elu_forward(x, alpha)
    dout = rng.standard_normal(x.shape)
    dx = act.elu_backward(dout, cache)
    t = torch.tensor(x, requires_grad=True)
    y = F.elu(t, alpha=alpha)
    y.backward(torch.tensor(dout))
    assert rel_error(out, y.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, t.grad.numpy()) < TORCH_TOL
    xs = x[1:].copy()
    num = eval_numerical_gradient_array(lambda v: act.elu_forward(v, alpha)[0], xs, dout[1:])
    assert rel_error(act.elu_backward(dout[1:], act.elu_forward(xs, alpha)[1]), num) < NUM_TOL


def test_elu_never_overflows_and_keeps_tiny_values() -> None:
    x = np.array([-800.0, -400.0, -1e-12, 400.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        out, slope = act.elu(x)
    np.testing.assert_allclose(out, [-1.0, -1.0, math.expm1(-1e-12), 400.0, 800.0], rtol=1e-15)
    np.testing.assert_allclose(slope, [0.0, math.exp(-400.0), math.exp(-1e-12), 1.0, 1.0], rtol=1e-15)


def test_elu_does_not_change_its_arguments() -> None:
    x = np.random.default_rng(1).standard_normal((3, 4))
    before = x.copy()
    out, cache = act.elu_forward(x)
    dout = np.ones_like(out)
    act.elu_backward(dout, cache)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(dout, np.ones_like(out))


def test_elu_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="alpha"):
        act.elu(np.zeros(3), alpha=float("nan"))
    with pytest.raises(ValueError, match="dout has shape"):
        act.elu_backward(np.zeros(4), act.elu_forward(np.zeros(3))[1])


# ---- PReLU


def test_prelu_by_hand() -> None:
    x = np.array([[-2.0, 0.0, 3.0], [1.0, -4.0, -1.0]])
    a = np.array([0.5, 0.1, 0.0])
    out, cache = act.prelu_forward(x, a)
    np.testing.assert_array_equal(out, [[-1.0, 0.0, 3.0], [1.0, -0.4, 0.0]])
    dx, da = act.prelu_backward(np.ones_like(x), cache)
    # slope a where x <= 0 (x = 0 included, like torch), 1 elsewhere; da sums min(0, x) * dout over the batch.
    np.testing.assert_array_equal(dx, [[0.5, 0.1, 1.0], [1.0, 0.1, 0.0]])
    np.testing.assert_array_equal(da, [-2.0, -4.0, -1.0])


def test_prelu_matches_torch_and_central_differences() -> None:
    rng = np.random.default_rng(2)
    x, a = away_from_zero(rng, (6, 5)), rng.uniform(-0.5, 1.5, 5)
    x[0, 0] = 0.0  # the kink: torch takes the slope a there
    dout = rng.standard_normal(x.shape)
    out, dx, da = act.prelu(x, a, dout)
    tx, ta = torch.tensor(x, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = F.prelu(tx, ta)  # one weight per channel, dimension 1 of an (N, D) input
    y.backward(torch.tensor(dout))
    assert rel_error(out, y.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, tx.grad.numpy()) < TORCH_TOL
    assert rel_error(da, ta.grad.numpy()) < TORCH_TOL
    xs = x[1:].copy()
    _, dx_s, da_s = act.prelu(xs, a, dout[1:])
    num_x = eval_numerical_gradient_array(lambda v: act.prelu_forward(v, a)[0], xs, dout[1:])
    num_a = eval_numerical_gradient_array(lambda v: act.prelu_forward(xs, v)[0], a.copy(), dout[1:])
    assert rel_error(dx_s, num_x) < NUM_TOL
    assert rel_error(da_s, num_a) < NUM_TOL


def test_prelu_special_slopes_are_relu_leaky_and_identity() -> None:
    x = away_from_zero(np.random.default_rng(3), (4, 3))
    np.testing.assert_array_equal(act.prelu_forward(x, np.zeros(3))[0], np.maximum(x, 0.0))
    np.testing.assert_allclose(act.prelu_forward(x, np.full(3, 0.01))[0], np.maximum(x, 0.01 * x), rtol=1e-15)
    np.testing.assert_array_equal(act.prelu_forward(x, np.ones(3))[0], x)


def test_prelu_does_not_change_its_arguments() -> None:
    rng = np.random.default_rng(4)
    x, a, dout = rng.standard_normal((3, 4)), rng.uniform(0, 1, 4), rng.standard_normal((3, 4))
    saved = [v.copy() for v in (x, a, dout)]
    act.prelu(x, a, dout)
    for v, s in zip((x, a, dout), saved, strict=True):
        np.testing.assert_array_equal(v, s)


def test_prelu_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"a must have shape \(D,\) = \(4,\)"):
        act.prelu_forward(np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\)"):
        act.prelu_forward(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="dout has shape"):
        act.prelu_backward(np.zeros((2, 3)), act.prelu_forward(np.zeros((2, 4)), np.zeros(4))[1])
