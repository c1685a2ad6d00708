"""Notebook 02's layer exercises: affine forward/backward, sigmoid and leaky-ReLU backward, softmax cross entropy
and the multiclass hinge (SVM) loss.

Functions returning ``(out, cache)`` are wrapped in the test cell so that only numbers are compared. The edge
cases are those a naive formula gets wrong in float64: sigmoids of |x| >= 400, softmax rows whose largest scores
are 1000 apart (one shift for the whole batch underflows a row), a true class of probability e^-1000 (its log is
-inf once the probability is computed first), hinge margins of exactly 0 (the kink).
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module, reference

# Float64 is required (the docstrings say so): a float32 output fails as such (float64=True), and so does a float32
# computation cast back to float64, off by ~1e-7 relative; any float64 computation, in whatever order, agrees to
# ~1e-15.
RTOL, ATOL = 1e-9, 1e-12

# -- affine layer ------------------------------------------------------------------------------

def _affine_cases(rng: np.random.Generator, with_dout: bool) -> list[Case]:
    shapes = [(int(rng.integers(2, 9)), int(rng.integers(2, 7))) for _ in range(2)]
    shapes += [(int(rng.integers(2, 5)), 2, 3, 2), (1, int(rng.integers(2, 6)))]
    labels = ["random x (N, D) 1", "random x (N, D) 2", "x of shape (N, 2, 3, 2): flatten each example",
              "a batch of one example"]
    cases = []
    for shape, label in zip(shapes, labels, strict=True):
        N, D, M = shape[0], int(np.prod(shape[1:])), int(rng.integers(2, 6))
        args = [rng.standard_normal(shape), rng.standard_normal((D, M)), rng.standard_normal(M)]
        if with_dout:
            args.append(rng.standard_normal((N, M)))
        cases.append(Case(tuple(args), label=f"{label} (M={M})"))
    return cases


register(Exercise(
    name="backprop.affine_forward",
    reference=lambda x, w, b: module("layers").affine_forward(x, w, b)[0],
    cases=lambda rng: _affine_cases(rng, with_dout=False),
    names=("out",),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("the bias b is missing: out = x w + b.", lambda x, w, b: x.reshape(x.shape[0], -1) @ w),
        Mistake("b is added to every ROW (one b_m per output unit m), broadcast over the batch.",
                lambda x, w, b: x.reshape(x.shape[0], -1) @ w + b.sum()),
    ),
))


def _affine_backward_ref(x, w, b, dout):
    layers = module("layers")
    return layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])


def _affine_db_mean(x, w, b, dout):
    dx, dw, _ = _affine_backward_ref(x, w, b, dout)
    return dx, dw, dout.mean(axis=0)


def _affine_dw_transposed(x, w, b, dout):
    dx, dw, db = _affine_backward_ref(x, w, b, dout)
    return dx, dw.T, db


register(Exercise(
    name="backprop.affine_backward",
    reference=_affine_backward_ref,
    cases=lambda rng: _affine_cases(rng, with_dout=True),
    names=("dx", "dw", "db"),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("db sums dout over the batch (np.sum(dout, axis=0)); b was added to every row, not averaged.",
                _affine_db_mean),
        Mistake("dw = x^T dout, of shape (D, M) like w; dout^T x is its transpose.", _affine_dw_transposed),
    ),
))


# -- activations -----------------------------------------------------------------------------

def _activation_cases(rng: np.random.Generator, extra: list[Case]) -> list[Case]:
    cases = []
    for k, shape in enumerate([(int(rng.integers(2, 8)), int(rng.integers(2, 8))), (int(rng.integers(2, 20)),),
                               (2, 3, 4)]):
        cases.append(Case((rng.standard_normal(shape) * 3, rng.standard_normal(shape)),
                          label=f"random x and dout {k + 1}, shape {shape}"))
    return cases + extra


def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    x = np.array([-30.0, -5.0, 0.0, 5.0, 30.0])
    far = np.array([-1000.0, -400.0, 400.0, 1000.0])
    return _activation_cases(rng, [
        Case((x, np.ones(5)), label="saturation: x far from 0 (gradient near 0)"),
        Case((far, rng.standard_normal(4)), label="x = -1000, -400, 400, 1000: s is 0 or 1 to float64 precision"),
    ])


def _sigmoid_backward_ref(x, dout):
    layers = module("layers")
    return layers.sigmoid_backward(dout, layers.sigmoid_forward(x)[1])


def _sigmoid_s(x):
    return module("layers").sigmoid_forward(x)[0]


register(Exercise(
    name="backprop.sigmoid_backward",
    reference=_sigmoid_backward_ref,
    cases=_sigmoid_cases,
    names=("dx",),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("the local derivative must be multiplied by dout, the upstream gradient.",
                lambda x, dout: _sigmoid_s(x) * (1 - _sigmoid_s(x))),
        Mistake("sigma'(x) = sigma(x) (1 - sigma(x)): one factor is missing.",
                lambda x, dout: dout * _sigmoid_s(x)),
        Mistake("sigma'(x) = sigma(x) (1 - sigma(x)): one factor is missing.",
                lambda x, dout: dout * (1 - _sigmoid_s(x))),
    ),
))


def _leaky_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, alpha in enumerate([0.0, 0.01, float(np.round(rng.uniform(0.05, 0.3), 3))]):
        shape = (int(rng.integers(2, 8)), int(rng.integers(2, 8)))
        label = "alpha = 0: plain ReLU" if alpha == 0 else f"random x and dout {k}, alpha = {alpha}"
        cases.append(Case((rng.standard_normal(shape), alpha, rng.standard_normal(shape)), label=label))
    x = np.array([-2.0, -0.0, 0.0, 1e-9, 3.0])
    cases.append(Case((x, 0.1, rng.standard_normal(5)), label="x exactly 0 (the slope there is alpha, as in PyTorch)"))
    return cases


def _leaky_ref(x, alpha, dout):
    layers = module("layers")
    return layers.leaky_relu_backward(dout, layers.leaky_relu_forward(x, alpha)[1])


register(Exercise(
    name="backprop.leaky_relu_backward",
    reference=_leaky_ref,
    cases=_leaky_cases,
    names=("dx",),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("where x <= 0 the slope is alpha, not 0 (that would be the plain ReLU).",
                lambda x, alpha, dout: dout * (x > 0)),
        Mistake("the local slope (1 or alpha) must be multiplied by dout, the upstream gradient.",
                lambda x, alpha, dout: np.where(x > 0, 1.0, alpha)),
        Mistake("at x = 0 exactly the slope is alpha: test x > 0, not x >= 0.",
                lambda x, alpha, dout: np.where(x >= 0, dout, alpha * dout)),
    ),
))


# -- softmax cross entropy ------------------------------------------------------------------

def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        N, C = int(rng.integers(2, 12)), int(rng.integers(2, 8))
        cases.append(Case((rng.standard_normal((N, C)) * 2, rng.integers(0, C, N)),
                          label=f"random scores {k + 1} (N={N}, C={C})"))
    C = int(rng.integers(3, 10))
    cases.append(Case((np.zeros((4, C)), rng.integers(0, C, 4)), label=f"all scores equal: the loss is log {C}"))
    cases.append(Case((np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 2.0]]), np.array([0, 1])),
                      label="huge scores (subtract each row's max before exp)"))
    cases.append(Case((np.array([[900.0, 899.0, 0.0], [-100.0, -101.0, -103.0]]), np.array([1, 2])),
                      label="rows whose largest scores are 1000 apart: subtract EACH ROW's maximum "
                            "(max(axis=1, keepdims=True)), not the largest score of the whole batch"))
    cases.append(Case((np.array([[50.0, 10.0, -30.0]]), np.array([2])),
                      label="a very confident wrong prediction (p of the true class is e^-80)"))
    cases.append(Case((np.array([[0.0, 1000.0, 0.0], [1.0, 2.0, 3.0]]), np.array([0, 2])),
                      label="p of the true class is e^-1000, 0 in float64: the loss is 1000, so take "
                            "log p = shifted score - log(sum of exp(shifted scores)), not the log of p"))
    cases.append(Case((rng.standard_normal((1, 5)), np.array([3])), label="a batch of one"))
    return cases


def _softmax_probs(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_sum(scores, y):
    loss, d = module("layers").softmax_cross_entropy(scores, y)
    return loss * len(y), d * len(y)


def _softmax_grad_no_onehot(scores, y):
    loss, _ = module("layers").softmax_cross_entropy(scores, y)
    return loss, _softmax_probs(scores) / len(y)


def _softmax_grad_no_mean(scores, y):
    loss, d = module("layers").softmax_cross_entropy(scores, y)
    return loss, d * len(y)


def _softmax_log_eps(scores, y):
    _, d = module("layers").softmax_cross_entropy(scores, y)
    p = _softmax_probs(scores)
    return -float(np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))), d


register(Exercise(
    name="backprop.softmax_cross_entropy",
    reference=reference("layers.softmax_cross_entropy"),
    cases=_softmax_cases,
    names=("loss", "dscores"),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("the loss is the MEAN over the batch: divide the sum of -log p by N (and dscores too).",
                _softmax_sum),
        Mistake("dscores = (softmax(scores) - onehot(y)) / N: subtract 1 at each row's true class.",
                _softmax_grad_no_onehot),
        Mistake("dscores must be divided by N, because the loss is a mean over the batch.", _softmax_grad_no_mean),
        Mistake("log(p + 1e-12) caps each example's loss at about 27.6: compute log p directly as the shifted "
                "score minus the log of the sum of exp(shifted scores).", _softmax_log_eps),
    ),
))


# -- multiclass hinge (SVM) loss -----------------------------------------------------------

def _svm_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        N, C = int(rng.integers(2, 12)), int(rng.integers(2, 8))
        cases.append(Case((np.round(1.5 * rng.standard_normal((N, C)), 2), rng.integers(0, C, N)),
                          label=f"random scores {k + 1} (N={N}, C={C})"))
    cases.append(Case((np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]), np.array([0, 1, 2])),
                      label="the lecture's cat, chair and car: losses 2.9, 0 and 12.9"))
    cases.append(Case((np.array([[2.0, 3.0, 1.0], [0.0, 0.0, -1.0], [4.0, 4.5, 3.5]]), np.array([1, 0, 2])),
                      label="margins of exactly 0 (the kink): such a term adds nothing to the loss or the gradient"))
    C = int(rng.integers(3, 8))
    cases.append(Case((np.zeros((3, C)), rng.integers(0, C, 3)),
                      label=f"all scores equal: every margin is 1, the loss is C - 1 = {C - 1}"))
    cases.append(Case((np.array([[5.0, -3.0, 2.0], [5.0, -20.0, -20.0]]), np.array([0, 0])),
                      label="the true class wins by more than 1: loss and gradient exactly 0"))
    cases.append(Case((np.round(rng.standard_normal((1, 6)), 2), np.array([4])), label="a batch of one"))
    return cases


def _svm_parts(scores, y):
    N = len(y)
    margins = scores - scores[np.arange(N), y][:, None] + 1.0
    return N, margins


def _svm_with_true_class(scores, y):
    N, margins = _svm_parts(scores, y)
    active = margins > 0
    d = active.astype(float)
    d[np.arange(N), y] -= active.sum(axis=1)
    return float(np.sum(margins[active])) / N, d / N


def _svm_kink_active(scores, y):
    N, margins = _svm_parts(scores, y)
    margins[np.arange(N), y] = -1.0
    active = margins >= 0
    d = active.astype(float)
    d[np.arange(N), y] = -active.sum(axis=1)
    return float(np.sum(margins[margins > 0])) / N, d / N


def _svm_no_true_class_gradient(scores, y):
    loss, d = module("layers").svm_loss(scores, y)
    d = d.copy()
    d[np.arange(len(y)), y] = 0.0
    return loss, d


def _svm_sum(scores, y):
    loss, d = module("layers").svm_loss(scores, y)
    return loss * len(y), d * len(y)


def _svm_grad_no_mean(scores, y):
    loss, d = module("layers").svm_loss(scores, y)
    return loss, d * len(y)


register(Exercise(
    name="backprop.svm_loss",
    reference=reference("layers.svm_loss"),
    cases=_svm_cases,
    names=("loss", "dscores"),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("the sum runs over the WRONG classes k != y_i only: the true class's own term, max(0, 1) = 1, "
                "adds 1 to every example's loss.", _svm_with_true_class),
        Mistake("at the kink (a margin of exactly 0) the term contributes nothing: test margin > 0, not >= 0.",
                _svm_kink_active),
        Mistake("s_{y_i} appears in every active term with a minus sign: the true class's gradient is minus the "
                "number of active terms (divided by N).", _svm_no_true_class_gradient),
        Mistake("the loss is the MEAN over the batch: divide the sum by N (and dscores too).", _svm_sum),
        Mistake("dscores must be divided by N, because the loss is a mean over the batch.", _svm_grad_no_mean),
    ),
))
