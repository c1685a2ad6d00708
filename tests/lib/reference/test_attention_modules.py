"""Tests of dlcourse.reference.attention_modules, the PyTorch half of attention.

MultiHeadAttention is compared with torch.nn.MultiheadAttention (weights copied
with copy_weights_from_torch), outputs and gradients, in float64; the block with
torch.nn.TransformerEncoderLayer, pre- and post-norm; the tiny transformer is
checked for its shapes, its attention maps, causality, and for learning to
reverse a sequence. The contract names stay reachable from
dlcourse.reference.attention.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.reference import attention, attention_modules
from dlcourse.reference import attention as att

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


@pytest.mark.parametrize("name", ["FeedForward", "MultiHeadAttention", "TinyTransformer", "TransformerBlock",
                                  "copy_weights_from_torch"])
def test_contract_names_stay_in_attention(name: str) -> None:
    assert getattr(attention, name) is getattr(attention_modules, name)
    assert name in attention.__all__ and name in dir(attention)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModule'"):
        attention.NoSuchModule  # noqa: B018


# ---- modules


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


@pytest.mark.parametrize(("fn", "args", "match"), [
    pytest.param(att.MultiHeadAttention, (10, 3), r"d_model = 10 must be divisible by num_heads = 3", id="mha-heads"),
    pytest.param(att.TransformerBlock, (12, 5, 8), r"divisible by num_heads", id="block-heads"),
    pytest.param(att.TransformerBlock, (12, 3, 8, 1.0), r"dropout", id="block-dropout"),
    pytest.param(att.TinyTransformer, (10, 12, 5, 1, 8, 4), r"divisible by num_heads", id="tiny-heads"),
])
def test_bad_sizes_raise_value_error(fn: Callable, args: tuple, match: str) -> None:
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
