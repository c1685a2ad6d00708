"""dlcourse.exercises.attention: the graded exercises of notebook 08 accept the reference, reject every listed
mistake on some case and name it, and their cases reach the edges the issue asks for (d_k != d_v, a batch of one,
sequences of length one, masks that hide all keys but one), while no case hides every key from a query."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.checks.protocol import decode, encode
from dlcourse.graded import run_case
from dlcourse.reference import attention as att

pytestmark = pytest.mark.notebook("08_attention")

NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("attention."))
ATTENTION = ("attention.scaled_dot_product_attention", "attention.scaled_dot_product_attention_backward")


def cases(name: str, seed: int = 0) -> list[dict]:
    ex = exercises.get(name)
    return [decode(encode(c.to_data())) for c in ex.cases(np.random.default_rng(seed))]


def test_the_notebook_has_its_eight_exercises():
    assert NAMES == sorted(f"attention.{f}" for f in (
        "softmax", "scaled_dot_product_attention", "causal_mask", "scaled_dot_product_attention_backward",
        "split_heads", "merge_heads", "multi_head_attention", "positional_encoding"))


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert ex.mistakes, f"{name} lists no known mistakes"
    all_cases = cases(name)
    for mistake in ex.mistakes:
        failing = [c for c in all_cases if not ex.judge(c, run_case(mistake.fn, c)).ok]
        assert failing, f"{name}: no case catches the mistake {mistake.hint!r}"
        hints = {ex.diagnose(c, run_case(mistake.fn, c)) for c in failing}
        assert any("Likely mistake" in h for h in hints), f"{name}: {mistake.hint!r} is never named"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cases_are_seeded_and_reach_the_edges(seed):
    for name in ATTENTION:
        a, b = cases(name, seed), cases(name, seed)
        assert [c["label"] for c in a] == [c["label"] for c in b]
        shapes = []
        for case in a:
            # forward: (q, k, v[, mask]); backward: (dout, q, k, v, weights[, mask])
            q, k, v, *rest = case["args"][1:] if name.endswith("backward") else case["args"]
            mask = rest[-1] if len(rest) == (2 if name.endswith("backward") else 1) else None
            shapes.append((q.shape, k.shape, v.shape, mask))
            if mask is not None:
                keep = np.broadcast_to(mask, (*q.shape[:-1], k.shape[-2]))
                assert keep.any(axis=-1).all(), f"{case['label']}: a query with every key hidden"
        assert all(k[-1] != v[-1] for _, k, v, _ in shapes[:2]), "d_k == d_v in the random cases"
        assert any(q[0] == 1 and len(q) == 3 for q, _, _, _ in shapes), "no batch of one"
        assert any(q[-2] == 1 and k[-2] == 1 for q, k, _, _ in shapes), "no sequence of length one"
        one_key = [m for *_, m in shapes if m is not None and np.all(np.asarray(m).sum(axis=-1) == 1)]
        assert one_key, "no mask that hides all keys but one"


def test_the_causal_mask_must_be_boolean():
    ex = exercises.get("attention.causal_mask")
    case = cases("attention.causal_mask")[0]
    right = ex.judge(case, run_case(att.causal_mask, case))
    as_float = ex.judge(case, run_case(lambda T: np.tril(np.ones((T, T))), case))
    assert right.ok and not as_float.ok
    assert "dtype float64" in as_float.message and "boolean" in as_float.message


def test_multi_head_attention_reference_matches_the_torch_module():
    """The exercise's reference (built from the NumPy pieces) is the function the reference module computes."""
    import torch

    from dlcourse.reference.attention_modules import MultiHeadAttention

    torch.manual_seed(0)
    layer = MultiHeadAttention(12, 3).double()
    params = {}
    for c, linear in (("q", layer.q_proj), ("k", layer.k_proj), ("v", layer.v_proj), ("o", layer.out_proj)):
        params[f"W{c}"] = linear.weight.detach().numpy().T.copy()
        params[f"b{c}"] = linear.bias.detach().numpy().copy()
    x = np.random.default_rng(3).standard_normal((2, 5, 12))
    mask = att.causal_mask(5)
    out, weights = exercises.get("attention.multi_head_attention").reference(x, params, 3, mask)
    with torch.no_grad():
        xt = torch.as_tensor(x)
        out_t, weights_t = layer(xt, xt, xt, mask=torch.as_tensor(mask))
    np.testing.assert_allclose(out, out_t.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, weights_t.numpy(), rtol=1e-10, atol=1e-12)
