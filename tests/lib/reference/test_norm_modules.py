"""Tests of dlcourse.reference.norm_modules: the hand-made BatchNorm1d and LayerNorm.

Against torch.nn.BatchNorm1d / nn.LayerNorm in float64 (outputs, input and
parameter gradients, running statistics with torch's momentum = 1 - ours and its
unbiased running variance mapped explicitly), and against the NumPy reference
dlcourse.reference.norm step by step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.reference import norm, norm_modules

TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding
EPS = 1e-5


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def make(seed: int, N: int, D: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x with a different mean and scale per feature, gamma, beta and dout, all float64."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 3.0, size=D) * rng.standard_normal((N, D)) + rng.uniform(-2.0, 2.0, size=D)
    return x, rng.uniform(0.5, 1.5, size=D), rng.standard_normal(D), rng.standard_normal((N, D))


def _copy_affine(src: nn.Module, dst: nn.Module) -> None:
    with torch.no_grad():
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def _forward_backward(module: nn.Module, x: np.ndarray, dout: np.ndarray) -> list[np.ndarray]:
    xt = t(x, True)
    module.zero_grad()
    out = module(xt)
    out.backward(t(dout))
    return [out.detach().numpy(), xt.grad.numpy(), module.weight.grad.numpy(), module.bias.grad.numpy()]


def test_handmade_batchnorm1d_matches_torch_train_and_eval() -> None:
    N, D, momentum = 6, 4, 0.8
    ours = norm_modules.BatchNorm1d(D, eps=EPS, momentum=momentum, dtype=torch.float64)
    theirs = nn.BatchNorm1d(D, eps=EPS, momentum=1 - momentum, dtype=torch.float64)
    rng = np.random.default_rng(20)
    with torch.no_grad():
        ours.weight.copy_(t(rng.uniform(0.5, 1.5, D)))
        ours.bias.copy_(t(rng.standard_normal(D)))
    _copy_affine(ours, theirs)
    np.testing.assert_array_equal(ours.running_var.numpy(), theirs.running_var.numpy())  # both start at ones
    for step in range(4):
        x, _, _, dout = make(21 + step, N, D)
        old_ours, old_theirs = ours.running_var.clone().numpy(), theirs.running_var.clone().numpy()
        for a, b in zip(_forward_backward(ours, x, dout), _forward_backward(theirs, x, dout), strict=True):
            assert rel_error(a, b) < TORCH_TOL
        np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(theirs.running_var.numpy() - momentum * old_theirs,
                                   (ours.running_var.numpy() - momentum * old_ours) * N / (N - 1), rtol=1e-12)
    # Eval: with the same running statistics both are the same affine map.
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        theirs.running_var.copy_(ours.running_var)
    x, _, _, dout = make(30, 3, D)
    before = ours.running_mean.clone(), ours.running_var.clone()
    for a, b in zip(_forward_backward(ours, x, dout), _forward_backward(theirs, x, dout), strict=True):
        assert rel_error(a, b) < TORCH_TOL
    assert torch.equal(before[0], ours.running_mean) and torch.equal(before[1], ours.running_var)


def test_handmade_batchnorm1d_equals_the_numpy_reference() -> None:
    """The module follows the NumPy convention step by step (given the same starting statistics)."""
    N, D, momentum = 5, 3, 0.7
    module = norm_modules.BatchNorm1d(D, momentum=momentum, dtype=torch.float64)
    param = {"mode": "train", "momentum": momentum, "running_mean": np.zeros(D), "running_var": np.ones(D)}
    for step in range(3):
        x, _, _, dout = make(40 + step, N, D)
        out, cache = norm.batchnorm_forward(x, np.ones(D), np.zeros(D), param)
        out_m, dx_m, dgamma_m, dbeta_m = _forward_backward(module, x, dout)
        assert rel_error(out, out_m) < TORCH_TOL
        for a, b in zip(norm.batchnorm_backward(dout, cache), (dx_m, dgamma_m, dbeta_m), strict=True):
            assert rel_error(a, b) < TORCH_TOL
        np.testing.assert_allclose(module.running_mean.numpy(), param["running_mean"], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(module.running_var.numpy(), param["running_var"], rtol=1e-13)
    module.eval()
    x = make(50, 1, D)[0]
    out, _ = norm.batchnorm_forward(x, np.ones(D), np.zeros(D), dict(param, mode="test"))
    assert rel_error(out, module(t(x)).detach().numpy()) < TORCH_TOL


@pytest.mark.parametrize("shape", [(4, 7), (1, 5), (2, 3, 6)])
def test_handmade_layernorm_matches_torch(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(60)
    D = shape[-1]
    ours, theirs = norm_modules.LayerNorm(D, dtype=torch.float64), nn.LayerNorm(D, eps=EPS, dtype=torch.float64)
    with torch.no_grad():
        ours.weight.copy_(t(rng.uniform(0.5, 1.5, D)))
        ours.bias.copy_(t(rng.standard_normal(D)))
    _copy_affine(ours, theirs)
    x, dout = 2 * rng.standard_normal(shape) + 1, rng.standard_normal(shape)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        for a, b in zip(_forward_backward(ours, x, dout), _forward_backward(theirs, x, dout), strict=True):
            assert rel_error(a, b) < TORCH_TOL


def test_handmade_modules_have_the_torch_parameter_names() -> None:
    bn = norm_modules.BatchNorm1d(3)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    torch.testing.assert_close(bn.running_var, torch.ones(3))
    torch.testing.assert_close(bn.running_mean, torch.zeros(3))
    assert [n for n, _ in norm_modules.LayerNorm(3).named_parameters()] == ["weight", "bias"]




@pytest.mark.parametrize(
    ("module", "shape", "match"),
    [
        (norm_modules.BatchNorm1d(3), (4, 5), r"\(N, D\) = \(N, 3\), got \(4, 5\)"),
        (norm_modules.BatchNorm1d(3), (4, 3, 2), r"\(N, D\) = \(N, 3\)"),
        (norm_modules.LayerNorm(3), (4, 5), r"\(\.\.\., D\) = \(\.\.\., 3\), got \(4, 5\)"),
    ],
)
def test_modules_reject_wrong_shapes(module: nn.Module, shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        module(torch.zeros(shape))


def test_one_sample_is_refused_in_train_mode_and_fine_in_eval_mode() -> None:
    """Tokyo DL2, "train/eval mode in PyTorch": the hand-made module behaves as torch's,
    whose message the error quotes."""
    D = 10
    for bn in (norm_modules.BatchNorm1d(D), nn.BatchNorm1d(D)):
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
            bn(torch.zeros(1, D))
        bn.eval()
        assert bn(torch.zeros(1, D)).shape == (1, D)
    # Layer norm needs no batch: one sample is fine in both modes.
    ln = norm_modules.LayerNorm(D)
    assert ln(torch.ones(1, D)).shape == (1, D)


def test_bias_before_batchnorm_gets_no_gradient() -> None:
    """Tokyo DL2 and I2DL lecture 8: the mean subtraction cancels any bias added before batch norm,
    so its gradient is zero (up to rounding) and Linear(bias=False) loses nothing."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), norm_modules.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).double()
    x = torch.randn(8, 6, dtype=torch.float64)
    nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
    assert net[0].bias.grad.abs().max() < 1e-15
    assert net[0].weight.grad.abs().max() > 1e-3


def test_gradients_reach_the_parameters_but_not_the_buffers() -> None:
    bn = norm_modules.BatchNorm1d(3, dtype=torch.float64)
    x = t(make(70, 5, 3)[0], True)
    (bn(x) ** 2).sum().backward()
    assert bn.weight.grad is not None and bn.bias.grad is not None and x.grad is not None
    assert not bn.running_mean.requires_grad and not bn.running_var.requires_grad
    assert bn.running_mean.grad_fn is None and bn.running_var.grad_fn is None


@pytest.mark.parametrize(
    ("fn", "args", "match"),
    [
        pytest.param(norm_modules.BatchNorm1d, (0,), r"num_features must be a positive integer", id="bn-D"),
        pytest.param(norm_modules.BatchNorm1d, (3, 1e-5, -0.1), r"momentum must lie in \[0, 1\]", id="bn-momentum"),
        pytest.param(norm_modules.BatchNorm1d, (3, 0.0), r"eps must be > 0", id="bn-eps"),
        pytest.param(norm_modules.LayerNorm, (3, 0.0), r"eps must be > 0", id="ln-eps"),
        pytest.param(norm_modules.LayerNorm, (True,), r"normalized_shape must be a positive integer", id="ln-bool"),
    ],
)
def test_bad_arguments_raise_value_error(fn, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
