"""Tests of dlcourse.widgets.rnn_lstm: the computations of notebook 07's views, their in-place updates and
fallbacks, and the catalogue entries. No browser: views draw on Agg. Training runs here are tiny (a few dozen
steps); the notebook's own sweep is not run, only checked to be the one the catalogue repeats."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import dlcourse.widgets.rnn_lstm as pkg
from dlcourse.reference import rnn as ref
from dlcourse.widgets.rnn_lstm import (
    DELAYS,
    MODELS,
    SEED,
    STEPS,
    VIEWS,
    DelayView,
    RecallSweep,
    RecurrentClassifier,
    SpectralRadiusView,
    bptt_input_gradients,
    delayed_recall,
    moving_average,
    power_norms,
    recall_sweep,
    recurrent_matrix,
    spectral_radius,
    train_recall,
)

REPO = Path(__file__).resolve().parents[3]


def stub(*args: object) -> object:
    raise NotImplementedError("not done yet")


def no_carry_backward(dh: np.ndarray, cache: tuple) -> tuple:
    """A BPTT that forgets to carry the hidden gradient back: only the last step's input gets any gradient."""
    _, h0, Wx, _, h = cache  # the reference's cache: (x, h0, Wx, Wh, h)
    da = dh * (1 - h**2)
    return (da @ Wx.T, np.zeros_like(h0), None, None, None)


@pytest.fixture(scope="module")
def tiny_sweep() -> RecallSweep:
    torch.set_num_threads(1)
    return recall_sweep((2, 4), steps=30, seed=0, hidden_size=8, n_test=100)


# -- the eigenvalue argument -------------------------------------------------------------------------

@pytest.mark.parametrize("radius", [0.5, 1.0, 1.37])
def test_recurrent_matrix_has_the_spectral_radius_asked_for(radius):
    W = recurrent_matrix(12, radius, seed=3)
    assert W.shape == (12, 12)
    assert spectral_radius(W) == pytest.approx(radius, rel=1e-12)
    np.testing.assert_allclose(recurrent_matrix(12, 2 * radius, seed=3), 2 * W, rtol=1e-12)  # one draw, rescaled
    with pytest.raises(ValueError):
        recurrent_matrix(0, 1.0)


@pytest.mark.parametrize("lam", [0.8, 1.25])
def test_power_norms_follow_the_eigenvalues(lam):
    # W = lam Q with Q orthogonal: every eigenvalue has modulus lam, and ||(W^T)^k g|| = lam^k ||g|| exactly.
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 6)))
    g = np.random.default_rng(1).standard_normal((2, 6))
    norms = power_norms(lam * Q, g, 10)
    np.testing.assert_allclose(norms, lam ** np.arange(11) * np.linalg.norm(g), rtol=1e-12)


def test_bptt_input_gradients_measure_what_reaches_each_step():
    rng = np.random.default_rng(2)
    N, T, D, H = 3, 7, 2, 5
    Wx, Wh, b = rng.standard_normal((D, H)), 0.9 * recurrent_matrix(H, 1.0, seed=4), np.zeros(H)
    dout = rng.standard_normal((N, H))
    # Zero input and state: the RNN stays at h = 0 where tanh' = 1, so it is linear and dx_{T-1-k} = dout (Wh^T)^k Wx^T.
    x, h0 = np.zeros((N, T, D)), np.zeros((N, H))
    norms = bptt_input_gradients(ref.rnn_forward, ref.rnn_backward, x, h0, Wx, Wh, b, dout)
    want = [np.linalg.norm(dout @ np.linalg.matrix_power(Wh.T, k) @ Wx.T) for k in range(T)]
    np.testing.assert_allclose(norms, want, rtol=1e-12)
    # Against torch autograd with nonzero inputs: the norm of d(sum h_T * dout)/dx per step, last step first.
    x = rng.standard_normal((N, T, D))
    norms = bptt_input_gradients(ref.rnn_forward, ref.rnn_backward, x, h0, Wx, Wh, b, dout)
    xt = torch.tensor(x, requires_grad=True)
    h = torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):
        h = torch.tanh(xt[:, t] @ torch.from_numpy(Wx) + h @ torch.from_numpy(Wh))
    (h * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(norms, np.linalg.norm(xt.grad.numpy(), axis=(0, 2))[::-1], rtol=1e-10)
    # A backward pass that does not carry the hidden gradient leaves every earlier step at 0.
    broken = bptt_input_gradients(ref.rnn_forward, no_carry_backward, x, h0, Wx, Wh, b, dout)
    assert broken[0] > 0 and np.all(broken[1:] == 0)


# -- the long-delay task ---------------------------------------------------------------------------------

def test_delayed_recall_is_the_task_described():
    X, y = delayed_recall(50, delay=6, n_symbols=3, noise=0.5, seed=1)
    assert X.shape == (50, 7, 4) and X.dtype == np.float32 and y.shape == (50,) and y.dtype == np.int64
    np.testing.assert_array_equal(X[np.arange(50), 0, y], 1.0)  # step 0: the symbol, one-hot ...
    assert np.all(X[:, 0, :3].sum(axis=1) == 1.0) and np.all(X[:, 0, 3] == 1.0)  # ... and the marker
    assert np.all(X[:, 1:, 3] == 0.0)  # no marker after step 0
    assert 0.4 < X[:, 1:, :3].std() < 0.6  # noise of std 0.5 on the symbol channels
    assert set(y) == {0, 1, 2}
    X2, y2 = delayed_recall(50, delay=6, n_symbols=3, noise=0.5, seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert delayed_recall(4, delay=0)[0].shape == (4, 1, 5)
    for bad in ({"n": 0, "delay": 3}, {"n": 5, "delay": -1}, {"n": 5, "delay": 3, "n_symbols": 1}):
        with pytest.raises(ValueError):
            delayed_recall(**bad)


def test_recurrent_classifier_sets_the_forget_bias_and_reads_the_last_state():
    torch.manual_seed(0)
    model = RecurrentClassifier("lstm", 5, 6, 4, forget_bias=2.0)
    bias = (model.recurrent.bias_ih_l0 + model.recurrent.bias_hh_l0).detach()
    assert torch.all(bias[6:12] == 2.0)  # torch's gate blocks i, f, g, o: f is the second
    assert torch.all(bias[:6].abs() <= 2 / math.sqrt(6))
    x = torch.randn(3, 7, 5)
    out = model(x)
    assert out.shape == (3, 4)
    x2 = x.clone()
    x2[:, -1] += 1.0  # only the last step changed: the output changes
    assert not torch.allclose(model(x2), out)
    rnn_model = RecurrentClassifier("rnn", 5, 6, 4)
    assert isinstance(rnn_model.recurrent, torch.nn.RNN) and rnn_model(x).shape == (3, 4)
    with pytest.raises(ValueError, match="no gates"):
        RecurrentClassifier("rnn", 5, 6, 4, forget_bias=1.0)
    with pytest.raises(ValueError, match="kind"):
        RecurrentClassifier("gru", 5, 6, 4)


def test_train_recall_is_repeatable_and_learns_a_short_delay():
    torch.set_num_threads(1)
    a = train_recall("lstm", 2, forget_bias=1.0, steps=40, hidden_size=8, n_test=200, seed=3)
    b = train_recall("lstm", 2, forget_bias=1.0, steps=40, hidden_size=8, n_test=200, seed=3)
    assert a.losses.shape == (40,) and a.accuracy == b.accuracy
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.losses[-10:].mean() < a.losses[:10].mean()  # it learns something
    assert 0.0 <= a.accuracy <= 1.0


def test_recall_sweep_holds_every_model_at_every_delay(tiny_sweep):
    assert tiny_sweep.delays == (2, 4) and tiny_sweep.names == tuple(name for name, _, _ in MODELS)
    assert tiny_sweep.accuracy.shape == (3, 2) and tiny_sweep.losses.shape == (3, 2, 30)
    assert tiny_sweep.chance == 0.25


def test_moving_average():
    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0, 3.0, 4.0]), 2), [1.5, 2.5, 3.5])
    np.testing.assert_allclose(moving_average(np.arange(12.0).reshape(2, 6), 3)[1], [7.0, 8.0, 9.0, 10.0])
    with pytest.raises(ValueError):
        moving_average(np.ones(3), 4)


# -- the views ---------------------------------------------------------------------------------------------

def test_spectral_radius_view_draws_the_students_functions_and_updates_in_place():
    view = SpectralRadiusView(ref.rnn_forward, ref.rnn_backward, hidden_size=8, steps=12)
    lines = (view._linear, view._rnn)
    view.update(radius=0.6, input_scale=0.0)
    norms = power_norms(0.6 * view.W1, view.dout, 11)
    np.testing.assert_allclose(view._linear.get_ydata(), norms / norms[0])
    offsets = view._eig.get_offsets()
    np.testing.assert_allclose(np.abs(offsets[:, 0] + 1j * offsets[:, 1]).max(), 0.6, rtol=1e-10)
    small = view._rnn.get_ydata().copy()
    view.update(radius=1.4)
    assert view._rnn.get_ydata()[-1] > small[-1] * 1e3  # through rho > 1 the gradient grows
    assert (view._linear, view._rnn) == lines  # the same artists, new data
    assert "using the reference" not in view.title.get_text()
    view.draw()
    with pytest.raises(TypeError, match="unknown slider"):
        view.update(depth=3)


def test_spectral_radius_view_falls_back_to_the_reference_and_says_so():
    view = SpectralRadiusView(stub, stub, hidden_size=8, steps=12)
    assert "using the reference" in view.title.get_text() and "not done yet" in view.title.get_text()
    reference_view = SpectralRadiusView(hidden_size=8, steps=12)
    np.testing.assert_allclose(view._rnn.get_ydata(), reference_view._rnn.get_ydata())
    # A student's BPTT that does not carry the gradient is drawn as it is (what it computes: nothing arrives).
    broken = SpectralRadiusView(ref.rnn_forward, no_carry_backward, hidden_size=8, steps=12)
    assert broken._rnn.get_ydata()[1:].max() == SpectralRadiusView.LIMITS[0]


def test_spectral_radius_view_says_what_to_implement_where_the_reference_is_absent(monkeypatch):
    from dlcourse.lazy_reference import ReferenceUnavailable

    view = SpectralRadiusView(stub, stub, hidden_size=8, steps=12)

    def absent(*args: object) -> object:
        raise ReferenceUnavailable("no reference here")

    monkeypatch.setattr(view._bptt, "reference", absent)
    view._cache.clear()
    view.update(radius=1.1)
    assert "implement `rnn_forward/rnn_backward` first" in view.title.get_text()
    assert not view._rnn.get_visible() and view._linear.get_visible()


def test_delay_view_looks_the_runs_up(tiny_sweep):
    view = DelayView(tiny_sweep)
    assert view.sliders["delay"].min == 2 and view.sliders["delay"].max == 4 and view.sliders["delay"].step == 2
    view.update(delay=2)
    curves = moving_average(tiny_sweep.losses, min(DelayView.WINDOW, 30))
    for m, line in enumerate(view._lines):
        np.testing.assert_allclose(line.get_ydata(), np.clip(curves[m, 0], 0, 1.6))
    assert list(view._vline.get_xdata()) == [2, 2] and "delay 2" in view._text.get_text()
    view.update(delay=3)  # between two trained delays: the nearest one (2, the first of a tie) is shown
    assert "delay 2" in view._text.get_text()
    view.update(delay=4)
    np.testing.assert_allclose(view._lines[0].get_ydata(), np.clip(curves[0, 1], 0, 1.6))
    view.draw()


def test_delay_view_refuses_a_sweep_it_cannot_step_through(tiny_sweep):
    uneven = RecallSweep((2, 4, 8), tiny_sweep.names, np.zeros((3, 3)), np.zeros((3, 3, 30)), 0.25)
    with pytest.raises(ValueError, match="equally spaced"):
        DelayView(uneven)
    with pytest.raises(ValueError, match="accuracy"):
        DelayView(RecallSweep((2, 4), tiny_sweep.names, np.zeros((2, 2)), np.zeros((3, 2, 30)), 0.25))


# -- the catalogue entries ---------------------------------------------------------------------------------

def test_views_are_listed_for_the_catalogue():
    assert [(e.notebook, e.name) for e in VIEWS] == [("07_rnn_lstm", "SpectralRadiusView"),
                                                      ("07_rnn_lstm", "DelayView")]
    assert isinstance(VIEWS[0].build(), SpectralRadiusView)


def test_the_delay_view_entry_repeats_the_notebooks_sweep(monkeypatch, tiny_sweep):
    calls = []

    def fake_sweep(delays, models, **kwargs):
        calls.append((tuple(delays), tuple(models), kwargs))
        return tiny_sweep

    monkeypatch.setattr(pkg, "recall_sweep", fake_sweep)
    pkg.notebook_sweep.cache_clear()
    try:
        assert isinstance(VIEWS[1].build(), DelayView)
    finally:
        pkg.notebook_sweep.cache_clear()
    assert calls == [(DELAYS, MODELS, {"steps": STEPS, "seed": SEED, "device": "cpu"})]
    # The notebook's sweep cell uses the same delays, steps and seed.
    nb = nbformat.read(str(REPO / "solutions" / "07_rnn_lstm" / "07_rnn_lstm.ipynb"), as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and "recall_sweep(" in c.source
                  and "import" not in c.source)
    assert f"delays = {DELAYS}" in source
    assert f"recall_sweep(delays, steps={STEPS}, seed={SEED})" in source
