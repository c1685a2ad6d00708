"""dlcourse.exercises.rnn_lstm: the graded exercises of notebook 07 accept the reference, reject every listed
mistake on some case and name it, reach the edges their docstrings allow (N = 1, T = 1, H != D), and the helpers
that compute the mistakes agree with the reference when no mistake is switched on."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.checks.protocol import decode, encode
from dlcourse.exercises.rnn_lstm import lstm, rnn
from dlcourse.graded import run_case
from dlcourse.reference import rnn as ref

pytestmark = pytest.mark.notebook("07_rnn_lstm")

NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("rnn_lstm."))


def cases(name: str, seed: int = 0) -> list[dict]:
    ex = exercises.get(name)
    return [decode(encode(c.to_data())) for c in ex.cases(np.random.default_rng(seed))]


def test_the_notebook_has_at_least_seven_exercises():
    assert len(NAMES) >= 7
    for want in ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "lstm_step_forward",
                 "lstm_step_backward", "clip_grad_norm", "lstm_cell"):
        assert f"rnn_lstm.{want}" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert len(ex.mistakes) >= 2, f"{name} lists fewer than two known mistakes"
    all_cases = cases(name)
    for mistake in ex.mistakes:
        failing = [c for c in all_cases if not ex.judge(c, run_case(mistake.fn, c)).ok]
        assert failing, f"{name}: no case catches the mistake {mistake.hint!r}"
        hints = {ex.diagnose(c, run_case(mistake.fn, c)) for c in failing}
        assert any(mistake.hint in h for h in hints), f"{name}: {mistake.hint!r} is never named"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_cases_reach_the_edges(name, seed):
    """Every case has H != D; a batch of one in every exercise but clipping; T = 1 in the sequence exercises."""
    all_cases = cases(name, seed)
    assert [c["label"] for c in all_cases] == [c["label"] for c in cases(name, seed)]  # seeded
    if name == "rnn_lstm.clip_grad_norm":
        return
    shapes = []
    for case in all_cases:
        x, h = case["args"][0], case["args"][1]
        Wx = case["args"][3] if name.split(".")[1].startswith("lstm") else case["args"][2]
        N, D, H = x.shape[0], x.shape[-1], h.shape[-1]
        assert D != H, f"{name}: {case['label']} has D == H"
        assert Wx.shape[0] == D and Wx.shape[1] in (H, 4 * H)
        shapes.append((N, x.shape[1] if x.ndim == 3 else None))
    assert any(N == 1 for N, _ in shapes), f"{name} has no batch of one"
    if name in ("rnn_lstm.rnn_forward", "rnn_lstm.rnn_backward"):
        assert any(T == 1 for _, T in shapes) and any(T is not None and T >= 3 for _, T in shapes)


def test_a_backward_case_puts_the_loss_on_the_last_state_only():
    # Without it, a BPTT that forgets to carry the hidden gradient can still be close on random dh.
    last_only = [c for c in cases("rnn_lstm.rnn_backward") if "last hidden state only" in c["label"]]
    assert last_only
    dh = last_only[0]["args"][-1]
    assert np.all(dh[:, :-1] == 0) and np.any(dh[:, -1] != 0) and dh.shape[1] >= 3


def test_clipped_cases_have_a_norm_of_at_least_one():
    # There the reference's CLIP_EPS (max_norm / (norm + 1e-6)) is within tolerance of the lecture's max_norm / norm.
    ex = exercises.get("rnn_lstm.clip_grad_norm")
    for case in cases("rnn_lstm.clip_grad_norm"):
        grads, max_norm = case["args"]
        norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
        if norm > max_norm:
            assert norm >= 1.0, case["label"]

        def without_eps(grads, max_norm):
            norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            scale = max_norm / norm if norm > max_norm else 1.0
            return (*(g * scale for g in grads), norm)

        assert ex.judge(case, run_case(without_eps, case)).ok, case["label"]


def test_the_mistake_helpers_are_the_reference_without_a_mistake():
    rng = np.random.default_rng(3)
    N, D, H = 3, 4, 2
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)),
            *rnn.weights(rng, D, H, gates=4), rng.standard_normal((N, H)), rng.standard_normal((N, H))]
    expected = lstm._cell_ref(*args)
    for got, want in zip(lstm._mistaken_step(*args), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, want in zip(lstm._backward_by_hand()(*args), expected[2:], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    x, h0 = rng.standard_normal((N, 5, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rnn.weights(rng, D, H)
    dh = rng.standard_normal((N, 5, H))
    for got, want in zip(rnn._backward_wrong()(x, h0, Wx, Wh, b, dh), rnn._backward_ref(x, h0, Wx, Wh, b, dh),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rnn._forward_wrong()(x, h0, Wx, Wh, b), ref.rnn_forward(x, h0, Wx, Wh, b)[0],
                               rtol=1e-14)


def test_the_torch_gate_order_is_a_mistake_on_every_lstm_case():
    # The test of the tests the issue asks for: gates read in torch's order i, f, g, o are caught everywhere.
    for name in ("rnn_lstm.lstm_step_forward", "rnn_lstm.lstm_cell"):
        ex = exercises.get(name)
        wrong = next(m for m in ex.mistakes if "i, f, o, g" in m.hint).fn
        assert all(not ex.judge(c, run_case(wrong, c)).ok for c in cases(name)), name


def test_changing_dnext_c_in_place_is_rejected():
    ex = exercises.get("rnn_lstm.lstm_step_backward")

    def in_place(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
        out = lstm._backward_ref(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c)
        dnext_c += 1.0  # what the lecture's code does to its argument
        return out

    verdict = ex.judge(cases(ex.name)[0], run_case(in_place, cases(ex.name)[0]))
    assert not verdict.ok and "dnext_c" in verdict.message
