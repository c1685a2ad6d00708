"""Tests of the tests for 03_optimizers: wrong update rules are rejected, other correct ones accepted, by the
notebook's own graded test cells (as a student and as the grader).

The wrong rules are the mistakes of the lecture's formulas that students make: a flipped sign, state not carried
between calls, epsilon inside the square root, bias correction missing or on the wrong moment. The correct
alternatives include PyTorch's conventions (momentum buffer, Nesterov, Adam's rearranged step) and in-place updates.
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("03_optimizers")

NOTEBOOK = REPO / "solutions" / "03_optimizers" / "03_optimizers.ipynb"


def rule(name: str, body: str) -> str:
    """An update rule that starts from a config dict (filled with defaults by the body)."""
    return f"def {name}(w, dw, config=None):\n    config = {{}} if config is None else config\n" + body


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
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('momentum', 0.9)\n"
            "    v = config['momentum'] * config.get('velocity', np.zeros_like(w)) + config['learning_rate'] * dw\n"
            "    config['velocity'] = v\n"
            "    return w + v, config"))),
        Variant("velocity not stored", rule("sgd_momentum", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('momentum', 0.9)\n"
            "    v = config['momentum'] * config.get('velocity', np.zeros_like(w)) - config['learning_rate'] * dw\n"
            "    return w + v, config"))),
        Variant("w moved with the old velocity", rule("sgd_momentum", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('momentum', 0.9)\n"
            "    v = config.get('velocity', np.zeros_like(w))\n"
            "    config['velocity'] = config['momentum'] * v - config['learning_rate'] * dw\n"
            "    return w + v, config"))),
    ], [
        Variant("PyTorch's buffer convention", rule("sgd_momentum", (
            "    lr = config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    buf = mu * config.get('buf', np.zeros_like(w)) + dw\n"
            "    config['buf'] = buf\n"
            "    return w - lr * buf, config"))),
        Variant("in place, setdefault of the velocity", rule("sgd_momentum", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('momentum', 0.9)\n"
            "    v = config.setdefault('velocity', np.zeros_like(w))\n"
            "    v *= config['momentum']\n"
            "    v -= config['learning_rate'] * dw\n"
            "    w += v\n"
            "    return w, config"))),
    ]),
    "nesterov": ("nesterov", "test_nesterov", [
        Variant("plain momentum", rule("nesterov", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('momentum', 0.9)\n"
            "    v = config['momentum'] * config.get('velocity', np.zeros_like(w)) - config['learning_rate'] * dw\n"
            "    config['velocity'] = v\n"
            "    return w + v, config"))),
        Variant("look-ahead correction with the wrong sign", rule("nesterov", (
            "    config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    v_prev = config.get('velocity', np.zeros_like(w))\n"
            "    v = mu * v_prev - config['learning_rate'] * dw\n"
            "    config['velocity'] = v\n"
            "    return w + mu * v_prev + (1 + mu) * v, config"))),
        Variant("velocity not stored", rule("nesterov", (
            "    config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    v_prev = config.get('velocity', np.zeros_like(w))\n"
            "    v = mu * v_prev - config['learning_rate'] * dw\n"
            "    return w - mu * v_prev + (1 + mu) * v, config"))),
    ], [
        Variant("PyTorch's nesterov=True", rule("nesterov", (
            "    lr = config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    buf = mu * config.get('buf', np.zeros_like(w)) + dw\n"
            "    config['buf'] = buf\n"
            "    return w - lr * (dw + mu * buf), config"))),
        Variant("expanded: mu^2 v - (1 + mu) lr dw", rule("nesterov", (
            "    lr = config.setdefault('learning_rate', 1e-2); mu = config.setdefault('momentum', 0.9)\n"
            "    v = config.get('velocity', np.zeros_like(w))\n"
            "    config['velocity'] = mu * v - lr * dw\n"
            "    return w + mu * mu * v - (1 + mu) * lr * dw, config"))),
    ]),
    "adagrad": ("adagrad", "test_adagrad", [
        Variant("epsilon inside the root", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    config['cache'] = cache\n"
            "    return w - config['learning_rate'] * dw / np.sqrt(cache + config['epsilon']), config"))),
        Variant("only the current squared gradient", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = dw ** 2\n"
            "    config['cache'] = cache\n"
            "    return w - config['learning_rate'] * dw / (np.sqrt(cache) + config['epsilon']), config"))),
        Variant("square root missing", rule("adagrad", (
            "    config.setdefault('learning_rate', 1e-2); config.setdefault('epsilon', 1e-8)\n"
            "    cache = config.get('cache', np.zeros_like(w)) + dw ** 2\n"
            "    config['cache'] = cache\n"
            "    return w - config['learning_rate'] * dw / (cache + config['epsilon']), config"))),
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
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    config['t'] = config.get('t', 0) + 1\n"
            "    config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    return w - lr * config['m'] / (np.sqrt(config['v']) + eps), config"))),
        Variant("only the first moment corrected", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    t = config['t'] = config.get('t', 0) + 1\n"
            "    config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    return w - lr * config['m'] / (1 - b1 ** t) / (np.sqrt(config['v']) + eps), config"))),
        Variant("corrections swapped between the moments", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    t = config['t'] = config.get('t', 0) + 1\n"
            "    config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    m_hat, v_hat = config['m'] / (1 - b2 ** t), config['v'] / (1 - b1 ** t)\n"
            "    return w - lr * m_hat / (np.sqrt(v_hat) + eps), config"))),
        Variant("epsilon inside the root", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    t = config['t'] = config.get('t', 0) + 1\n"
            "    config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    m_hat, v_hat = config['m'] / (1 - b1 ** t), config['v'] / (1 - b2 ** t)\n"
            "    return w - lr * m_hat / np.sqrt(v_hat + eps), config"))),
        Variant("moments not stored", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    t = config['t'] = config.get('t', 0) + 1\n"
            "    m = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    v = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    return w - lr * m / (1 - b1 ** t) / (np.sqrt(v / (1 - b2 ** t)) + eps), config"))),
    ], [
        Variant("PyTorch's rearranged step", rule("adam", (
            "    lr = config.setdefault('learning_rate', 1e-3); b1 = config.setdefault('beta1', 0.9)\n"
            "    b2 = config.setdefault('beta2', 0.999); eps = config.setdefault('epsilon', 1e-8)\n"
            "    t = config['t'] = config.get('t', 0) + 1\n"
            "    m = config['m'] = b1 * config.get('m', np.zeros_like(w)) + (1 - b1) * dw\n"
            "    v = config['v'] = b2 * config.get('v', np.zeros_like(w)) + (1 - b2) * dw * dw\n"
            "    step_size = lr / (1 - b1 ** t)\n"
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
    ], [
        Variant("explicit inverse", "def newton_step(w, dw, hessian):\n    return w - np.linalg.inv(hessian) @ dw"),
        Variant("lstsq", (
            "def newton_step(w, dw, hessian):\n"
            "    return w - np.linalg.lstsq(hessian, dw, rcond=None)[0]")),
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
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
