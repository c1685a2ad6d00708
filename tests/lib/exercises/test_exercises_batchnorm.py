"""dlcourse.exercises.batchnorm: the graded exercises of notebook 05 accept the reference and other correct
implementations, reject every listed mistake on some case and name it, and judge dropout by its statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import exercises, graded
from dlcourse.exercises.batchnorm import check_dropout, run_batchnorm_module, running_stats_after
from dlcourse.graded import run_case
from dlcourse.reference import layers, norm, norm_modules

pytestmark = pytest.mark.notebook("05_batchnorm")

NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("batchnorm."))


def test_the_notebook_has_at_least_seven_exercises():
    assert len(NAMES) >= 7


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert ex.mistakes, f"{name} lists no known mistakes"
    all_cases = ex.seeded_cases(0)
    for mistake in ex.mistakes:
        failing = [c for c in all_cases if not ex.judge(c, run_case(mistake.fn, c)).ok]
        assert failing, f"{name}: no case catches the mistake {mistake.hint!r}"
        hints = {ex.diagnose(c, run_case(mistake.fn, c)) for c in failing}
        assert any("Likely mistake" in h for h in hints), f"{name}: {mistake.hint!r} is never named"


@pytest.mark.parametrize("seed", [0, 1])
def test_cases_are_seeded_and_reach_the_edges(seed):
    for name in NAMES:
        labels = [c["label"] for c in exercises.get(name).seeded_cases(seed)]
        assert labels == [c["label"] for c in exercises.get(name).seeded_cases(seed)]
    bn = " ".join(c["label"] for c in exercises.get("batchnorm.batchnorm_forward").seeded_cases(seed))
    assert "single sample" in bn and "batch of 2" in bn and "1e6" in bn and "eps" in bn


# ---- batch norm forward: graded on the output and the running statistics


def test_running_stats_after_reads_the_statistics_left_in_bn_param():
    x = np.arange(6.0).reshape(3, 2)
    param = {"mode": "train", "momentum": 0.5}
    _, mean, var = running_stats_after(norm.batchnorm_forward, x, np.ones(2), np.zeros(2), param)
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=0))
    np.testing.assert_allclose(var, 0.5 * x.var(axis=0))
    assert mean is param["running_mean"]


def test_a_forward_pass_that_writes_into_x_is_rejected():
    def centring_in_place(x, gamma, beta, bn_param):
        out, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
        x -= x.mean(axis=0)
        return out, cache

    with pytest.raises(AssertionError, match="changed argument `x` in place"):
        graded.hidden_test("batchnorm.batchnorm_forward",
                           lambda x, gamma, beta, bn_param: running_stats_after(centring_in_place, x, gamma, beta,
                                                                                bn_param))


def test_a_backward_pass_with_its_own_cache_is_accepted():
    def forward(x, gamma, beta, bn_param):  # a different cache: (x, gamma, eps), mode recorded
        out, _ = norm.batchnorm_forward(x, gamma, beta, bn_param)
        mode = bn_param["mode"]
        stats = (bn_param["running_mean"], bn_param["running_var"]) if mode == "test" else None
        return out, (x, gamma, bn_param.get("eps", 1e-5), mode, stats)

    def backward(dout, cache):
        x, gamma, eps, mode, stats = cache
        mu, var = stats if mode == "test" else (x.mean(axis=0), x.var(axis=0))
        x_hat = (x - mu) / np.sqrt(var + eps)
        if mode == "test":
            return dout * gamma / np.sqrt(var + eps), (dout * x_hat).sum(0), dout.sum(0)
        g = dout * gamma
        dx = (g - g.mean(0) - x_hat * (g * x_hat).mean(0)) / np.sqrt(var + eps)
        return dx, (dout * x_hat).sum(0), dout.sum(0)

    for name in ("batchnorm.batchnorm_backward", "batchnorm.batchnorm_backward_alt"):
        assert graded.hidden_test(name, lambda x, gamma, beta, bn_param, dout: backward(
            dout, forward(x, gamma, beta, bn_param)[1])) > 0


# ---- the module


def test_the_module_program_matches_torch_batchnorm1d_in_training():
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 5, 4))
    weight, bias = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    ours = run_batchnorm_module(norm_modules.BatchNorm1d, x, dout, rng.standard_normal((2, 4)), weight, bias, 0.9)

    class TorchWithOurMomentum(nn.BatchNorm1d):
        def __init__(self, num_features, momentum=0.9, dtype=None):
            super().__init__(num_features, momentum=1 - momentum, dtype=dtype)

    theirs = run_batchnorm_module(TorchWithOurMomentum, x, dout, rng.standard_normal((2, 4)), weight, bias, 0.9)
    for a, b in zip(ours[:4], theirs[:4], strict=True):  # outputs and gradients of every training step
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-10)  # running mean; torch's running var is unbiased
    assert np.all(theirs[6] > ours[6])


def test_a_module_with_torch_default_variance_is_named():
    class UnbiasedBatchNorm(norm_modules.BatchNorm1d):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            mean, var = x.mean(dim=0), x.var(dim=0)  # torch's default: unbiased, here for both uses
            with torch.no_grad():
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var)
            return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias

    with pytest.raises(AssertionError, match="UNBIASED by default"):
        graded.hidden_test("batchnorm.BatchNorm1d", lambda *args: run_batchnorm_module(UnbiasedBatchNorm, *args))


# ---- dropout, judged by its statistics


def dropout_pair(draw):
    """forward + backward of inverted dropout whose keep-mask is draw(rng, shape, p)."""
    def run(x, p, mode, rng, dout):
        if mode == "test":
            return x.copy(), dout.copy()
        mask = draw(rng, x.shape, p) / (1 - p)
        return x * mask, dout * mask

    return run


CORRECT_DRAWS = {
    "reference": lambda x, p, mode, rng, dout: (lambda out, cache: (out, layers.dropout_backward(dout, cache)))(
        *layers.dropout_forward(x, p, mode, rng)),
    "binomial": dropout_pair(lambda rng, shape, p: rng.binomial(1, 1 - p, shape)),
    "random below keep probability": dropout_pair(lambda rng, shape, p: rng.random(shape) < 1 - p),
    "a permutation of exactly round(p n) zeros": dropout_pair(
        lambda rng, shape, p: rng.permutation(np.arange(np.prod(shape)) >= round(p * np.prod(shape))).reshape(shape)),
}

WRONG_DRAWS = {
    "no rescaling": (lambda x, p, mode, rng, dout: (x * (rng.random(x.shape) >= p), dout * (rng.random(x.shape) >= p))
                     if mode == "train" else (x, dout), "not rescaled"),
    "keep probability": (dropout_pair(lambda rng, shape, p: rng.random(shape) >= 1 - p), "DROPPING"),
    "one mask for every sample": (dropout_pair(lambda rng, shape, p: np.broadcast_to(rng.random(shape[1:]) >= p,
                                                                                     shape)), "same mask"),
    "scaled at test time": (lambda x, p, mode, rng, dout: (x * (1 - p), dout) if mode == "test" else
                            CORRECT_DRAWS["binomial"](x, p, mode, rng, dout), "identity"),
    "backward without the scale": (
        lambda x, p, mode, rng, dout: (lambda keep: (x * keep / (1 - p), dout * keep))(rng.random(x.shape) >= p)
        if mode == "train" else (x, dout), "same mask"),
}


@pytest.mark.parametrize("label", CORRECT_DRAWS)
def test_dropout_accepts_any_correct_way_to_draw(label):
    assert graded.hidden_test("batchnorm.dropout", CORRECT_DRAWS[label]) > 0


@pytest.mark.parametrize("label", WRONG_DRAWS)
def test_dropout_rejects_and_explains(label):
    fn, words = WRONG_DRAWS[label]
    with pytest.raises(AssertionError, match=words):
        graded.hidden_test("batchnorm.dropout", fn)


def test_dropout_check_in_test_mode_and_shapes():
    x, dout = np.ones((2, 3)), np.full((2, 3), 2.0)
    case = {"args": [x, 0.5, "test", None, dout]}
    assert check_dropout(case, [x, dout]).ok
    assert "identity" in check_dropout(case, [0.5 * x, dout]).message
    assert "shape" in check_dropout(case, [x[:1], dout]).message
    assert "expected (out, dx)" in check_dropout(case, [x]).message


def test_the_hand_out_judges_dropout_by_the_moments_of_a_reference_sample(tmp_path):
    """Without the reference (the student hand-out), visible dropout cases compare moments: any correct way of
    drawing passes, an unscaled mask does not."""
    from dlcourse.exercises import recorded

    recorded.write_records({"batchnorm.dropout": exercises.get("batchnorm.dropout")}, tmp_path)
    record = recorded.load("batchnorm.dropout", tmp_path)
    assert record.mode == "moments"
    cases = record.seeded_cases(0)
    for label in CORRECT_DRAWS:
        assert all(record.judge(c, run_case(CORRECT_DRAWS[label], c)).ok for c in cases), label
    no_rescale, _ = WRONG_DRAWS["no rescaling"]
    assert not all(record.judge(c, run_case(no_rescale, c)).ok for c in cases)
