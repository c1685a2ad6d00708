"""dlcourse.checks.gradients: central differences and gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import checks


def test_numerical_gradient_of_a_scalar_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    g = checks.eval_numerical_gradient(lambda v: float(np.sum(v**3)), x.copy())
    assert checks.rel_error(g, 3 * x**2) < 1e-7


def test_numerical_gradient_array_is_a_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal(5), rng.standard_normal(5)
    g = checks.eval_numerical_gradient_array(np.tanh, x.copy(), dout)
    assert checks.rel_error(g, dout * (1 - np.tanh(x) ** 2)) < 1e-8


def test_numerical_gradient_leaves_x_unchanged():
    x = np.arange(4.0)
    checks.eval_numerical_gradient(lambda v: float(v @ v), x)
    assert np.array_equal(x, np.arange(4.0))


def test_both_numerical_gradients_agree_and_restore_x_when_f_raises():
    # eval_numerical_gradient_array with dout = 1 differentiates sum(f(x)): the scalar version's job.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3))
    scalar = checks.eval_numerical_gradient(lambda v: float(np.sum(np.sin(v))), x.copy())
    array = checks.eval_numerical_gradient_array(np.sin, x.copy(), np.ones((2, 3)))
    assert checks.rel_error(scalar, array) < 1e-9
    before = x.copy()

    def fails_on_second_probe(v):
        if v[0, 0] < before[0, 0]:
            raise RuntimeError("f broke")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="f broke"):
        checks.eval_numerical_gradient(fails_on_second_probe, x)
    assert np.array_equal(x, before), "x must be restored even when f raises mid-probe"


def test_dout_of_the_wrong_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"f\(x\) has shape \(3,\) but dout has shape \(2,\)"):
        checks.eval_numerical_gradient_array(lambda v: v.sum(axis=0), np.ones((2, 3)), np.ones(2))


def test_float32_is_refused_with_a_reason():
    with pytest.raises(TypeError, match="float64"):
        checks.eval_numerical_gradient(lambda v: float(v.sum()), np.ones(3, dtype=np.float32))


def _affine(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    return {"x": x, "w": w, "b": b}


def test_gradcheck_accepts_a_right_backward_and_names_a_wrong_one():
    inputs = _affine(np.random.default_rng(2))

    def forward(x, w, b):
        return x @ w + b

    def right(dout):
        return dout @ inputs["w"].T, inputs["x"].T @ dout, dout.sum(axis=0)

    errors = checks.gradcheck(forward, right, inputs)
    assert max(errors.values()) < 1e-7

    def flipped(dout):
        return dout @ inputs["w"].T, -(inputs["x"].T @ dout), dout.sum(axis=0)

    with pytest.raises(AssertionError, match="dw.*sign is flipped"):
        checks.gradcheck(forward, flipped, inputs)

    def wrong_shape(dout):
        return dout @ inputs["w"].T, inputs["x"].T @ dout, dout.sum(axis=1)

    with pytest.raises(AssertionError, match="db: shape"):
        checks.gradcheck(forward, wrong_shape, inputs)


def test_gradcheck_says_when_backward_changed_dout_in_place():
    x = np.random.default_rng(0).standard_normal((3, 4))

    def backward(dout):
        dx = dout
        dx *= 2 * x  # right value, but the caller's dout is gone
        return dx

    with pytest.raises(AssertionError, match="backward changed `dout` in place"):
        checks.gradcheck(lambda x: x ** 2, backward, {"x": x})


def test_gradcheck_says_when_forward_changed_its_input_in_place():
    def forward(x):
        x -= x.max()
        return x

    with pytest.raises(AssertionError, match="forward changed `x` in place"):
        checks.gradcheck(forward, lambda dout: dout, {"x": np.random.default_rng(1).standard_normal(5)})
