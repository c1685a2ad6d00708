"""Tests of dlcourse.widgets.initialization.views: in-place updates, the student's functions, the fallbacks.

No browser: views draw on Agg.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import dlcourse.lazy_reference
from dlcourse.data import load_digits
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import init as ref
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.initialization import ActivationStatsView, InitialLossView


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def loss_view(digits) -> InitialLossView:
    return InitialLossView(digits.X_train, digits.y_train, digits.X_val, digits.y_val, epochs=2)


@pytest.fixture(scope="module")
def stats_view() -> ActivationStatsView:
    return ActivationStatsView(ref.forward_activations, ref.weight_gradients, max_depth=8)


def test_views_are_registered() -> None:
    names = {(e.notebook, e.name) for e in ALL_VIEWS}
    assert ("04_initialization", "ActivationStatsView") in names
    assert ("04_initialization", "InitialLossView") in names


def test_stats_view_updates_in_place_with_the_students_functions(stats_view) -> None:
    view = stats_view
    artists = (list(view.fig.axes), view._fwd_line, list(view._ridges))
    view.update(gain=math.sqrt(2), activation=1, depth=6)
    view.draw()
    assert list(view.fig.axes) == artists[0] and view._fwd_line is artists[1] and view._ridges == artists[2]
    x, y = view._fwd_line.get_data()
    hs = ref.forward_activations(view.x, view.weights(math.sqrt(2), 6), "relu")
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_allclose(y, [h.std() for h in hs], rtol=1e-10)
    grads = ref.weight_gradients(view.x, view.weights(math.sqrt(2), 6), "relu", view.dout)
    np.testing.assert_allclose(view._bwd_line.get_ydata(), [g.std() for g in grads], rtol=1e-10)
    assert [r.get_visible() for r in view._ridges] == [True] * 6 + [False] * 2
    assert "reference" not in view.title.get_text()
    with pytest.raises(TypeError, match="unknown slider"):
        view.update(width=3)


def test_stats_view_clips_explosions_to_its_axes(stats_view) -> None:
    stats_view.update(gain=30.0, activation=1, depth=8)
    y = stats_view._fwd_line.get_ydata()
    assert np.all(np.isfinite(y)) and y.max() == stats_view.LIMITS[1]


def test_stats_view_falls_back_to_the_reference() -> None:
    view = ActivationStatsView(stub, lambda *a: [np.zeros((2, 2))], max_depth=4)
    title = view.title.get_text()
    assert "your forward_activations is not done yet" in title and "weight_gradients returned shape" in title
    expected = [h.std() for h in ref.forward_activations(view.x, view.weights(1.0, 4), "tanh")]
    np.testing.assert_allclose(view.forward_stats(1.0, "tanh")[0], expected, rtol=1e-10)


def test_loss_view_updates_in_place_and_caches_runs(loss_view) -> None:
    view = loss_view
    line, marker = view._train_line, view._marker
    view.update(std=1e-3, hidden_layers=1)
    first = view._train_line.get_ydata().copy()
    runs = len(view._runs)
    view.update(std=0.1)
    view.update(std=1e-3)
    assert view._train_line is line and view._marker is marker
    assert len(view._runs) == runs + 1  # 1e-3 came from the cache
    np.testing.assert_array_equal(view._train_line.get_ydata(), first)
    start = view._marker.get_ydata()[0]
    assert start == pytest.approx(math.log(10), abs=1e-3)  # tiny weights start at log K
    np.testing.assert_allclose(view.loss_curve(1)[0], math.log(10), atol=1e-6)


def test_loss_view_shows_divergence_without_warnings(loss_view) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_view.update(std=10**0.5, hidden_layers=3)
        loss_view.fig.canvas.draw()
    assert loss_view._text.get_text().startswith("diverged")
    assert np.all(np.isfinite(loss_view._train_line.get_ydata()))


def test_the_comparison_curves_are_the_reference_statistics(stats_view) -> None:
    view = stats_view
    assert [label for label, _, _ in view.presets] == ["N(0, 0.01²)", "N(0, 1)", "Xavier", "Kaiming"]
    for activation, depth in (("tanh", 3), ("relu", 8)):
        view.update(activation=("tanh", "relu").index(activation), depth=depth)
        for (_, gain, _), f_line, b_line in zip(view.presets, view._fwd_presets, view._bwd_presets, strict=True):
            ws = view.weights(gain, depth)
            hs = ref.forward_activations(view.x, ws, activation)
            grads = ref.weight_gradients(view.x, ws, activation, view.dout)
            np.testing.assert_allclose(f_line.get_ydata(), np.clip([h.std() for h in hs], *view.LIMITS), rtol=1e-12)
            np.testing.assert_allclose(b_line.get_ydata(), np.clip([g.std() for g in grads], *view.LIMITS),
                                       rtol=1e-12)


def test_stats_view_runs_the_students_functions_where_the_reference_is_absent(monkeypatch) -> None:
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = ActivationStatsView(ref.forward_activations, ref.weight_gradients, max_depth=4)
    assert view.title.get_text() == view.base_title
    expected = [h.std() for h in ref.forward_activations(view.x, view.weights(1.0, 4), "tanh")]
    np.testing.assert_allclose(view._fwd_line.get_ydata(), expected, rtol=1e-10)
    grads = ref.weight_gradients(view.x, view.weights(1.0, 4), "tanh", view.dout)
    np.testing.assert_allclose(view._bwd_line.get_ydata(), [g.std() for g in grads], rtol=1e-10)


def test_stats_view_without_the_reference_or_the_students_functions_says_what_to_implement(monkeypatch) -> None:
    # No local copy of the exercises stands in: the hand-out must not hold their answers.
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = ActivationStatsView(stub, stub, max_depth=4)
    assert view.title.get_text().endswith("(implement `forward_activations`, `weight_gradients` first)")
    hidden = [view._fwd_line, view._bwd_line, *view._fwd_presets, *view._bwd_presets, *view._ridges]
    assert not any(a.get_visible() for a in hidden) and view._text.get_visible()
    half = ActivationStatsView(ref.forward_activations, stub, max_depth=4)
    assert half.title.get_text().endswith("(implement `weight_gradients` first)")
    assert half._fwd_line.get_visible() and all(r.get_visible() for r in half._ridges[:4])
    assert not half._bwd_line.get_visible() and not any(line.get_visible() for line in half._bwd_presets)
    half.update(depth=2, gain=2.0)
    half.fig.canvas.draw()
    assert [r.get_visible() for r in half._ridges] == [True, True, False, False]
