"""Tests of the tests for 03_optimizers: wrong implementations are rejected, other correct ones accepted, by the
notebook's own graded test cells (as a student and as the grader).

The wrong update rules are the mistakes of the lecture's formulas that students make (a flipped sign, ε inside the
square root, the bias correction missing or on the wrong moment, the look-ahead correction backwards), and beside them
the classes of escapes that a test can miss, for which the message must name the class (``REASONS``):

* side effects: a gradient, a grid's values or a validation curve changed in place;
* the contract: a config that does not come back as the dict of hyperparameters and state (None, a missing
  default, the state under another name or in PyTorch's momentum-buffer convention, the step count renamed);
* edges: a hyperparameter of 0 taken for a missing one (`config.get(...) or default`: a learning rate, momentum,
  decay rate or beta1 of 0), ε forgotten (0 / 0 for a weight whose gradient is 0), lr_min added on top of the
  cosine, a NaN score that wins a search, the last of tied settings, an equal loss taken for an improvement;
* hidden state: a mutable default ``config={}``, a module-level state, ``np.random`` instead of the generator;
* precision: state, scores, points or rates in float32;
* random search: values drawn on a linear instead of a log scale, one random number shared by every hyperparameter
  of a trial, a grid in disguise.

The correct alternatives include PyTorch's conventions stored as the lecture's state, in-place updates, loops,
``itertools.product`` and a counter of epochs without improvement.
"""

from __future__ import annotations

import harness
import numpy as np
import pytest
from harness import REPO, Variant

from dlcourse import exercises
from dlcourse.exercises.optimizers import KEEP, run_updates, toy_validation_loss
from dlcourse.graded import run_case
from dlcourse.reference import optim

pytestmark = pytest.mark.notebook("03_optimizers")

NOTEBOOK = REPO / "solutions" / "03_optimizers" / "03_optimizers.ipynb"


def rule(name: str, body: str, signature: str = "config=None") -> str:
    """An update rule that starts from a config dict (filled with defaults by the body)."""
    start = "    config = {} if config is None else config\n" if signature == "config=None" else ""
    return f"def {name}(w, dw, {signature}):\n" + start + body


MOMENTUM = ("    lr = config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n")
ADAM_DEFAULTS = (
    "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
    "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n")
ADAM_MOMENTS = (
    "    t = config['t'] = config.get('t', 0) + 1\n"
    "    m = config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
    "    v = config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n")

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "sgd": ("sgd", "test_sgd", [
        Variant("steps up the gradient", rule("sgd", (
            "    config.setdefault('learning_rate', 1e-2)\n"
            "    return w + config['learning_rate'] * dw, config"))),
        Variant("learning rate ignored", rule("sgd", "    return w - 1e-2 * dw, config")),
        Variant("no default for config=None", (
            "def sgd(w, dw, config=None):\n"
            "    return w - config['learning_rate'] * dw, config")),
        Variant("scales dw in place", rule("sgd", (
            "    dw *= config.setdefault('learning_rate', 1e-2)\n"
            "    return w - dw, config"))),
        Variant("a learning rate of 0 becomes the default", rule("sgd", (
            "    config['learning_rate'] = config.get('learning_rate') or 1e-2\n"
            "    return w - config['learning_rate'] * dw, config"))),
        Variant("returns no config", (
            "def sgd(w, dw, config=None):\n"
            "    lr = (config or {}).get('learning_rate', 1e-2)\n"
            "    return w - lr * dw, None")),
        Variant("default not kept in the config", rule("sgd", (
            "    return w - config.get('learning_rate', 1e-2) * dw, config"))),
    ], [
        Variant("in place, config.get", rule("sgd", (
            "    w -= config.get('learning_rate', 1e-2) * dw\n"
            "    config['learning_rate'] = config.get('learning_rate', 1e-2)\n"
            "    return w, config"))),
        Variant("dict(config or {})", (
            "def sgd(w, dw, config=None):\n"
            "    config = dict(config or {})\n"
            "    lr = config.setdefault('learning_rate', 0.01)\n"
            "    return w - lr * dw, config")),
    ]),
    "sgd_momentum": ("sgd_momentum", "test_sgd_momentum", [
        Variant("velocity sign flipped", rule("sgd_momentum", (
            MOMENTUM + "    v = mu * config.get('velocity', np.zeros_like(w)) + lr * dw\n"
            "    config['velocity'] = v\n"
            "    return w + v, config"))),
        Variant("velocity not stored", rule("sgd_momentum", (
            MOMENTUM + "    v = mu * config.get('velocity', np.zeros_like(w)) - lr * dw\n"
            "    return w + v, config"))),
        Variant("w moved with the old velocity", rule("sgd_momentum", (
            MOMENTUM + "    v = config.get('velocity', np.zeros_like(w))\n"
            "    config['velocity'] = mu * v - lr * dw\n"
            "    return w + v, config"))),
        Variant("momentum 0 becomes the default", rule("sgd_momentum", (
            "    lr = config.setdefault('learning_rate', 1e-2)\n"
            "    mu = config['momentum'] = config.get('momentum') or 0.9\n"
            "    v = config['velocity'] = mu * config.get('velocity', np.zeros_like(w)) - lr * dw\n"
            "    return w + v, config"))),
        Variant("PyTorch's buffer, stored as buf", rule("sgd_momentum", (
            MOMENTUM + "    buf = config['buf'] = mu * config.get('buf', np.zeros_like(w)) + dw\n"
            "    return w - lr * buf, config"))),
        Variant("mutable default config={}", rule("sgd_momentum", (
            "    lr = config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    v = config['velocity'] = mu * config.get('velocity', np.zeros_like(w)) - lr * dw\n"
            "    return w + v, config"), signature="config={}")),
        Variant("velocity in float32", rule("sgd_momentum", (
            MOMENTUM + "    v = config.get('velocity', np.zeros(w.shape, dtype=np.float32))\n"
            "    v = (mu * v - lr * dw).astype(np.float32)\n"
            "    config['velocity'] = v\n"
            "    return w + v, config"))),
    ], [
        Variant("PyTorch's buffer, kept as the lecture's velocity", rule("sgd_momentum", (
            MOMENTUM + "    buf = -config.get('velocity', np.zeros_like(w)) / lr\n"
            "    buf = mu * buf + dw\n"
            "    config['velocity'] = -lr * buf\n"
            "    return w - lr * buf, config"))),
        Variant("in place, setdefault of the velocity", rule("sgd_momentum", (
            MOMENTUM + "    v = config.setdefault('velocity', np.zeros_like(w))\n"
            "    v *= mu\n"
            "    v -= lr * dw\n"
            "    w += v\n"
            "    return w, config"))),
    ]),
    "nesterov": ("nesterov", "test_nesterov", [
        Variant("plain momentum", rule("nesterov", (
            MOMENTUM + "    v = config['velocity'] = mu * config.get('velocity', np.zeros_like(w)) - lr * dw\n"
            "    return w + v, config"))),
        Variant("look-ahead correction with the wrong sign", rule("nesterov", (
            MOMENTUM + "    v_prev = config.get('velocity', np.zeros_like(w))\n"
            "    v = config['velocity'] = mu * v_prev - lr * dw\n"
            "    return w + mu * v_prev + (1 + mu) * v, config"))),
        Variant("velocity not stored", rule("nesterov", (
            MOMENTUM + "    v_prev = config.get('velocity', np.zeros_like(w))\n"
            "    v = mu * v_prev - lr * dw\n"
            "    return w - mu * v_prev + (1 + mu) * v, config"))),
        Variant("PyTorch's nesterov=True, stored as buf", rule("nesterov", (
            MOMENTUM + "    buf = config['buf'] = mu * config.get('buf', np.zeros_like(w)) + dw\n"
            "    return w - lr * (dw + mu * buf), config"))),
        Variant("module-level velocity", (
            "_velocity = {}\n\n\n"
            "def nesterov(w, dw, config=None):\n"
            "    config = {} if config is None else config\n"
            + MOMENTUM + "    v_prev = _velocity.get(w.shape, config.get('velocity', np.zeros_like(w)))\n"
            "    v = mu * v_prev - lr * dw\n"
            "    _velocity[w.shape] = config['velocity'] = v\n"
            "    return w - mu * v_prev + (1 + mu) * v, config")),
    ], [
        Variant("PyTorch's nesterov=True, kept as the lecture's velocity", rule("nesterov", (
            MOMENTUM + "    buf = mu * (-config.get('velocity', np.zeros_like(w)) / lr) + dw\n"
            "    config['velocity'] = -lr * buf\n"
            "    return w - lr * (dw + mu * buf), config"))),
        Variant("expanded: mu^2 v - (1 + mu) lr dw", rule("nesterov", (
            MOMENTUM + "    v = config.get('velocity', np.zeros_like(w))\n"
            "    config['velocity'] = mu * v - lr * dw\n"
            "    return w + mu * mu * v - (1 + mu) * lr * dw, config"))),
    ]),
    "adagrad": ("adagrad", "test_adagrad", [
        Variant("epsilon inside the root", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config['cache'] = config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    return w - config['learning_rate'] * dw / np.sqrt(cache + config['epsilon']), config"))),
        Variant("only the current squared gradient", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config['cache'] = dw ** 2\n"
            "    return w - config['learning_rate'] * dw / (np.sqrt(cache) + config['epsilon']), config"))),
        Variant("square root missing", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config['cache'] = config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    return w - config['learning_rate'] * dw / (cache + config['epsilon']), config"))),
        Variant("epsilon forgotten: 0 / 0 for a zero gradient", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config['cache'] = config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    return w - config['learning_rate'] * dw / np.sqrt(cache), config"))),
    ], [
        Variant("cache updated in place", rule("adagrad", (
            "    lr = config.setdefault('learning_rate', 1e-2); eps = config.setdefault('epsilon', 1e-8)\n"
            "    cache = config.setdefault('cache', np.zeros_like(w))\n"
            "    cache += np.square(dw)\n"
            "    return w - lr * dw / (np.sqrt(cache) + eps), config"))),
    ]),
    "rmsprop": ("rmsprop", "test_rmsprop", [
        Variant("epsilon inside the root", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); b = config.setdefault('decay_rate', 0.99)\n"
            "    eps = config.setdefault('epsilon', 1e-8)\n"
            "    config['cache'] = b * config.get('cache', np.zeros_like(w)) + (1 - b) * dw ** 2\n"
            "    return w - lr * dw / np.sqrt(config['cache'] + eps), config"))),
        Variant("(1 - decay_rate) missing", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); b = config.setdefault('decay_rate', 0.99)\n"
            "    eps = config.setdefault('epsilon', 1e-8)\n"
            "    config['cache'] = b * config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    return w - lr * dw / (np.sqrt(config['cache']) + eps), config"))),
        Variant("cache not stored", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); b = config.setdefault('decay_rate', 0.99)\n"
            "    eps = config.setdefault('epsilon', 1e-8)\n"
            "    cache = b * config.get('cache', np.zeros_like(w)) + (1 - b) * dw ** 2\n"
            "    return w - lr * dw / (np.sqrt(cache) + eps), config"))),
        Variant("decay_rate 0 becomes the default", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); eps = config.setdefault('epsilon', 1e-8)\n"
            "    b = config['decay_rate'] = config.get('decay_rate') or 0.99\n"
            "    config['cache'] = b * config.get('cache', np.zeros_like(w)) + (1 - b) * dw ** 2\n"
            "    return w - lr * dw / (np.sqrt(config['cache']) + eps), config"))),
        Variant("squares dw in place", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); b = config.setdefault('decay_rate', 0.99)\n"
            "    eps = config.setdefault('epsilon', 1e-8)\n"
            "    step = lr * dw\n"
            "    dw **= 2\n"
            "    config['cache'] = b * config.get('cache', np.zeros_like(w)) + (1 - b) * dw\n"
            "    return w - step / (np.sqrt(config['cache']) + eps), config"))),
    ], [
        Variant("moving average written as cache += (1 - b)(dw^2 - cache)", rule("rmsprop", (
            "    lr = config.setdefault('learning_rate', 1e-2); b = config.setdefault('decay_rate', 0.99)\n"
            "    eps = config.setdefault('epsilon', 1e-8)\n"
            "    cache = config.get('cache', np.zeros_like(w))\n"
            "    cache = cache + (1 - b) * (dw * dw - cache)\n"
            "    config['cache'] = cache\n"
            "    return w - lr * dw / (np.sqrt(cache) + eps), config"))),
    ]),
    "adam": ("adam", "test_adam", [
        Variant("no bias correction", rule("adam", (
            ADAM_DEFAULTS + ADAM_MOMENTS + "    return w - lr * m / (np.sqrt(v) + eps), config"))),
        Variant("only the first moment corrected", rule("adam", (
            ADAM_DEFAULTS + ADAM_MOMENTS + "    return w - lr * m / (1 - b1 ** t) / (np.sqrt(v) + eps), config"))),
        Variant("corrections swapped between the moments", rule("adam", (
            ADAM_DEFAULTS + ADAM_MOMENTS
            + "    return w - lr * (m / (1 - b2 ** t)) / (np.sqrt(v / (1 - b1 ** t)) + eps), config"))),
        Variant("epsilon inside the root", rule("adam", (
            ADAM_DEFAULTS + ADAM_MOMENTS
            + "    return w - lr * (m / (1 - b1 ** t)) / np.sqrt(v / (1 - b2 ** t) + eps), config"))),
        Variant("moments not stored", rule("adam", (
            ADAM_DEFAULTS + "    t = config['t'] = config.get('t', 0) + 1\n"
            "    m = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    v = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    return w - lr * m / (1 - b1 ** t) / (np.sqrt(v / (1 - b2 ** t)) + eps), config"))),
        Variant("beta1 0 becomes the default", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config['beta1'] = config.get('beta1') or 0.9\n"
            "    b2 = config['beta2'] = config.get('beta2') or 0.999; eps = config.setdefault('epsilon', 1e-8)\n"
            + ADAM_MOMENTS + "    return w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), config"))),
        Variant("step count kept as config['step']", rule("adam", (
            ADAM_DEFAULTS + "    t = config['step'] = config.get('step', 0) + 1\n"
            "    m = config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    v = config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    return w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), config"))),
        Variant("moments in float32", rule("adam", (
            ADAM_DEFAULTS + "    t = config['t'] = config.get('t', 0) + 1\n"
            "    m = config['m'] = (b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw).astype(np.float32)\n"
            "    v = config['v'] = (b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw).astype(np.float32)\n"
            "    return w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), config"))),
    ], [
        Variant("PyTorch's rearranged step", rule("adam", (
            ADAM_DEFAULTS + ADAM_MOMENTS
            + "    step_size = lr / (1 - b1 ** t)\n"
            "    denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps\n"
            "    return w - step_size * m / denom, config"))),
        Variant("state updated in place", rule("adam", (
            "    defaults = (('learning_rate', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('epsilon', 1e-8), ('t', 0))\n"
            "    for k, d in defaults:\n"
            "        config.setdefault(k, d)\n"
            "    m = config.setdefault('m', np.zeros_like(w)); v = config.setdefault('v', np.zeros_like(w))\n"
            "    config['t'] += 1\n"
            "    m *= config['beta1']; m += (1 - config['beta1']) * dw\n"
            "    v *= config['beta2']; v += (1 - config['beta2']) * dw ** 2\n"
            "    m_hat = m / (1 - config['beta1'] ** config['t'])\n"
            "    v_hat = v / (1 - config['beta2'] ** config['t'])\n"
            "    return w - config['learning_rate'] * m_hat / (np.sqrt(v_hat) + config['epsilon']), config"))),
    ]),
    "newton_step": ("newton_step", "test_newton_step", [
        Variant("times the Hessian", "def newton_step(w, dw, hessian):\n    return w - hessian @ dw"),
        Variant("uphill", "def newton_step(w, dw, hessian):\n    return w + np.linalg.solve(hessian, dw)"),
        Variant("diagonal only", "def newton_step(w, dw, hessian):\n    return w - dw / np.diag(hessian)"),
        Variant("computed in float32", (
            "def newton_step(w, dw, hessian):\n"
            "    H, g = hessian.astype(np.float32), dw.astype(np.float32)\n"
            "    return w.astype(np.float32) - np.linalg.solve(H, g)")),
    ], [
        Variant("explicit inverse", "def newton_step(w, dw, hessian):\n    return w - np.linalg.inv(hessian) @ dw"),
        Variant("lstsq", (
            "def newton_step(w, dw, hessian):\n"
            "    return w - np.linalg.lstsq(hessian, dw, rcond=None)[0]")),
    ]),
    "inverse_sqrt_decay": ("inverse_sqrt_decay", "test_inverse_sqrt_decay", [
        Variant("the 1/t decay", (
            "def inverse_sqrt_decay(step, learning_rate, decay_rate):\n"
            "    return learning_rate / (1 + decay_rate * step)")),
        Variant("root of the step only", (
            "def inverse_sqrt_decay(step, learning_rate, decay_rate):\n"
            "    return learning_rate / (1 + decay_rate * np.sqrt(step))")),
        Variant("the lecture's form read literally", (
            "def inverse_sqrt_decay(step, learning_rate, decay_rate):\n"
            "    return decay_rate * learning_rate / np.sqrt(max(step, 1))")),
        Variant("float32", (
            "def inverse_sqrt_decay(step, learning_rate, decay_rate):\n"
            "    return np.float32(learning_rate) / np.sqrt(np.float32(1 + decay_rate * step))")),
    ], [
        Variant("a power of -1/2", (
            "def inverse_sqrt_decay(step, learning_rate, decay_rate):\n"
            "    return learning_rate * (1.0 + decay_rate * step) ** -0.5")),
    ]),
    "cosine_annealing": ("cosine_annealing", "test_cosine_annealing", [
        Variant("cosine not shifted and halved", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    t = min(step, total_steps)\n"
            "    return lr_min + (learning_rate - lr_min) * np.cos(np.pi * t / total_steps)")),
        Variant("climbs back after total_steps", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    return lr_min + 0.5 * (learning_rate - lr_min) * (1 + np.cos(np.pi * step / total_steps))")),
        Variant("lr_min ignored", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    t = min(step, total_steps)\n"
            "    return 0.5 * learning_rate * (1 + np.cos(np.pi * t / total_steps))")),
        Variant("lr_min added on top", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    t = min(step, total_steps)\n"
            "    return lr_min + 0.5 * learning_rate * (1 + np.cos(np.pi * t / total_steps))")),
        Variant("float32", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    t = np.float32(min(step, total_steps) / total_steps)\n"
            "    return np.float32(lr_min + 0.5 * (learning_rate - lr_min)) * (1 + np.cos(np.float32(np.pi) * t))")),
    ], [
        Variant("math.cos and an early return", (
            "import math\n\n\n"
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    if step >= total_steps:\n"
            "        return lr_min\n"
            "    return lr_min + (learning_rate - lr_min) * (1 + math.cos(math.pi * step / total_steps)) / 2")),
        Variant("cos squared of half the angle", (
            "def cosine_annealing(step, learning_rate, total_steps, lr_min=0.0):\n"
            "    t = min(step, total_steps)\n"
            "    return lr_min + (learning_rate - lr_min) * np.cos(np.pi * t / (2 * total_steps)) ** 2")),
    ]),
    "warmup_inverse_sqrt": ("warmup_inverse_sqrt", "test_warmup_inverse_sqrt", [
        Variant("warm-up power -0.5", (
            "def warmup_inverse_sqrt(step, d_model, warmup_steps):\n"
            "    return d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -0.5)")),
        Variant("max instead of min", (
            "def warmup_inverse_sqrt(step, d_model, warmup_steps):\n"
            "    return d_model ** -0.5 * max(step ** -0.5, step * warmup_steps ** -1.5)")),
        Variant("d_model factor missing", (
            "def warmup_inverse_sqrt(step, d_model, warmup_steps):\n"
            "    return min(step ** -0.5, step * warmup_steps ** -1.5)")),
    ], [
        Variant("two branches", (
            "def warmup_inverse_sqrt(step, d_model, warmup_steps):\n"
            "    scale = 1 / np.sqrt(d_model)\n"
            "    if step < warmup_steps:\n"
            "        return scale * step / warmup_steps ** 1.5\n"
            "    return scale / np.sqrt(step)")),
    ]),
    "grid_search": ("grid_search", "test_grid_search", [
        Variant("a diverged run (NaN) wins through np.argmin", (
            "def grid_search(evaluate, values):\n"
            "    grids = np.meshgrid(*values, indexing='ij')\n"
            "    points = np.stack([g.ravel() for g in grids], axis=1)\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.argmin(scores)], scores.reshape(grids[0].shape)")),
        Variant("the last of tied settings wins", (
            "def grid_search(evaluate, values):\n"
            "    import itertools\n"
            "    shape = tuple(len(v) for v in values)\n"
            "    scores, best, best_score = np.empty(shape), None, np.inf\n"
            "    for index in itertools.product(*(range(k) for k in shape)):\n"
            "        params = np.array([v[i] for v, i in zip(values, index)])\n"
            "        scores[index] = evaluate(params)\n"
            "        if scores[index] <= best_score:\n"
            "            best, best_score = params, scores[index]\n"
            "    return best, scores")),
        Variant("scores as a flat list", (
            "def grid_search(evaluate, values):\n"
            "    import itertools\n"
            "    points = np.array(list(itertools.product(*values)))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], scores")),
        Variant("sorts the values in place", (
            "def grid_search(evaluate, values):\n"
            "    import itertools\n"
            "    for v in values:\n"
            "        v.sort()\n"
            "    points = np.array(list(itertools.product(*values)))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], scores.reshape([len(v) for v in values])")),
        Variant("scores in float32", (
            "def grid_search(evaluate, values):\n"
            "    import itertools\n"
            "    points = np.array(list(itertools.product(*values)))\n"
            "    scores = np.array([evaluate(p) for p in points], dtype=np.float32)\n"
            "    return points[np.nanargmin(scores)], scores.reshape([len(v) for v in values])")),
    ], [
        Variant("itertools.product, a reshape and np.nanargmin", (
            "import itertools\n\n\n"
            "def grid_search(evaluate, values):\n"
            "    points = np.array(list(itertools.product(*values)), dtype=float)\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], scores.reshape([len(v) for v in values])")),
        Variant("meshgrid and a mask of the numbers", (
            "def grid_search(evaluate, values):\n"
            "    grids = np.meshgrid(*values, indexing='ij')\n"
            "    points = np.stack([g.ravel() for g in grids], axis=1)\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    finite = np.where(np.isnan(scores), np.inf, scores)\n"
            "    return points[np.argmin(finite)], scores.reshape(grids[0].shape)")),
    ]),
    "random_search": ("random_search", "test_random_search", [
        Variant("linear instead of log scale", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    points = rng.uniform(low, high, size=(num_trials, len(low)))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], points, scores")),
        Variant("one random number for all hyperparameters of a trial", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    u = rng.random((num_trials, 1))\n"
            "    points = np.where(log_scale, low * (high / low) ** u, low + u * (high - low))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], points, scores")),
        Variant("a grid in disguise: ten values per hyperparameter", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    u = rng.integers(0, 10, size=(num_trials, len(low))) / 9\n"
            "    points = np.where(log_scale, low * (high / low) ** u, low + u * (high - low))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], points, scores")),
        Variant("np.random instead of the generator", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    u = np.random.random((num_trials, len(low)))\n"
            "    points = np.where(log_scale, low * (high / low) ** u, low + u * (high - low))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], points, scores")),
        Variant("a diverged run (NaN) wins through np.argmin", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    u = rng.random((num_trials, len(low)))\n"
            "    points = np.where(log_scale, low * (high / low) ** u, low + u * (high - low))\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.argmin(scores)], points, scores")),
        Variant("points in float32", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    u = rng.random((num_trials, len(low)), dtype=np.float32)\n"
            "    points = np.where(log_scale, low * (high / low) ** u, low + u * (high - low)).astype(np.float32)\n"
            "    scores = np.array([evaluate(p) for p in points])\n"
            "    return points[np.nanargmin(scores)], points, scores")),
    ], [
        Variant("a loop over trials, 10 ** uniform exponents", (
            "def random_search(evaluate, low, high, log_scale, num_trials, rng):\n"
            "    points, scores = [], []\n"
            "    for _ in range(num_trials):\n"
            "        p = np.array([10 ** rng.uniform(np.log10(lo), np.log10(hi)) if log else rng.uniform(lo, hi)\n"
            "                      for lo, hi, log in zip(low, high, log_scale)])\n"
            "        points.append(p)\n"
            "        scores.append(evaluate(p))\n"
            "    scores = np.array(scores)\n"
            "    best = int(np.nanargmin(scores))\n"
            "    return points[best], np.array(points), scores")),
    ]),
    "early_stopping": ("early_stopping", "test_early_stopping", [
        Variant("an equal loss counts as an improvement", (
            "def early_stopping(val_losses, patience):\n"
            "    best = 0\n"
            "    for epoch in range(1, len(val_losses)):\n"
            "        if val_losses[epoch] <= val_losses[best]:\n"
            "            best = epoch\n"
            "        elif epoch - best > patience:\n"
            "            return best, epoch\n"
            "    return best, len(val_losses) - 1")),
        Variant("stops one epoch early", (
            "def early_stopping(val_losses, patience):\n"
            "    best = 0\n"
            "    for epoch in range(1, len(val_losses)):\n"
            "        if val_losses[epoch] < val_losses[best]:\n"
            "            best = epoch\n"
            "        elif epoch - best >= patience:\n"
            "            return best, epoch\n"
            "    return best, len(val_losses) - 1")),
        Variant("the best epoch of the whole curve", (
            "def early_stopping(val_losses, patience):\n"
            "    best, stop = 0, len(val_losses) - 1\n"
            "    for epoch in range(1, len(val_losses)):\n"
            "        if val_losses[epoch] < val_losses[best]:\n"
            "            best = epoch\n"
            "        elif epoch - best > patience:\n"
            "            stop = epoch\n"
            "            break\n"
            "    return int(np.argmin(val_losses)), stop")),
        Variant("keeps the running minimum in the curve", (
            "def early_stopping(val_losses, patience):\n"
            "    best_so_far = np.minimum.accumulate(val_losses, out=val_losses)\n"
            "    best, stop = 0, len(val_losses) - 1\n"
            "    for epoch in range(1, len(val_losses)):\n"
            "        if best_so_far[epoch] < best_so_far[epoch - 1]:\n"
            "            best = epoch\n"
            "        elif epoch - best > patience:\n"
            "            stop = epoch\n"
            "            break\n"
            "    return best, stop")),
    ], [
        Variant("a counter of epochs without improvement", (
            "def early_stopping(val_losses, patience):\n"
            "    best_loss, best, wait = np.inf, 0, 0\n"
            "    for epoch, loss in enumerate(val_losses):\n"
            "        if loss < best_loss:\n"
            "            best_loss, best, wait = loss, epoch, 0\n"
            "        else:\n"
            "            wait += 1\n"
            "            if wait > patience:\n"
            "                return best, epoch\n"
            "    return best, len(val_losses) - 1")),
    ]),
}

# What the message must say, as a student and as the grader, for the variants of a class of escapes.
REASONS = {
    "scales dw in place": "changed argument `dws` in place",
    "squares dw in place": "changed argument `dws` in place",
    "sorts the values in place": "changed argument `values` in place",
    "keeps the running minimum in the curve": "changed argument `val_losses` in place",
    "returns no config": "not the dict of its hyperparameters and state",
    "default not kept in the config": "has no 'learning_rate'",
    "velocity not stored": "has no 'velocity'",
    "PyTorch's buffer, stored as buf": "has no 'velocity'",
    "PyTorch's nesterov=True, stored as buf": "has no 'velocity'",
    "step count kept as config['step']": "has no 't'",
    "moments not stored": "has no 'm', 'v'",
    "a learning rate of 0 becomes the default": "a hyperparameter of 0 is a value",
    "momentum 0 becomes the default": "a hyperparameter of 0 is a value",
    "decay_rate 0 becomes the default": "a hyperparameter of 0 is a value",
    "beta1 0 becomes the default": "a hyperparameter of 0 is a value",
    "mutable default config={}": "hidden state",
    "module-level velocity": "hidden state",
    "np.random instead of the generator": "hidden state",
    "velocity in float32": "float32 precision",
    "moments in float32": "float32 precision",
    "computed in float32": "float32 precision",
    "float32": "float32 precision",
    "scores in float32": "float32 precision",
    "points in float32": "float32 precision",
    "a diverged run (NaN) wins through np.argmin": "NaN",
    "the last of tied settings wins": "the FIRST setting",
    "scores as a flat list": "one axis per hyperparameter",
    "linear instead of log scale": "not spread uniformly on a log scale",
    "one random number for all hyperparameters of a trial": "move together",
    "a grid in disguise: ten values per hyperparameter": "grid in disguise",
    "lr_min added on top": "at step 0 the rate must be learning_rate itself",
    "climbs back after total_steps": "after total_steps",
    "an equal loss counts as an improvement": "an equal loss is no improvement",
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path, reasons=REASONS)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
    assert set(REASONS) <= {v.label for _, _, wrong, _ in VARIANTS.values() for v in wrong}


def test_every_exercise_accepts_its_reference_whatever_the_students_seed():
    """tests/lib/test_graded.py leaves out exercises with a check of their own: all of this notebook's have one."""
    for name in (n for n in exercises.all_exercises() if n.startswith("optimizers.")):
        exercise = exercises.get(name)
        for seed in range(6):
            for case in exercise.seeded_cases(seed):
                verdict = exercise.judge(case, run_case(exercise.reference, case))
                assert verdict.ok, f"{name}, seed {seed}: {verdict.message}"


def test_every_known_mistake_is_rejected_whatever_the_students_seed():
    """The hints name mistakes that every student's hidden cases catch, not only the seeds tried above."""
    for name in (n for n in exercises.all_exercises() if n.startswith("optimizers.")):
        exercise = exercises.get(name)
        for mistake in exercise.mistakes:
            for seed in range(6):
                verdicts = [exercise.judge(case, run_case(mistake.fn, case)) for case in exercise.seeded_cases(seed)]
                assert not all(v.ok for v in verdicts), f"{name}: seed {seed} accepts '{mistake.hint}'"


def _locked_cell(grade_id: str) -> dict:
    """The namespace after running one locked cell of the notebook (the setup cell, the search's stand-in)."""
    nb = harness.notebook(NOTEBOOK)
    namespace: dict = {"np": np}
    exec(compile(nb.nb.cells[nb.cell_index(grade_id)].source, grade_id, "exec"), namespace)
    return namespace


def test_the_notebooks_helpers_are_the_exercises():
    """The grader's references go through the exercise package's run_updates and toy_validation_loss; the
    notebook's test cells through the setup cell's and the locked stand-in's: they must be the same."""
    setup, stand_in = _locked_cell("setup"), _locked_cell("search_stand_in")
    rng = np.random.default_rng(0)
    for name, keep in KEEP.items():
        w, dws = rng.standard_normal((2, 3)), rng.standard_normal((4, 2, 3))
        ours = run_updates(getattr(optim, name), w, dws, None, keep=keep)
        theirs = setup["run_updates"](getattr(optim, name), w, dws, None, keep=keep)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    for params in ([1e-2], [1e-3, 1e-4], [0.3, 1e-5, 0.9], [2.0, 1e-3]):
        np.testing.assert_array_equal(stand_in["toy_validation_loss"](params), toy_validation_loss(params))
    # A config that does not come back as a dict, or without the state, is named by both in the same words.
    for run in (run_updates, setup["run_updates"]):
        with pytest.raises(TypeError, match="not the dict"):
            run(lambda w, dw, config=None: (w, None), np.ones(2), np.ones((1, 2)), keep=("learning_rate",))
        with pytest.raises(ValueError, match="has no 'velocity'"):
            run(optim.sgd, np.ones(2), np.ones((1, 2)), keep=("velocity",))
