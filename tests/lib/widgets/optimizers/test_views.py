"""Tests of dlcourse.widgets.optimizers.views: both views headless, the student's rules and the fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import dlcourse.lazy_reference
from dlcourse.data import load_digits
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import optim as ref
from dlcourse.widgets.optimizers import OPTIMIZERS, SURFACES, BatchNoiseView, OptimizerPathsView, trajectory


def stub(*args: object) -> tuple:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits(seed=0)
    return d.X_train, d.y_train


def test_paths_view_uses_the_students_rules_or_the_reference():
    calls = []

    def spy(w, dw, config=None):
        calls.append(1)
        return ref.adam(w, dw, config)

    view = OptimizerPathsView({"Adam": spy, "SGD": stub})
    assert calls and "your sgd is not done yet" in view.title.get_text()
    assert "adam" not in view.title.get_text()
    p = view.params
    expected = trajectory(ref.adam, SURFACES[0], view.MAX_STEPS, {"learning_rate": p["adaptive_lr"]})
    np.testing.assert_allclose(view.paths()["Adam"], expected)
    with pytest.raises(ValueError, match="unknown optimizer"):
        OptimizerPathsView({"Lion": ref.sgd})


def test_paths_view_updates_in_place_and_caches():
    view = OptimizerPathsView()
    lines = {name: line for name, line in view.path_lines.items()}
    view.update(steps=10)
    assert all(view.path_lines[n] is lines[n] for n in OPTIMIZERS)
    assert len(view.path_lines["SGD"].get_xdata()) == 11
    size = len(view._paths)
    view.update(steps=40, surface=2)
    view.update(surface=0)
    assert len(view._paths) == size + len(OPTIMIZERS)  # the saddle's six paths; the ravine's came from the cache
    view.update(momentum=0.5)
    assert len(view._paths) == size + len(OPTIMIZERS) + 2  # only momentum and Nesterov depend on β


def test_paths_view_blits_a_surface_it_has_drawn_before(monkeypatch):
    view = OptimizerPathsView()
    canvas = view.fig.canvas
    canvas.draw()
    full_draws = []
    monkeypatch.setattr(canvas, "draw", lambda: full_draws.append(1) or FigureCanvasAgg.draw(canvas))
    view.update(surface=1)
    view.draw()  # first visit: one full draw, then a blit
    view.update(surface=0)
    view.draw()
    view.update(surface=1, learning_rate=1e-3)
    view.draw()
    assert full_draws == [1]
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    FigureCanvasAgg.draw(canvas)
    np.testing.assert_array_equal(blitted, np.asarray(canvas.buffer_rgba()))


def test_batch_noise_view_snaps_caches_and_falls_back(digits):
    X, y = digits
    view = BatchNoiseView(X, y, sgd=stub)
    assert "(using the reference: your sgd is not done yet)" in view.title.get_text()
    assert view.snap(0.9) == pytest.approx(1.0) and view.snap(0.2) == pytest.approx(10**-0.5)
    assert view.batch_sizes[0] == 1 and view.batch_sizes[-1] == len(y)
    cloud, line = view.cloud, view.full_line
    view.update(batch=0, learning_rate=0.3)
    assert view.cloud is cloud and view.full_line is line
    full, _ = view.run(1, 10**-0.5)
    np.testing.assert_allclose(line.get_ydata(), np.clip(full, 0, view.axes[2].get_ylim()[1]))
    # The noise of single samples is far larger than that of batches of 512.
    assert np.std(view.clouds[0][:, 1]) > 10 * np.std(view.clouds[-2][:, 1])


def test_batch_noise_view_runs_the_students_sgd(digits):
    X, y = digits
    calls = []

    def spy(w, dw, config=None):
        calls.append(1)
        return ref.sgd(w, dw, config)

    view = BatchNoiseView(X[:300], y[:300], sgd=spy)
    assert calls and "reference" not in view.title.get_text()
    with pytest.raises(ValueError):
        BatchNoiseView(X, y[:5])


@pytest.mark.parametrize("interactive", [None, False], ids=["ipympl", "output"])
def test_paths_view_widget_switches_surfaces_headless(interactive):
    view = OptimizerPathsView()
    box = view.widget(interactive=interactive)
    for surface in (2, 1, 2, 0):
        view.controls["surface"].value = surface
    view.controls["steps"].value = 30
    assert view.params["surface"] == 0 and len(view.path_lines["Adam"].get_xdata()) == 31
    assert box.children[-1] is not None


def test_without_the_reference_only_the_missing_rules_are_hidden(monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = OptimizerPathsView({"SGD": stub, "Adam": ref.adam})
    assert view.title.get_text().endswith(
        "(implement `sgd`, `sgd_momentum`, `nesterov`, `adagrad`, `rmsprop` first)")
    assert view.path_lines["Adam"].get_visible() and not view.path_lines["SGD"].get_visible()
    assert not view.loss_lines["momentum"].get_visible()
    view.update(surface=2)
    view.draw()


def test_without_the_reference_the_batch_view_keeps_its_noise_panels(digits, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    X, y = digits
    view = BatchNoiseView(X[:300], y[:300], sgd=stub)
    assert view.title.get_text().endswith("(implement `sgd` first)")
    assert not view.full_line.get_visible() and view.cloud.get_visible()
    view.update(batch=0)
    np.testing.assert_array_equal(view.cloud.get_offsets(), view.clouds[0])  # the cloud still follows
    working = BatchNoiseView(X[:300], y[:300], sgd=ref.sgd)
    assert working.full_line.get_visible() and working.title.get_text() == working.base_title


def uphill_sgd(w, dw, config=None):
    """A sign-flipped SGD, as students write it: it climbs at every learning rate."""
    config = {} if config is None else config
    return w + config.setdefault("learning_rate", 1e-2) * dw, config


def torch_momentum(w, dw, config=None):
    """PyTorch's momentum buffer: other state, the same steps as the lecture's form at a constant learning rate."""
    config = {} if config is None else config
    lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
    config["buf"] = mu * config.get("buf", np.zeros_like(w)) + dw
    return w - lr * config["buf"], config


def test_a_wrong_rule_is_blamed_not_the_learning_rate():
    view = OptimizerPathsView({"SGD": uphill_sgd, "momentum": torch_momentum}, surface=0)
    view.update(learning_rate=0.01)  # a rate at which SGD converges on the ravine
    title = view.title.get_text()
    assert "your sgd takes other steps than the lecture's rule: the function is wrong, not the slider" in title
    assert "sgd_momentum" not in title  # another form of a correct rule is accepted
    expected = trajectory(ref.sgd, SURFACES[0], view.MAX_STEPS, {"learning_rate": 0.01})
    np.testing.assert_allclose(view.paths()["SGD"], expected)  # the reference's path is drawn instead
    assert "diverged" not in view.status.get_text()


def test_without_the_reference_an_uphill_rule_is_named_not_diverged(monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    rules = {"SGD": uphill_sgd, "momentum": torch_momentum, "Nesterov": ref.nesterov, "Adagrad": ref.adagrad,
             "RMSProp": ref.rmsprop, "Adam": ref.adam}
    view = OptimizerPathsView(rules, surface=0)
    view.update(learning_rate=0.01, steps=150)
    status = view.status.get_text()
    assert "your sgd steps uphill at the start" in status and "the function is wrong, not α" in status
    assert "diverged: SGD" not in status and "sgd_momentum" not in status
    assert view.path_lines["SGD"].get_visible()  # drawn as it is: there is nothing else to draw
    view.update(learning_rate=0.5)  # Nesterov really diverges here (its limit is 0.34): that is the learning rate
    assert "diverged: Nesterov" in view.status.get_text()
