"""Tests of dlcourse.reference.attention.

The NumPy functions are compared with PyTorch in float64 (softmax,
scaled_dot_product_attention with and without masks); every backward pass is
proven against central-difference numerical gradients (relative error < 1e-7)
and against PyTorch autograd. The torch modules are compared with
torch.nn.MultiheadAttention with copied weights, and the tiny transformer is
checked for causality and for learning a small task.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import attention as att

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and with two threads on a busy 2-core machine every
    small op waits for the other thread to be scheduled (the training test went from 1 s to 45 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def seeded(seed: int, make: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's global generator seeded, restoring its state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def torch_weights(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """softmax(q k^T / sqrt(d_k)) with hidden scores at -inf, written in torch."""
    scores = t(q) @ t(k).transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~torch.as_tensor(mask), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


# ---- softmax


@pytest.mark.parametrize(("shape", "axis"), [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_matches_torch_and_sums_to_one(shape: tuple[int, ...], axis: int) -> None:
    x = 3 * np.random.default_rng(0).standard_normal(shape)
    y = att.softmax(x, axis=axis)
    assert y.shape == x.shape and y.dtype == np.float64
    assert rel_error(y, torch.softmax(t(x), dim=axis).numpy()) < TORCH_TOL
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=1e-14)


def test_softmax_is_stable_for_extreme_inputs() -> None:
    x = np.array([
        [0.0, 1000.0, -1000.0],  # entries 1000 apart: exp(1000) overflows without the shift
        [1e4, -1e4, 0.0],
        [-np.inf, 0.0, -np.inf],  # hidden entries: weight exactly 0
        [-np.inf, 5.0, 751.0],  # 746 apart: the small one underflows to 0
        [1e6, 1e6, -np.inf],
    ])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = att.softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[:4], [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(y[4], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(y, torch.softmax(t(x), dim=-1).numpy(), rtol=1e-15, atol=0)


def test_softmax_does_not_mutate_its_argument() -> None:
    x = np.random.default_rng(1).standard_normal((3, 4))
    x_copy = x.copy()
    att.softmax(x)
    att.softmax(x, axis=0)
    np.testing.assert_array_equal(x, x_copy)


@pytest.mark.parametrize(("shape", "axis"), [((6,), -1), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)])
def test_softmax_backward_numerical(shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    dx = att.softmax_backward(dout, att.softmax(x, axis=axis), axis=axis)
    dx_num = eval_numerical_gradient_array(lambda v: att.softmax(v, axis=axis), x, dout)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_num) < NUM_TOL


@pytest.mark.parametrize(("shape", "axis"), [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)])
def test_softmax_backward_matches_torch(shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(3)
    x, dout = 2 * rng.standard_normal(shape), rng.standard_normal(shape)
    corner = (0,) * len(shape)
    x[corner] = -np.inf  # a hidden entry: its gradient is 0 on both sides
    dx = att.softmax_backward(dout, att.softmax(x, axis=axis), axis=axis)
    xt = t(x, True)
    torch.softmax(xt, dim=axis).backward(t(dout))
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert dx[corner] == 0.0


# ---- scaled dot-product attention


def _causal(Tq: int, Tk: int) -> np.ndarray:
    return att.causal_mask(Tq)


def _padding(lengths: list[int]) -> Callable[[int, int], np.ndarray]:
    """(N, 1, Tk): sequence n has lengths[n] real keys, then padding (the same for every query)."""
    return lambda Tq, Tk: (np.arange(Tk) < np.array(lengths)[:, None])[:, None, :]


def _one_key(j: int) -> Callable[[int, int], np.ndarray]:
    return lambda Tq, Tk: np.tile(np.arange(Tk) == j, (Tq, 1))  # (Tq, Tk)


# id: (q shape, k shape, v shape, mask maker or None)
SDPA_CASES = {
    "Tq!=Tk,dk!=dv": ((2, 5, 4), (2, 7, 4), (2, 7, 3), None),
    "batch-1": ((1, 4, 3), (1, 4, 3), (1, 4, 5), None),
    "seq-len-1": ((3, 1, 4), (3, 1, 4), (3, 1, 2), None),
    "unbatched": ((4, 3), (6, 3), (6, 2), None),
    "heads": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 2), None),
    "broadcast-heads": ((2, 3, 4, 5), (3, 6, 5), (1, 3, 6, 2), None),
    "causal": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6), _causal),
    "causal-T1": ((2, 1, 3), (2, 1, 3), (2, 1, 3), _causal),
    "padding": ((2, 4, 3), (2, 6, 3), (2, 6, 5), _padding([6, 2])),
    "one-key": ((2, 4, 3), (2, 5, 3), (2, 5, 2), _one_key(2)),
}


def _sdpa_inputs(case: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    q_shape, k_shape, v_shape, make_mask = SDPA_CASES[case]
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal(q_shape), rng.standard_normal(k_shape), rng.standard_normal(v_shape)
    mask = None if make_mask is None else make_mask(q_shape[-2], k_shape[-2])
    return q, k, v, mask


@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, 4)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    # torch's boolean attn_mask means True = takes part in attention, as ours does.
    out_t = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=None if mask is None else torch.as_tensor(mask))
    assert out.shape == out_t.shape
    assert weights.shape == (*out.shape[:-1], k.shape[-2])
    assert rel_error(out, out_t.numpy()) < TORCH_TOL
    assert rel_error(weights, torch_weights(q, k, mask)) < TORCH_TOL
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    if mask is not None:
        assert np.all(weights[~np.broadcast_to(mask, weights.shape)] == 0.0)  # exactly 0, not just small


def test_sdpa_with_one_visible_key_copies_its_value() -> None:
    q, k, v, mask = _sdpa_inputs("one-key", 5)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(weights[..., 2] == 1.0)
    np.testing.assert_array_equal(out, np.broadcast_to(v[:, 2:3, :], out.shape))


def test_sdpa_causal_row_zero_sees_only_itself() -> None:
    q, k, v, mask = _sdpa_inputs("causal", 6)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(np.triu(weights[0, 0], k=1), 0.0)
    np.testing.assert_array_equal(out[..., 0, :], v[..., 0, :])


def test_sdpa_by_hand_divides_by_sqrt_dk() -> None:
    q = np.array([[2.0, 0.0]])  # one query, d_k = 2
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[10.0], [20.0]])
    out, weights = att.scaled_dot_product_attention(q, k, v)
    s = 2.0 / math.sqrt(2.0)  # scores [2, 0] / sqrt(2)
    w0 = math.exp(s) / (math.exp(s) + 1.0)
    np.testing.assert_allclose(weights, [[w0, 1 - w0]], rtol=1e-15)
    np.testing.assert_allclose(out, [[10 * w0 + 20 * (1 - w0)]], rtol=1e-15)


def test_sdpa_does_not_mutate_its_arguments() -> None:
    q, k, v, mask = _sdpa_inputs("causal", 7)
    dout = np.random.default_rng(8).standard_normal((*q.shape[:-1], v.shape[-1]))
    copies = [a.copy() for a in (q, k, v, mask, dout)]
    _, weights = att.scaled_dot_product_attention(q, k, v, mask)
    weights_copy = weights.copy()
    att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    for a, c in zip((q, k, v, mask, dout, weights), [*copies, weights_copy], strict=True):
        np.testing.assert_array_equal(a, c)


BACKWARD_CASES = ["Tq!=Tk,dk!=dv", "heads", "broadcast-heads", "causal", "padding", "seq-len-1"]
# The largest *relative* error punishes tiny entries: in about 1 random draw in 10 of these sizes some gradient entry
# is ~1e-4, and the O(h^2) truncation error of the central difference alone is then 1e-7 of it. With this seed the
# worst case is ~6e-9 (a wrong formula is off by 1e-2 or more).
NUM_SEED = 2


@pytest.mark.parametrize("case", BACKWARD_CASES)
def test_sdpa_backward_numerical(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, NUM_SEED)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    dout = np.random.default_rng(NUM_SEED + 1).standard_normal(out.shape)
    dq, dk, dv = att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape

    def f(which: int) -> Callable[[np.ndarray], np.ndarray]:
        def out_of(x: np.ndarray) -> np.ndarray:
            args = [q, k, v]
            args[which] = x
            return att.scaled_dot_product_attention(*args, mask)[0]
        return out_of

    assert rel_error(dq, eval_numerical_gradient_array(f(0), q, dout)) < NUM_TOL
    assert rel_error(dk, eval_numerical_gradient_array(f(1), k, dout)) < NUM_TOL
    assert rel_error(dv, eval_numerical_gradient_array(f(2), v, dout)) < NUM_TOL


@pytest.mark.parametrize("case", BACKWARD_CASES)
def test_sdpa_backward_matches_torch(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, 11)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    dout = np.random.default_rng(12).standard_normal(out.shape)
    dq, dk, dv = att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    qt, kt, vt = t(q, True), t(k, True), t(v, True)
    out_t = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=None if mask is None else torch.as_tensor(mask))
    out_t.backward(t(dout))
    assert rel_error(dq, qt.grad.numpy()) < TORCH_TOL
    assert rel_error(dk, kt.grad.numpy()) < TORCH_TOL
    assert rel_error(dv, vt.grad.numpy()) < TORCH_TOL


def test_sdpa_backward_hidden_keys_get_no_gradient() -> None:
    q, k, v, mask = _sdpa_inputs("padding", 13)  # sequence 1 has only 2 real keys of 6
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    _, dk, dv = att.scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, weights, mask)
    np.testing.assert_array_equal(dk[1, 2:], 0.0)
    np.testing.assert_array_equal(dv[1, 2:], 0.0)
    assert np.all(dv[0] != 0.0)


# ---- causal mask, positional encoding, heads


def test_causal_mask_by_hand() -> None:
    np.testing.assert_array_equal(att.causal_mask(1), [[True]])
    m = att.causal_mask(4)
    assert m.dtype == np.bool_ and m.shape == (4, 4)
    expected = [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    np.testing.assert_array_equal(m, expected)


@pytest.mark.parametrize(("seq_len", "d_model"), [(1, 1), (1, 4), (7, 6), (9, 5), (50, 16), (3, 1)])
def test_positional_encoding_matches_the_formula(seq_len: int, d_model: int) -> None:
    pe = att.positional_encoding(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == np.float64
    expected = np.empty((seq_len, d_model))
    for pos in range(seq_len):
        for i in range(0, d_model, 2):  # columns 2i and 2i + 1 share one frequency
            angle = pos / 10000 ** (i / d_model)
            expected[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                expected[pos, i + 1] = math.cos(angle)
    np.testing.assert_allclose(pe, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pe[0], [0.0 if j % 2 == 0 else 1.0 for j in range(d_model)])
    assert np.all(np.abs(pe) <= 1.0)


def test_positional_encoding_odd_width_ends_in_a_sine() -> None:
    pe = att.positional_encoding(10, 5)
    pos = np.arange(10)
    np.testing.assert_allclose(pe[:, 4], np.sin(pos / 10000 ** (4 / 5)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(pe[:, 0], np.sin(pos), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(pe[:, 1], np.cos(pos), rtol=1e-14, atol=1e-15)


def test_split_and_merge_heads() -> None:
    x = np.random.default_rng(14).standard_normal((2, 5, 12))
    x_copy = x.copy()
    heads = att.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for j in range(3):  # head j holds features 4j .. 4j+3 of every token
        np.testing.assert_array_equal(heads[:, j], x[:, :, 4 * j:4 * (j + 1)])
    np.testing.assert_array_equal(att.merge_heads(heads), x)
    np.testing.assert_array_equal(x, x_copy)
    heads[0, 0, 0, 0] = 99.0  # a new array, not a view of x
    np.testing.assert_array_equal(x, x_copy)
    # The same reshapes on torch tensors (the modules use them).
    np.testing.assert_array_equal(att.split_heads(t(x), 3).numpy(), att.split_heads(x, 3))
    np.testing.assert_array_equal(att.merge_heads(t(heads)).numpy(), att.merge_heads(heads))


# ---- torch modules


def _mha_pair(bias: bool = True) -> tuple[att.MultiHeadAttention, nn.MultiheadAttention]:
    ref = seeded(0, lambda: nn.MultiheadAttention(12, 3, bias=bias, batch_first=True, dtype=torch.float64))
    # Torch initializes its biases to 0; random ones make the copy check meaningful.
    if bias:
        with torch.no_grad():
            ref.in_proj_bias.copy_(torch.linspace(-1, 1, 36, dtype=torch.float64))
            ref.out_proj.bias.copy_(torch.linspace(1, -0.5, 12, dtype=torch.float64))
    mine = seeded(1, lambda: att.MultiHeadAttention(12, 3, bias=bias).double())
    return att.copy_weights_from_torch(mine, ref), ref.eval()


@pytest.mark.parametrize("masking", ["none", "causal", "padding"])
@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_attention_matches_torch(masking: str, bias: bool) -> None:
    mine, ref = _mha_pair(bias)
    rng = np.random.default_rng(15)
    N, Tq, Tk = 2, 5, 5 if masking == "causal" else 7
    query, key, value = t(rng.standard_normal((N, Tq, 12))), t(rng.standard_normal((N, Tk, 12))), \
        t(rng.standard_normal((N, Tk, 12)))
    mask, torch_kwargs = None, {}
    if masking == "causal":
        mask = torch.as_tensor(att.causal_mask(Tq))  # (Tq, Tk)
        torch_kwargs = {"attn_mask": ~mask}  # torch.nn.MultiheadAttention: True = NOT allowed
    elif masking == "padding":
        keep = torch.arange(Tk) < torch.tensor([[7], [3]])  # (N, Tk)
        mask = keep[:, None, :]  # (N, 1, Tk): broadcast over queries (and heads)
        torch_kwargs = {"key_padding_mask": ~keep}
    with torch.no_grad():
        out, weights = mine(query, key, value, mask=mask)
        out_fast, no_weights = mine(query, key, value, mask=mask, need_weights=False)
        out_t, weights_t = ref(query, key, value, need_weights=True, **torch_kwargs)
    assert out.shape == (N, Tq, 12) and weights.shape == (N, 3, Tq, Tk)
    assert rel_error(out.numpy(), out_t.numpy()) < TORCH_TOL
    assert rel_error(weights.mean(dim=1).numpy(), weights_t.numpy()) < TORCH_TOL  # torch averages the heads
    assert no_weights is None
    assert rel_error(out_fast.numpy(), out.numpy()) < TORCH_TOL
    if mask is not None:
        assert torch.all(weights[~mask.unsqueeze(-3).expand_as(weights)] == 0)


def test_multi_head_attention_gradients_match_torch() -> None:
    mine, ref = _mha_pair()
    x = t(np.random.default_rng(16).standard_normal((2, 4, 12)))
    mask = torch.as_tensor(att.causal_mask(4))
    mine(x, x, x, mask=mask)[0].square().sum().backward()
    ref(x, x, x, attn_mask=~mask)[0].square().sum().backward()
    dW = torch.cat([p.weight.grad for p in (mine.q_proj, mine.k_proj, mine.v_proj)])
    assert rel_error(dW.numpy(), ref.in_proj_weight.grad.numpy()) < TORCH_TOL
    assert rel_error(mine.out_proj.weight.grad.numpy(), ref.out_proj.weight.grad.numpy()) < TORCH_TOL


@pytest.mark.parametrize("pre_norm", [True, False])
def test_transformer_block_shapes(pre_norm: bool) -> None:
    block = seeded(2, lambda: att.TransformerBlock(16, 4, 32, dropout=0.1, pre_norm=pre_norm).double().eval())
    x = t(np.random.default_rng(17).standard_normal((3, 6, 16)))
    mask = torch.as_tensor(att.causal_mask(6))
    y, weights = block(x, mask=mask, need_weights=True)
    assert y.shape == (3, 6, 16) and weights.shape == (3, 4, 6, 6)
    assert torch.all(torch.triu(weights, diagonal=1) == 0)
    assert torch.equal(block(x, mask=mask, need_weights=True)[0], y)  # eval mode: dropout off, deterministic
    y_fused, none = block(x, mask=mask)  # the fused attention path: the same up to rounding
    assert none is None
    torch.testing.assert_close(y_fused, y, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(y, x)


@pytest.mark.parametrize("pre_norm", [True, False])
def test_transformer_block_matches_torch_encoder_layer(pre_norm: bool) -> None:
    block = seeded(5, lambda: att.TransformerBlock(12, 3, 20, pre_norm=pre_norm).double().eval())
    ref = seeded(6, lambda: nn.TransformerEncoderLayer(12, 3, dim_feedforward=20, dropout=0.0, batch_first=True,
                                                       norm_first=pre_norm, dtype=torch.float64).eval())
    att.copy_weights_from_torch(block.attn, ref.self_attn)
    with torch.no_grad():
        pairs = ((block.ff.fc1, ref.linear1), (block.ff.fc2, ref.linear2),
                 (block.ln1, ref.norm1), (block.ln2, ref.norm2))
        for i, (mine, theirs) in enumerate(pairs):
            theirs.weight.add_(0.1 * i)  # otherwise both norms are the same (weight 1, bias 0) and could be swapped
            theirs.bias.sub_(0.2 * i)
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        x = t(np.random.default_rng(19).standard_normal((2, 5, 12)))
        mask = torch.as_tensor(att.causal_mask(5))
        y, _ = block(x, mask=mask)
        y_t = ref(x, src_mask=~mask)  # torch: True = NOT allowed
    assert rel_error(y.numpy(), y_t.numpy()) < TORCH_TOL


@pytest.mark.parametrize("pre_norm", [True, False])
def test_transformer_block_residual_paths(pre_norm: bool) -> None:
    block = seeded(7, lambda: att.TransformerBlock(8, 2, 16, pre_norm=pre_norm).double())
    with torch.no_grad():  # silence both branches: what is left is the residual path and the norms
        for layer in (block.attn.out_proj, block.ff.fc2):
            layer.weight.zero_()
            layer.bias.zero_()
    x = t(np.random.default_rng(20).standard_normal((2, 3, 8)))
    y, _ = block(x)
    if pre_norm:
        torch.testing.assert_close(y, x, rtol=0, atol=0)  # an untouched identity path
    else:
        torch.testing.assert_close(y, F.layer_norm(F.layer_norm(x, (8,)), (8,)), rtol=1e-14, atol=1e-14)


def _tiny(causal: bool, **kwargs: object) -> att.TinyTransformer:
    return seeded(3, lambda: att.TinyTransformer(11, 16, 2, 2, 32, max_len=8, causal=causal, **kwargs).double())


@pytest.mark.parametrize("pre_norm", [True, False])
def test_tiny_transformer_shapes_and_attention_maps(pre_norm: bool) -> None:
    model = _tiny(causal=True, pre_norm=pre_norm)
    tokens = torch.randint(0, 11, (3, 7), generator=torch.Generator().manual_seed(0))
    logits = model(tokens)
    assert logits.shape == (3, 7, 11) and logits.dtype == torch.float64
    logits2, maps = model(tokens, return_attention=True)
    assert maps.shape == (2, 3, 2, 7, 7)  # (layers, N, heads, T, T)
    torch.testing.assert_close(logits2, logits, rtol=1e-12, atol=1e-12)  # fused vs explicit attention
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 2, 7, dtype=torch.float64))
    assert torch.all(torch.triu(maps, diagonal=1) == 0)
    torch.testing.assert_close(model.pe, torch.as_tensor(att.positional_encoding(8, 16)), rtol=0, atol=1e-7)


@pytest.mark.parametrize("causal", [True, False])
def test_tiny_transformer_causality(causal: bool) -> None:
    model = _tiny(causal=causal)
    a = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[:, 5:] = (a[:, 5:] + 1) % 11  # change the tokens after position 4
    with torch.no_grad():
        la, lb = model(a), model(b)
    assert not torch.allclose(la[:, 5:], lb[:, 5:])  # the changed positions do change
    if causal:
        torch.testing.assert_close(la[:, :5], lb[:, :5], rtol=0, atol=1e-14)  # the past cannot see the future
    else:
        assert not torch.allclose(la[:, :5], lb[:, :5])  # an encoder's earlier positions see the change


def test_tiny_transformer_learns_to_reverse() -> None:
    V, T = 8, 6
    model = seeded(4, lambda: att.TinyTransformer(V, 16, 2, 1, 32, max_len=T, causal=False))
    gen = torch.Generator().manual_seed(5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(300):
        x = torch.randint(0, V, (32, T), generator=gen)
        loss = F.cross_entropy(model(x).reshape(-1, V), x.flip(1).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.5  # about log(8) = 2.08 at the start: chance
    assert np.mean(losses[-20:]) < 0.05
    x = torch.randint(0, V, (256, T), generator=gen)
    with torch.no_grad():
        assert (model(x).argmax(-1) == x.flip(1)).float().mean() > 0.98


# ---- bad input: a ValueError that names the argument

RNG = np.random.default_rng(18)
Q, K, VV = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 6))
OUT, W = att.scaled_dot_product_attention(Q, K, VV)
HIDE_ROW_2 = np.ones((3, 5), dtype=bool)
HIDE_ROW_2[2] = False
NAN_Q = Q.copy()
NAN_Q[0, 0, 0] = np.nan

BAD_INPUT = [
    pytest.param(att.softmax, (np.float64(1.0),), r"at least one axis", id="softmax-scalar"),
    pytest.param(att.softmax, (Q, 3), r"axis 3 is out of range", id="softmax-axis"),
    pytest.param(att.softmax, (np.zeros((2, 0)),), r"no entries along axis", id="softmax-empty"),
    pytest.param(att.softmax, (np.array([1.0, np.nan]),), r"nan or \+inf", id="softmax-nan"),
    pytest.param(att.softmax, (np.array([1.0, np.inf]),), r"nan or \+inf", id="softmax-inf"),
    pytest.param(att.softmax, (np.array([[0.0, 1.0], [-np.inf, -np.inf]]),), r"all -inf", id="softmax-all-neginf"),
    pytest.param(att.softmax_backward, (np.ones((2, 3)), np.ones((3, 2)) / 2), r"dout .* and y", id="softmax-bw"),
    pytest.param(att.scaled_dot_product_attention, (Q[0, 0], K, VV), r"q must have shape", id="sdpa-1d-q"),
    pytest.param(att.scaled_dot_product_attention, (Q, K[..., :3], VV), r"q .* and k .* d_k", id="sdpa-dk"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV[:, :4]), r"k .* and v .* Tk", id="sdpa-Tk"),
    pytest.param(att.scaled_dot_product_attention, (Q, np.ones((3, 5, 4)), VV), r"do not broadcast",
                 id="sdpa-batch"),
    pytest.param(att.scaled_dot_product_attention, (NAN_Q, K, VV), r"q contains nan", id="sdpa-nan"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((3, 5))), r"mask must be boolean",
                 id="sdpa-float-mask"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((3, 5), dtype=int)), r"mask must be boolean",
                 id="sdpa-int-mask"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((5, 3), dtype=bool)), r"mask .* must broadcast",
                 id="sdpa-mask-shape"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((4, 3, 5), dtype=bool)),
                 r"mask .* must broadcast", id="sdpa-mask-adds-batch"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, HIDE_ROW_2), r"all 5 keys from query row 2 at .* \(0,\)",
                 id="sdpa-hidden-row"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT, Q, K, VV, W[:, :2]), r"weights must have shape",
                 id="sdpa-bw-weights"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT[..., :2], Q, K, VV, W), r"dout must have",
                 id="sdpa-bw-dout"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT, Q, K, VV, W, np.eye(3, 5, dtype=bool)),
                 r"weights are not 0 where mask is False", id="sdpa-bw-mask"),
    pytest.param(att.causal_mask, (0,), r"T must be a positive int", id="causal-0"),
    pytest.param(att.causal_mask, (2.0,), r"T must be a positive int", id="causal-float"),
    pytest.param(att.positional_encoding, (0, 4), r"seq_len must be a positive int", id="pe-seq-len"),
    pytest.param(att.positional_encoding, (4, -2), r"d_model must be a positive int", id="pe-d-model"),
    pytest.param(att.positional_encoding, (4, True), r"d_model must be a positive int", id="pe-bool"),
    pytest.param(att.split_heads, (np.ones((2, 5, 10)), 3), r"D = 10 .* divisible by num_heads = 3",
                 id="split-divisible"),
    pytest.param(att.split_heads, (np.ones((5, 12)), 3), r"x must have shape \(N, T, D\)", id="split-2d"),
    pytest.param(att.merge_heads, (np.ones((2, 5, 12)),), r"x must have shape \(N, h, T, D/h\)", id="merge-3d"),
    pytest.param(att.MultiHeadAttention, (10, 3), r"d_model = 10 must be divisible by num_heads = 3", id="mha-heads"),
    pytest.param(att.TransformerBlock, (12, 5, 8), r"divisible by num_heads", id="block-heads"),
    pytest.param(att.TransformerBlock, (12, 3, 8, 1.0), r"dropout", id="block-dropout"),
    pytest.param(att.TinyTransformer, (10, 12, 5, 1, 8, 4), r"divisible by num_heads", id="tiny-heads"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)


def test_torch_modules_refuse_bad_input() -> None:
    mha = att.MultiHeadAttention(12, 3)
    x = torch.zeros(2, 4, 12)
    with pytest.raises(ValueError, match=r"mask must be a boolean tensor"):
        mha(x, x, x, mask=torch.ones(4, 4))  # a float (additive or 0/1) mask
    with pytest.raises(ValueError, match=r"mask .* must broadcast"):
        mha(x, x, x, mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"query must have shape \(N, T, D\) with D = d_model = 12"):
        mha(torch.zeros(2, 4, 8), x, x)
    with pytest.raises(ValueError, match=r"key and value the number of positions"):
        mha(x, x, torch.zeros(2, 5, 12))
    tiny = att.TinyTransformer(10, 12, 3, 1, 8, max_len=4)
    with pytest.raises(ValueError, match=r"more than max_len = 4"):
        tiny(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tokens must be an integer tensor"):
        tiny(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"embed_dim 12 and 4 heads"):
        att.copy_weights_from_torch(mha, nn.MultiheadAttention(12, 4, batch_first=True))
    with pytest.raises(ValueError, match=r"both have biases"):
        att.copy_weights_from_torch(mha, nn.MultiheadAttention(12, 3, bias=False, batch_first=True))
