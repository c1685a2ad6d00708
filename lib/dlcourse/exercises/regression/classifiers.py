"""Notebook 01's classifiers: the sigmoid, logistic regression's loss and gradient, and softmax regression's
(I2DL lecture 2, "Logistic Regression"; lecture 4, "Multiclass Classification: Softmax").

Edge cases where the textbook formulas fail in float64: sigmoid of +-800; logistic scores of +-1000 with the wrong
label, where sigmoid(s) rounds to exactly 0 or 1 and log(p) to -inf while the true loss is about |s|; softmax rows
whose maxima are 1000 apart (subtracting one global maximum leaves a row of exp(-1000) = 0, so 0/0) and a true-class
probability near e^-1000 (log of the softmax gives -inf; the log-softmax gives -1000). The docstrings in the notebook
promise an exact loss there. Also: theta = 0 (the loss is log 2, log C), one sample, two classes, a class no sample
has.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.regression._cases import design, sizes
from dlcourse.lazy_reference import reference

# -- sigmoid ------------------------------------------------------------------------


def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((rng.standard_normal(int(rng.integers(1, 30))) * 4,), label="a random vector"),
        Case((rng.standard_normal((3, 5)) * 2,), label="a 3x5 matrix (keep the shape)"),
        Case((np.array([-800.0, -40.0, 0.0, 40.0, 800.0]),), label="very large |z| (no NaN allowed)"),
        Case((np.array(0.5),), label="a 0-d array (a single number)"),
    ]


register(Exercise(
    name="regression.sigmoid",
    reference=reference("regression.sigmoid"),
    cases=_sigmoid_cases,
    names=("sigmoid(z)",),
    float64=True,
    rtol=1e-7,
    atol=1e-12,
    mistakes=(
        Mistake("the sign in the exponent is flipped: sigmoid(z) = 1 / (1 + exp(-z)).",
                lambda z: 1 / (1 + np.exp(np.clip(z, -700, 700)))),
    ),
))


# -- logistic regression loss and gradient -------------------------------------------


def _logistic_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(4):
        n, d = sizes(rng, (4, 40), (1, 5))
        X = design(rng, n, d)
        cases.append(Case((X, rng.integers(0, 2, n).astype(np.float64), rng.standard_normal(d + 1)),
                          label=f"random case {k + 1} (n={n}, d={d})"))
    X = design(rng, 6, 1)
    cases.append(Case((X, np.zeros(6), np.zeros(2)), label="theta = 0 (the loss must be log 2)"))
    X = np.array([[1.0, 10.0], [1.0, -10.0], [1.0, 100.0], [1.0, -100.0], [1.0, 40.0]])
    cases.append(Case((X, np.array([0.0, 1.0, 0.0, 1.0, 1.0]), np.array([0.0, 10.0])),
                      label="scores of +-100 and +-1000, most with the wrong label (p rounds to 0 or 1; "
                            "the loss is about 440)"))
    X = design(rng, 1, 3)
    cases.append(Case((X, np.ones(1), rng.standard_normal(4)), label="a single sample"))
    return cases


def _sigmoid(s):
    return 0.5 * (1.0 + np.tanh(0.5 * s))  # the same function, without exp's overflow


def _bce_sum_grad(X, y, theta):
    s = X @ theta
    return float(np.mean(np.logaddexp(0, s) - y * s)), X.T @ (_sigmoid(s) - y)


def _bce_wrong_sign(X, y, theta):
    s = X @ theta
    return float(np.mean(np.logaddexp(0, s) - y * s)), X.T @ (y - _sigmoid(s)) / len(y)


register(Exercise(
    name="regression.logistic_loss_and_gradient",
    reference=reference("regression.logistic_loss_and_gradient"),
    cases=_logistic_cases,
    names=("loss", "gradient"),
    float64=True,
    mistakes=(
        Mistake("the gradient is missing the 1/n of the mean.", _bce_sum_grad),
        Mistake("the gradient's sign is flipped: it is X^T (p - y) / n.", _bce_wrong_sign),
    ),
))


# -- softmax regression ----------------------------------------------------------------------


def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        n, d = sizes(rng, (2, 30), (1, 5))
        classes = int(rng.integers(3, 7))
        cases.append(Case((design(rng, n, d), rng.integers(0, classes, n), 2 * rng.standard_normal((d + 1, classes))),
                          label=f"random case {k + 1} (n={n}, d={d}, C={classes})"))
    cases.append(Case((design(rng, 5, 2), rng.integers(0, 4, 5), np.zeros((3, 4))),
                      label="Theta = 0 (every probability is 1/C, the loss log C)"))
    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.5]])
    Theta = np.array([[0.0, 0.5, -0.5], [1000.0, 0.0, 999.0]])
    cases.append(Case((X, np.array([0, 1, 2]), Theta),
                      label="row maxima 0, 1000 and 500 apart; a true-class probability near e^-1000"))
    cases.append(Case((design(rng, 9, 3), rng.integers(0, 2, 9), rng.standard_normal((4, 2))),
                      label="two classes (softmax regression is then logistic regression)"))
    cases.append(Case((design(rng, 1, 4), np.array([3]), rng.standard_normal((5, 4))), label="a single sample"))
    cases.append(Case((design(rng, 6, 2), np.array([0, 2, 0, 1, 2, 0]), rng.standard_normal((3, 5))),
                      label="5 classes, classes 3 and 4 never the label"))
    return cases


def _softmax_wrong(grad_scale_n: bool = True, sign: float = 1.0, one_hot: bool = True, mean_loss: bool = True):
    def loss_and_gradient(X, y, Theta):
        S = X @ Theta
        S = S - S.max(axis=1, keepdims=True)
        log_p = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        loss = -log_p[rows, y].sum() / (len(y) if mean_loss else 1)
        G = np.exp(log_p)
        if one_hot:
            G[rows, y] -= 1
        return float(loss), sign * X.T @ G / (len(y) if grad_scale_n else 1)
    return loss_and_gradient


register(Exercise(
    name="regression.softmax_loss_and_gradient",
    reference=reference("regression.softmax_loss_and_gradient"),
    cases=_softmax_cases,
    names=("loss", "gradient"),
    float64=True,
    mistakes=(
        Mistake("the gradient is missing the 1/n of the mean.", _softmax_wrong(grad_scale_n=False)),
        Mistake("the gradient's sign is flipped: it is X^T (P - Y) / n with Y the one-hot labels.",
                _softmax_wrong(sign=-1.0)),
        Mistake("the one-hot labels are missing from the gradient: X^T (P - Y) / n, not X^T P / n.",
                _softmax_wrong(one_hot=False)),
        Mistake("the loss is the MEAN of -log p(y_i | x_i) over the samples, not the sum.",
                _softmax_wrong(mean_loss=False)),
    ),
))
