"""Notebook 05's regularization exercises: the L2 penalty, AdamW (decoupled weight decay), inverted
dropout, and shifting images for data augmentation (I2DL lectures 4 and 8, KIOS lecture 6, NYU).

Dropout's output is random, so it is judged by :func:`check_dropout` instead of
elementwise: every output is either 0 or ``x / (1 - p)``, the share of zeros is
``p`` within 10 standard errors on arrays of 6,000 to 20,000 elements (a
correct implementation fails with probability below 1e-20, whatever it draws
with), the masks of different samples differ, the backward pass uses the same
mask and scale, and test mode is the identity. Drop probabilities of 0.2 and
0.75 tell a drop probability from a keep probability.

AdamW is graded like the update rules of notebook 03, over several calls in a
row through ``run_updates``, with one case where the weights are large and
the gradients tiny: there decoupled decay and the L2 gradient inside Adam part
company completely.
"""

from __future__ import annotations

import math

import numpy as np

from dlcourse.checks.compare import Comparison, compare
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.optimizers import run_updates
from dlcourse.lazy_reference import module, reference

# -- the L2 penalty ---------------------------------------------------------------------------------


def _l2_ref(weights, reg):
    penalty, grads = module("regularization").l2_regularization(weights, reg)
    return (penalty, *grads)


def _l2_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(2):
        shapes = [(int(rng.integers(2, 7)), int(rng.integers(2, 7))) for _ in range(int(rng.integers(2, 4)))]
        reg = float(rng.uniform(0.01, 2.0))
        cases.append(Case(([rng.standard_normal(s) for s in shapes], reg),
                          label=f"random case {k + 1}: weights of shapes {shapes}, reg {reg:.3f}"))
    cases.append(Case(([np.array([0.25, 0.5, 0.25])], 0.1), label="the lecture's theta_2 = [0.25, 0.5, 0.25], reg 0.1"))
    cases.append(Case(([rng.standard_normal((2, 3, 4)), rng.standard_normal(5)], 0.5),
                      label="a 3-D array and a vector, reg 0.5"))
    cases.append(Case(([rng.standard_normal((3, 2))], 0.0), label="reg = 0: no penalty, zero gradients"))
    return cases


def _l2_variant(factor_penalty: float, factor_grad: float):
    return lambda weights, reg: (factor_penalty * reg * sum(float(np.sum(w * w)) for w in weights),
                                 *[factor_grad * reg * w for w in weights])


register(Exercise(
    name="batchnorm.l2_regularization",
    reference=_l2_ref,
    cases=_l2_cases,
    names=None,  # the penalty, then one gradient per weight array
    mistakes=(
        Mistake("the gradient of reg * w**2 is 2 * reg * w: the factor 2 is missing.", _l2_variant(1.0, 1.0)),
        Mistake("this notebook uses I2DL's reg * sum(w**2), without KIOS's 1/2 (whose gradient is reg * w).",
                _l2_variant(0.5, 1.0)),
        Mistake("L2 sums the SQUARES of the weights (sum(|w|) is L1).",
                lambda weights, reg: (reg * sum(float(np.sum(np.abs(w))) for w in weights),
                                      *[reg * np.sign(w) for w in weights])),
    ),
))


# -- AdamW: decoupled weight decay -------------------------------------------------------------------------


def _adamw_ref(w, dws, config):
    return run_updates(reference("regularization.adamw"), w, dws, config)


def _adamw_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.001, 0.05)), "weight_decay": float(rng.uniform(0.01, 0.5)),
            "beta1": float(rng.choice([0.8, 0.9])), "beta2": float(rng.choice([0.99, 0.999]))}


def _adamw_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6))) if k else (int(rng.integers(2, 9)),)
        steps = int(rng.integers(3, 10))
        config = _adamw_config(rng)
        drift = rng.standard_normal(shape)
        dws = drift + 0.7 * rng.standard_normal((steps, *shape))
        cases.append(Case((rng.standard_normal(shape), dws, config),
                          label=f"random case {k + 1}: w of shape {shape}, {steps} calls, config {config}"))
    cases.append(Case((rng.standard_normal(5), rng.standard_normal((6, 5)), None), label="config=None: all defaults"))
    cases.append(Case((rng.standard_normal((2, 3)), rng.standard_normal((4, 2, 3)), {"learning_rate": 0.05}),
                      label="only learning_rate given (weight_decay defaults to 0.01)"))
    cases.append(Case((100.0 * rng.standard_normal(4), 1e-6 * rng.standard_normal((8, 4)),
                       {"learning_rate": 0.01, "weight_decay": 0.1}),
                      label="large weights (~100) and tiny gradients (~1e-6): the decay must not go through Adam"))
    cases.append(Case((rng.standard_normal(3), rng.standard_normal((5, 3)), {"learning_rate": 0.02,
                                                                             "weight_decay": 0.0}),
                      label="weight_decay = 0: plain Adam"))
    resumed = {"learning_rate": 0.01, "weight_decay": 0.2, "t": 10, "m": 0.1 * rng.standard_normal(4),
               "v": 0.01 * rng.random(4)}
    cases.append(Case((rng.standard_normal(4), rng.standard_normal((5, 4)), resumed),
                      label="resumed at t = 10 with m and v from earlier steps"))
    return cases


def _adam_step(w, dw, config, decay_in_gradient=False, decay_without_lr=False, decay_after=False):
    """The reference's adam on some weights, with weight decay done one of the wrong ways."""
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 1e-3)
    wd = config.setdefault("weight_decay", 1e-2)
    adam = module("optim").adam
    if decay_in_gradient:  # L2: the decay joins the gradient and is normalized by Adam
        return adam(w, dw + wd * w, config)
    if decay_after:
        next_w, config = adam(w, dw, config)
        return next_w * (1 - lr * wd), config
    factor = (1 - wd) if decay_without_lr else (1 - lr * wd)
    return adam(w * factor, dw, config)


def _adamw_variant(**mistake: bool):
    return lambda w, dws, config: run_updates(lambda a, b, c: _adam_step(a, b, c, **mistake), w, dws, config)


register(Exercise(
    name="batchnorm.adamw",
    may_change=("w", "config"),  # an update rule keeps its state in config (and may update w in place)
    reference=_adamw_ref,
    cases=_adamw_cases,
    names=("weights after each call",),
    mistakes=(
        Mistake("this is Adam with L2: weight_decay * w was added to the GRADIENT, so Adam divides it by "
                "sqrt(v_hat) too. Decoupled decay shrinks w directly: w - learning_rate * weight_decay * w, "
                "then Adam's step with dw alone.", _adamw_variant(decay_in_gradient=True)),
        Mistake("the decay is learning_rate * weight_decay * w (as in torch.optim.AdamW), not weight_decay * w.",
                _adamw_variant(decay_without_lr=True)),
        Mistake("decay the weights you were given (w_{t-1}), before Adam's step, as torch.optim.AdamW does.",
                _adamw_variant(decay_after=True)),
    ),
))


# -- inverted dropout, judged by its statistics -------------------------------------------------------------

MARGIN_SE = 10.0  # standard errors: a correct implementation fails with probability below 1e-20
MIN_STATS_SIZE = 1000  # smaller outputs are checked value by value only


def check_dropout(case: dict, outputs: list[np.ndarray]) -> Comparison:
    """Judge (out, dx) of dropout_forward followed by dropout_backward on one case (see the module docstring)."""
    x, p, mode, _, dout = case["args"]
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    if len(outputs) != 2:
        return Comparison(False, f"expected (out, dx), got {len(outputs)} arrays.")
    out, dx = (o.astype(np.float64) if o.dtype != np.bool_ else o for o in outputs)
    for name, value in (("out", out), ("dx", dx)):
        if value.shape != x.shape:
            return Comparison(False, f"{name} has shape {value.shape}, expected the shape of x, {x.shape}.")
        if not np.all(np.isfinite(value)):
            return Comparison(False, f"{name} contains NaN or inf.")
    if mode == "test":
        verdict = compare(out, x, name="out in test mode")
        if not verdict.ok:
            hint = (" Inverted dropout scales during TRAINING, so test mode is the identity (no mask, no factor)."
                    if np.allclose(out, x * (1 - p)) or np.allclose(out, x / (1 - p)) else
                    " Test mode drops nothing: out = x.")
            return Comparison(False, verdict.message + hint)
        verdict = compare(dx, dout, name="dx in test mode")
        return verdict if verdict.ok else Comparison(False, verdict.message + " In test mode dx = dout.")
    dropped = out == 0
    kept_ok = np.isclose(out, x / (1 - p), rtol=1e-9, atol=1e-12)
    if not np.all(dropped | kept_ok):
        if np.all(dropped | np.isclose(out, x, rtol=1e-9, atol=1e-12)) and p > 0:
            return Comparison(False, "the units you keep are not rescaled: inverted dropout multiplies them by "
                                     f"1 / (1 - p) = {1 / (1 - p):.4g}, so that E[out] = x and test mode needs "
                                     "no factor.")
        if np.all(dropped | np.isclose(out, x * (1 - p), rtol=1e-9, atol=1e-12)):
            return Comparison(False, "the kept units are multiplied by (1 - p); inverted dropout DIVIDES by "
                                     "(1 - p) so that E[out] = x.")
        return Comparison(False, "every output must be either 0 (dropped) or x / (1 - p) (kept); some are neither.")
    n = x.size
    share = float(dropped.mean())
    if n >= MIN_STATS_SIZE:
        margin = MARGIN_SE * math.sqrt(max(p * (1 - p), 1e-12) / n)
        if abs(share - p) > margin:
            hint = (" p is the probability of DROPPING a unit (PyTorch's convention), not of keeping it."
                    if abs(share - (1 - p)) <= margin else "")
            return Comparison(False, f"{share:.1%} of the units were dropped, expected p = {p:.0%} "
                                     f"(within {margin:.1%}).{hint}")
        rows = dropped.reshape(dropped.shape[0], -1)
        if rows.shape[0] >= 2 and rows.shape[1] >= 8 and 0 < p < 1 and np.all(rows == rows[0]):
            return Comparison(False, "every sample has the same mask: draw one random number per element "
                                     "(rng.random(x.shape)), not one per feature.")
    expected_dx = np.where(dropped, 0.0, dout / (1 - p))
    verdict = compare(dx, expected_dx, name="dx (the same mask and scale as the forward pass)")
    if not verdict.ok and np.allclose(dx, np.where(dropped, 0.0, dout)):
        return Comparison(False, verdict.message + " The backward pass multiplies by the same mask, scale included.")
    return verdict


def _dropout_cases(rng: np.random.Generator) -> list[Case]:
    def seed() -> dict[str, int]:
        return {"__rng__": int(rng.integers(2**31))}

    specs = [((200, 100), 0.5, "train", "p = 0.5 on (200, 100)"),
             ((150, 60), 0.2, "train", "p = 0.2 on (150, 60): p is the DROP probability"),
             ((100, 80), 0.75, "train", "p = 0.75 on (100, 80)"),
             ((20, 10, 40), 0.4, "train", "a 3-D x (20, 10, 40), p = 0.4"),
             ((1, 40), 0.5, "train", "a batch of one sample (1, 40), p = 0.5")]
    cases = [Case((rng.standard_normal(shape), p, mode, seed(), rng.standard_normal(shape)), label=label)
             for shape, p, mode, label in specs]
    # Test mode draws nothing: its rng may be None.
    cases.append(Case((rng.standard_normal((7, 5)), 0.5, "test", None, rng.standard_normal((7, 5))),
                      label="test mode, p = 0.5, rng None: the identity"))
    return cases


def _dropout_ref(x, p, mode, rng, dout):
    layers = module("layers")
    out, cache = layers.dropout_forward(x, p, mode, rng)
    return out, layers.dropout_backward(dout, cache)


def _dropout_variant(kind: str):
    def run(x, p, mode, rng, dout):
        if mode == "test":
            return (x * (1 - p), dout * (1 - p)) if kind == "scale_at_test" else (x, dout)
        keep = rng.random(x.shape) >= (1 - p if kind == "keep_probability" else p)
        scale = 1.0 if kind == "no_rescale" else 1 / (1 - p)
        dx = dout * keep if kind == "backward_no_scale" else dout * keep * scale
        return x * keep * scale, dx

    return run


register(Exercise(
    name="batchnorm.dropout",
    reference=_dropout_ref,
    cases=_dropout_cases,
    names=("out", "dx"),
    check=check_dropout,
    handout="moments",  # the hand-out compares the moments of a reference sample (its draws are not ours to match)
    mistakes=(
        Mistake("the kept units must be divided by (1 - p) (inverted dropout).", _dropout_variant("no_rescale")),
        Mistake("p is the probability of DROPPING a unit.", _dropout_variant("keep_probability")),
        Mistake("inverted dropout's test mode is the identity.", _dropout_variant("scale_at_test")),
        Mistake("the backward pass applies the same mask AND the same 1 / (1 - p).",
                _dropout_variant("backward_no_scale")),
    ),
))


# -- shifting images (data augmentation) ------------------------------------------------------------------


def _shift_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(3):
        N, H, W = int(rng.integers(1, 5)), int(rng.integers(3, 9)), int(rng.integers(3, 9))
        dy, dx = int(rng.integers(-2, 3)), int(rng.integers(-2, 3))
        cases.append(Case((rng.random((N, H, W)), dy, dx), label=f"random images ({N}, {H}, {W}), dy={dy}, dx={dx}"))
    cases.append(Case((rng.random((2, 5, 7)), 1, -2), label="images (2, 5, 7): 1 row down, 2 columns left"))
    cases.append(Case((rng.random((3, 6, 4)), -3, 1), label="images (3, 6, 4): 3 rows up, 1 column right"))
    cases.append(Case((rng.random((2, 4, 4)), 0, 0), label="no shift"))
    cases.append(Case((rng.random((1, 4, 6)), 4, 0), label="a shift by the whole height (4): nothing is left"))
    cases.append(Case((rng.random((1, 8, 8)), -1, -7), label="one 8x8 digit, 1 up and 7 left"))
    return cases


def _shift_roll(images, dy, dx):
    return np.roll(np.asarray(images, dtype=float), (dy, dx), axis=(1, 2))


register(Exercise(
    name="batchnorm.shift_images",
    reference=reference("regularization.shift_images"),
    cases=_shift_cases,
    names=("shifted images",),
    mistakes=(
        Mistake("np.roll wraps the pixels that leave one side around to the other; they must be lost, and zeros "
                "come in.", _shift_roll),
        Mistake("dy moves the rows (axis 1, down for dy > 0), dx the columns (axis 2, right for dx > 0).",
                lambda images, dy, dx: module("regularization").shift_images(images, dx, dy)),
        Mistake("the shift goes the other way: the pixel at (r, c) moves to (r + dy, c + dx).",
                lambda images, dy, dx: module("regularization").shift_images(images, -dy, -dx)),
    ),
))
