"""Tests of the tests for 05_batchnorm: wrong implementations are rejected, other correct ones accepted,
by the notebook's own graded test cells (as a student and as the grader).

The wrong variants are the mistakes students make with normalization and regularization, among them the
unbiased variance, eps outside the square root, running statistics updated in eval mode, dropout without
rescaling, and weight decay added to the gradient under Adam when decoupled decay was asked. The correct
variants reach the same results another way: their own cache, torch autograd or torch.nn.functional,
other ways to draw a dropout mask, loops.
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("05_batchnorm")

NOTEBOOK = REPO / "solutions" / "05_batchnorm" / "05_batchnorm.ipynb"


# -- batch norm forward: the solution's shape with one line swapped -----------------------------------------

def _bn_forward(var: str = "((x - mu) ** 2).mean(axis=0)", std: str = "np.sqrt(var + eps)",
                update_when: str = 'mode == "train"', old: str = "momentum", new: str = "(1 - momentum)",
                centre: str = "") -> str:
    return (
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        '    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)\n'
        "    D = x.shape[1]\n"
        '    running_mean = bn_param.get("running_mean", np.zeros(D))\n'
        '    running_var = bn_param.get("running_var", np.zeros(D))\n'
        "    mu = x.mean(axis=0)\n"
        f"    var = {var}\n"
        f"    if {update_when}:\n"
        f'        bn_param["running_mean"] = {old} * running_mean + {new} * mu\n'
        f'        bn_param["running_var"] = {old} * running_var + {new} * var\n'
        '    if mode == "test":\n'
        "        mu, var = running_mean, running_var\n"
        f"    std = {std}\n"
        f"{centre}"
        "    x_hat = (x - mu) / std\n"
        '    return gamma * x_hat + beta, {"mode": mode, "x_hat": x_hat, "std": std, "gamma": gamma}\n'
    )


BN_FORWARD_WRONG = [
    Variant("unbiased variance (ddof=1)", _bn_forward(var="x.var(axis=0, ddof=1)")),
    Variant("eps outside the square root", _bn_forward(std="np.sqrt(var) + eps")),
    Variant("running statistics updated in test mode", _bn_forward(update_when="True")),
    Variant("momentum as the weight of the new value", _bn_forward(old="(1 - momentum)", new="momentum")),
    Variant("naive variance mean(x**2) - mean(x)**2", _bn_forward(var="(x**2).mean(axis=0) - mu**2")),
    Variant("x centred in place", _bn_forward(centre="    x -= mu\n    mu = 0.0\n")),
]

BN_FORWARD_RIGHT = [
    Variant("a loop over the features, running arrays updated in place", (
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        '    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)\n'
        "    N, D = x.shape\n"
        '    rm = bn_param.setdefault("running_mean", np.zeros(D))\n'
        '    rv = bn_param.setdefault("running_var", np.zeros(D))\n'
        "    out, x_hat, std = np.empty((N, D)), np.empty((N, D)), np.empty(D)\n"
        "    for j in range(D):\n"
        "        col = x[:, j]\n"
        '        if bn_param["mode"] == "train":\n'
        "            mu_j = col.sum() / N\n"
        "            var_j = ((col - mu_j) ** 2).sum() / N\n"
        "            rm[j] = m * rm[j] + (1 - m) * mu_j\n"
        "            rv[j] = m * rv[j] + (1 - m) * var_j\n"
        "        else:\n"
        "            mu_j, var_j = rm[j], rv[j]\n"
        "        std[j] = math.sqrt(var_j + eps)\n"
        "        x_hat[:, j] = (col - mu_j) / std[j]\n"
        "        out[:, j] = gamma[j] * x_hat[:, j] + beta[j]\n"
        '    return out, {"mode": bn_param["mode"], "x_hat": x_hat, "std": std, "gamma": gamma}')),
    Variant("np.var and the normalized form (x - mu) * (var + eps) ** -0.5", (
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        '    mode = bn_param["mode"]\n'
        '    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)\n'
        "    zeros = np.zeros(x.shape[1])\n"
        '    if mode == "train":\n'
        "        mu, var = np.mean(x, axis=0), np.var(x, axis=0)\n"
        '        bn_param["running_mean"] = m * bn_param.get("running_mean", zeros) + (1 - m) * mu\n'
        '        bn_param["running_var"] = m * bn_param.get("running_var", zeros) + (1 - m) * var\n'
        "    else:\n"
        '        mu, var = bn_param.get("running_mean", zeros), bn_param.get("running_var", zeros)\n'
        "    inv = (var + eps) ** -0.5\n"
        "    x_hat = (x - mu) * inv\n"
        '    return gamma * x_hat + beta, {"mode": mode, "x_hat": x_hat, "std": 1 / inv, "gamma": gamma}')),
]


# -- batch norm backward (both forms), on the solution's cache: mode, x_hat, std, gamma ------------------

def _bn_backward(name: str, dx: str, dgamma: str = "np.sum(dout * x_hat, axis=0)") -> str:
    return (
        f"def {name}(dout, cache):\n"
        '    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]\n'
        "    N = dout.shape[0]\n"
        "    g = dout * gamma\n"
        f"    dgamma, dbeta = {dgamma}, dout.sum(axis=0)\n"
        '    if cache["mode"] == "test":\n'
        "        return g / std, dgamma, dbeta\n"
        f"    return {dx}, dgamma, dbeta\n"
    )


FULL_DX = "(N * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0)) / (N * std)"


def _backward_wrong(name: str) -> list[Variant]:
    return [
        Variant("mu and var treated as constants", _bn_backward(name, "g / std")),
        Variant("the path through the variance missing", _bn_backward(name, "(g - g.mean(axis=0)) / std")),
        Variant("the path through the mean missing",
                _bn_backward(name, "(g - x_hat * np.mean(g * x_hat, axis=0)) / std")),
        Variant("dgamma without x_hat", _bn_backward(name, FULL_DX, dgamma="dout.sum(axis=0)")),
        Variant("1 / (N - 1) from an unbiased variance",
                _bn_backward(name, "(N * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0)) / ((N - 1) * std)")),
    ]


OWN_CACHE_AND_AUTOGRAD = (
    "def batchnorm_forward(x, gamma, beta, bn_param):\n"
    "    # A different cache: the inputs themselves, and torch autograd in the backward pass.\n"
    '    mode, eps, m = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)\n'
    "    D = x.shape[1]\n"
    '    rm, rv = bn_param.get("running_mean", np.zeros(D)), bn_param.get("running_var", np.zeros(D))\n'
    '    if mode == "train":\n'
    "        mu, var = x.mean(axis=0), x.var(axis=0)\n"
    '        bn_param["running_mean"], bn_param["running_var"] = m * rm + (1 - m) * mu, m * rv + (1 - m) * var\n'
    "    else:\n"
    "        mu, var = rm, rv\n"
    "    out = gamma * (x - mu) / np.sqrt(var + eps) + beta\n"
    "    return out, (x.copy(), gamma.copy(), beta.copy(), mode, eps, rm.copy(), rv.copy())\n"
    "\n\n"
    "def {name}(dout, cache):\n"
    "    x, gamma, beta, mode, eps, rm, rv = (\n"
    "        torch.tensor(c, dtype=torch.float64) if isinstance(c, np.ndarray) else c for c in cache)\n"
    "    x.requires_grad_(True)\n"
    "    gamma.requires_grad_(True)\n"
    "    beta.requires_grad_(True)\n"
    '    if mode == "train":\n'
    "        out = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)\n"
    "    else:\n"
    "        out = torch.nn.functional.batch_norm(x, rm, rv, gamma, beta, training=False, eps=eps)\n"
    "    out.backward(torch.tensor(dout))\n"
    "    return x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()\n"
)


# -- BatchNorm1d: the whole class, __init__ as given --------------------------------------------------------

MODULE_INIT = (
    "class BatchNorm1d(nn.Module):\n"
    "    def __init__(self, num_features, eps=1e-5, momentum=0.9, device=None, dtype=None):\n"
    "        super().__init__()\n"
    "        self.num_features, self.eps, self.momentum = num_features, eps, momentum\n"
    "        self.weight = nn.Parameter(torch.ones(num_features, device=device, dtype=dtype))\n"
    "        self.bias = nn.Parameter(torch.zeros(num_features, device=device, dtype=dtype))\n"
    '        self.register_buffer("running_mean", torch.zeros(num_features, device=device, dtype=dtype))\n'
    '        self.register_buffer("running_var", torch.ones(num_features, device=device, dtype=dtype))\n'
    "\n"
    "    def forward(self, x):\n"
)


def _module(var: str = "x.var(dim=0, correction=0)", stored: str = "var", update: str = "self.training",
            batch_stats: str = "self.training", m_old: str = "self.momentum",
            m_new: str = "(1 - self.momentum)") -> str:
    return MODULE_INIT + (
        "        mean_b, var_b = x.mean(dim=0), " + var + "\n"
        "        var = var_b\n"
        f"        if {update}:\n"
        "            with torch.no_grad():\n"
        f"                self.running_mean.mul_({m_old}).add_({m_new} * mean_b)\n"
        f"                self.running_var.mul_({m_old}).add_({m_new} * {stored})\n"
        f"        if {batch_stats}:\n"
        "            mean, var = mean_b, var_b\n"
        "        else:\n"
        "            mean, var = self.running_mean, self.running_var\n"
        "        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias\n"
    )


# -- dropout: forward and backward in one cell ---------------------------------------------------------------

def _dropout(keep: str = "rng.random(x.shape) >= p", scale: str = "1 / (1 - p)", test_out: str = "x.copy()",
             backward: str = "dout * mask") -> str:
    return (
        "def dropout_forward(x, p, mode, rng):\n"
        '    if mode == "test":\n'
        f"        return {test_out}, (mode, None)\n"
        f"    mask = ({keep}) * ({scale})\n"
        "    return x * mask, (mode, mask)\n"
        "\n\n"
        "def dropout_backward(dout, cache):\n"
        "    mode, mask = cache\n"
        f'    return dout.copy() if mode == "test" else {backward}\n'
    )


# -- AdamW --------------------------------------------------------------------------------------------------

def _adamw(decay: str = "w = w * (1 - lr * wd)", grad: str = "dw", after: str = "",
           correct: bool = True, store: bool = True) -> str:
    m_hat, v_hat = ("m / (1 - b1**t)", "v / (1 - b2**t)") if correct else ("m", "v")
    return (
        "def adamw(w, dw, config=None):\n"
        "    config = {} if config is None else config\n"
        '    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8),\n'
        '                       ("weight_decay", 1e-2), ("t", 0)):\n'
        "        config.setdefault(key, value)\n"
        '    lr, b1, b2, wd = config["learning_rate"], config["beta1"], config["beta2"], config["weight_decay"]\n'
        f"    {decay}\n"
        f"    g = {grad}\n"
        '    t = config["t"] + 1\n'
        '    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * g\n'
        '    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * g * g\n'
        + ("    config.update(m=m, v=v, t=t)\n" if store else "")
        + f"    w = w - lr * ({m_hat}) / (np.sqrt({v_hat}) + config['epsilon'])\n"
        f"    {after}\n"
        "    return w, config\n"
    )


def _shift(body: str) -> str:
    return "def shift_images(images, dy, dx):\n" + body


# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "batchnorm_forward": ("batchnorm_forward", "test_batchnorm_forward", BN_FORWARD_WRONG, BN_FORWARD_RIGHT),
    "batchnorm_backward": ("batchnorm_backward", "test_batchnorm_backward", _backward_wrong("batchnorm_backward"), [
        Variant("its own cache and torch autograd", OWN_CACHE_AND_AUTOGRAD.replace("{name}", "batchnorm_backward")),
        Variant("the simplified form", _bn_backward("batchnorm_backward", FULL_DX)),
    ]),
    "batchnorm_backward_alt": ("batchnorm_backward_alt", "test_batchnorm_backward_alt",
                               _backward_wrong("batchnorm_backward_alt"), [
        Variant("written with means instead of sums", _bn_backward(
            "batchnorm_backward_alt", "(g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / std")),
        Variant("its own cache and torch autograd (batchnorm_backward redone to match)",
                OWN_CACHE_AND_AUTOGRAD.replace("{name}", "batchnorm_backward_alt")
                + "\n\nbatchnorm_backward = batchnorm_backward_alt\n"),
    ]),
    "BatchNorm1d": ("BatchNorm1d", "test_BatchNorm1d", [
        Variant("torch's default x.var(dim=0) (unbiased)", _module(var="x.var(dim=0)")),
        Variant("running statistics updated in eval mode", _module(update="True")),
        Variant("batch statistics in eval mode", _module(batch_stats="True")),
        Variant("momentum as the weight of the new value",
                _module(m_old="(1 - self.momentum)", m_new="self.momentum")),
        Variant("running variance stored unbiased (torch's convention)", _module(stored="x.var(dim=0)")),
    ], [
        Variant("torch.nn.functional.batch_norm for the normalization", MODULE_INIT + (
            "        if self.training:\n"
            "            with torch.no_grad():\n"
            "                m = self.momentum\n"
            "                self.running_mean.copy_(m * self.running_mean + (1 - m) * x.mean(dim=0))\n"
            "                var = ((x - x.mean(dim=0)) ** 2).mean(dim=0)\n"
            "                self.running_var.copy_(m * self.running_var + (1 - m) * var)\n"
            "            return torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, training=True,\n"
            "                                                  eps=self.eps)\n"
            "        return torch.nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,\n"
            "                                              self.bias, training=False, eps=self.eps)\n")),
        Variant("centred values and rsqrt", MODULE_INIT + (
            "        if not self.training:\n"
            "            inv = torch.rsqrt(self.running_var + self.eps)\n"
            "            return self.weight * (x - self.running_mean) * inv + self.bias\n"
            "        centred = x - x.mean(dim=0, keepdim=True)\n"
            "        var = (centred ** 2).mean(dim=0)\n"
            "        with torch.no_grad():\n"
            "            self.running_mean.lerp_(x.mean(dim=0), 1 - self.momentum)\n"
            "            self.running_var.lerp_(var, 1 - self.momentum)\n"
            "        return self.weight * centred * torch.rsqrt(var + self.eps) + self.bias\n")),
    ]),
    "layernorm_forward": ("layernorm_forward", "test_layernorm_forward", [
        Variant("statistics over the batch (axis 0)", (
            "def layernorm_forward(x, gamma, beta, ln_param):\n"
            "    eps = (ln_param or {}).get('eps', 1e-5)\n"
            "    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)\n"
            "    return gamma * x_hat + beta, None")),
        Variant("unbiased variance (ddof=1)", (
            "def layernorm_forward(x, gamma, beta, ln_param):\n"
            "    eps = (ln_param or {}).get('eps', 1e-5)\n"
            "    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, ddof=1, keepdims=True)\n"
            "    return gamma * (x - mu) / np.sqrt(var + eps) + beta, None")),
        Variant("eps outside the square root", (
            "def layernorm_forward(x, gamma, beta, ln_param):\n"
            "    eps = (ln_param or {}).get('eps', 1e-5)\n"
            "    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)\n"
            "    return gamma * (x - mu) / (np.sqrt(var) + eps) + beta, None")),
    ], [
        Variant("torch.nn.functional.layer_norm", (
            "def layernorm_forward(x, gamma, beta, ln_param):\n"
            "    eps = (ln_param or {}).get('eps', 1e-5)\n"
            "    out = torch.nn.functional.layer_norm(torch.tensor(x), (x.shape[1],), torch.tensor(gamma),\n"
            "                                         torch.tensor(beta), eps)\n"
            "    return out.numpy(), None")),
        Variant("batch norm's statistics on the transpose", (
            "def layernorm_forward(x, gamma, beta, ln_param):\n"
            "    eps = (ln_param or {}).get('eps', 1e-5)\n"
            "    xt = x.T  # (D, N): the features are now the rows\n"
            "    x_hat = ((xt - xt.mean(axis=0)) / np.sqrt(xt.var(axis=0) + eps)).T\n"
            "    return gamma * x_hat + beta, {'x_hat': x_hat}")),
    ]),
    "l2_regularization": ("l2_regularization", "test_l2_regularization", [
        Variant("gradient without the factor 2", (
            "def l2_regularization(weights, reg):\n"
            "    return reg * sum(np.sum(w * w) for w in weights), [reg * w for w in weights]")),
        Variant("KIOS's reg / 2 convention", (
            "def l2_regularization(weights, reg):\n"
            "    return 0.5 * reg * sum(np.sum(w * w) for w in weights), [reg * w for w in weights]")),
        Variant("L1 instead of L2", (
            "def l2_regularization(weights, reg):\n"
            "    return reg * sum(np.abs(w).sum() for w in weights), [reg * np.sign(w) for w in weights]")),
        Variant("the mean of the squares", (
            "def l2_regularization(weights, reg):\n"
            "    return reg * sum(np.mean(w * w) for w in weights), [2 * reg * w / w.size for w in weights]")),
    ], [
        Variant("squared norms and a loop", (
            "def l2_regularization(weights, reg):\n"
            "    penalty, grads = 0.0, []\n"
            "    for w in weights:\n"
            "        penalty += reg * np.linalg.norm(w.ravel()) ** 2\n"
            "        grads.append(reg * (w + w))\n"
            "    return penalty, grads")),
        Variant("torch autograd", (
            "def l2_regularization(weights, reg):\n"
            "    ts = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]\n"
            "    penalty = reg * sum((t ** 2).sum() for t in ts) if ts else torch.tensor(0.0)\n"
            "    penalty.backward()\n"
            "    return penalty.item(), [t.grad.numpy() for t in ts]")),
    ]),
    "adamw": ("adamw", "test_adamw", [
        Variant("weight decay added to the gradient (Adam with L2)", _adamw(decay="pass", grad="dw + wd * w")),
        Variant("decay without the learning rate", _adamw(decay="w = w * (1 - wd)")),
        Variant("decay applied after Adam's step", _adamw(decay="pass", after="w = w * (1 - lr * wd)")),
        Variant("no bias correction", _adamw(correct=False)),
        Variant("state not stored in config", _adamw(store=False)),
    ], [
        Variant("PyTorch's arrangement of the step, weights decayed in place", (
            "def adamw(w, dw, config=None):\n"
            "    config = config if config is not None else {}\n"
            "    lr = config.setdefault('learning_rate', 1e-3)\n"
            "    b1, b2 = config.setdefault('beta1', 0.9), config.setdefault('beta2', 0.999)\n"
            "    eps, wd = config.setdefault('epsilon', 1e-8), config.setdefault('weight_decay', 1e-2)\n"
            "    w *= 1 - lr * wd  # in place, as torch's param.mul_\n"
            "    config['t'] = t = config.get('t', 0) + 1\n"
            "    config['m'] = m = b1 * config.get('m', 0.0) + (1 - b1) * dw\n"
            "    config['v'] = v = b2 * config.get('v', 0.0) + (1 - b2) * dw ** 2\n"
            "    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t\n"
            "    w -= lr / bc1 * m / (np.sqrt(v) / np.sqrt(bc2) + eps)\n"
            "    return w, config")),
        Variant("one combined step", _adamw(
            decay="w0 = w",
            after="w = w - lr * wd * w0  # decay of the old weights, added after: the same step")),
    ]),
    "dropout": ("dropout", "test_dropout", [
        Variant("kept units not rescaled", _dropout(scale="1.0")),
        Variant("p used as the keep probability", _dropout(keep="rng.random(x.shape) < p")),
        Variant("scaled by (1 - p) at test time", _dropout(test_out="x * (1 - p)")),
        Variant("backward without the scale", _dropout(backward="dout * (mask != 0)")),
        Variant("np.random instead of rng", _dropout(keep="np.random.rand(*x.shape) >= p")),
        Variant("one mask shared by every sample", _dropout(keep="rng.random(x.shape[1:]) >= p")),
    ], [
        Variant("a binomial mask", _dropout(keep="rng.binomial(1, 1 - p, size=x.shape)")),
        Variant("uniform numbers below the keep probability", _dropout(keep="rng.random(x.shape) < 1 - p")),
        Variant("a boolean mask in the cache", (
            "def dropout_forward(x, p, mode, rng):\n"
            "    if mode != 'train':\n"
            "        return x, None\n"
            "    keep = rng.uniform(size=x.shape) > p\n"
            "    return np.where(keep, x / (1 - p), 0.0), (keep, p)\n"
            "\n\n"
            "def dropout_backward(dout, cache):\n"
            "    if cache is None:\n"
            "        return dout\n"
            "    keep, p = cache\n"
            "    return np.where(keep, dout / (1 - p), 0.0)")),
    ]),
    "shift_images": ("shift_images", "test_shift_images", [
        Variant("np.roll (wraps around)", _shift("    return np.roll(images, (dy, dx), axis=(1, 2))")),
        Variant("dy and dx swapped", _shift(
            "    out = np.zeros_like(images, dtype=float)\n"
            "    _, H, W = images.shape\n"
            "    for r in range(H):\n"
            "        for c in range(W):\n"
            "            if 0 <= r + dx < H and 0 <= c + dy < W:\n"
            "                out[:, r + dx, c + dy] = images[:, r, c]\n"
            "    return out")),
        Variant("shifted the other way", _shift(
            "    out = np.zeros_like(images, dtype=float)\n"
            "    _, H, W = images.shape\n"
            "    for r in range(H):\n"
            "        for c in range(W):\n"
            "            if 0 <= r - dy < H and 0 <= c - dx < W:\n"
            "                out[:, r - dy, c - dx] = images[:, r, c]\n"
            "    return out")),
        Variant("rolled, then the wrapped rows zeroed only", _shift(
            "    out = np.roll(images, (dy, dx), axis=(1, 2)).astype(float)\n"
            "    if dy > 0:\n"
            "        out[:, :dy] = 0\n"
            "    elif dy < 0:\n"
            "        out[:, dy:] = 0\n"
            "    return out")),
    ], [
        Variant("a loop over the pixels", _shift(
            "    out = np.zeros(images.shape)\n"
            "    _, H, W = images.shape\n"
            "    for r in range(H):\n"
            "        for c in range(W):\n"
            "            if 0 <= r + dy < H and 0 <= c + dx < W:\n"
            "                out[:, r + dy, c + dx] = images[:, r, c]\n"
            "    return out")),
        Variant("np.pad, then a slice", _shift(
            "    _, H, W = images.shape\n"
            "    py, px = min(abs(dy), H), min(abs(dx), W)\n"
            "    padded = np.pad(images.astype(float), ((0, 0), (py, py), (px, px)))\n"
            "    r0, c0 = py - max(-py, min(dy, py)), px - max(-px, min(dx, px))\n"
            "    return padded[:, r0:r0 + H, c0:c0 + W]")),
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
