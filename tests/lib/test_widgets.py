"""Tests of dlcourse.widgets: the computations, in-place updates, fallbacks, the widget headless.

No browser anywhere: views draw on Agg, and ``widget()`` is built and driven
by setting slider values, as nbclient/nbgrader would leave it.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import ipywidgets
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from dlcourse.reference import regression as ref
from dlcourse.widgets import ALL_VIEWS, WithFallback
from dlcourse.widgets.regression import (
    GradientDescentView,
    PolynomialDegreeView,
    fit_polynomial,
    loss_surface,
    path_losses,
    polynomial_errors,
    stability_limit,
    unit_scale,
)


@pytest.fixture(scope="module")
def line() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 30)
    return ref.add_bias_column(x[:, None]), 2 * x + 1 + 0.3 * rng.standard_normal(30)


@pytest.fixture(scope="module")
def sine() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 40)
    y = np.sin(np.pi * x) + 0.2 * rng.standard_normal(40)
    return x[:20], y[:20], x[20:], y[20:]


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


# -- computations --------------------------------------------------------------------

def test_loss_surface_equals_the_mse_at_grid_points(line):
    X, y = line
    t0, t1 = np.linspace(-1, 3, 7), np.linspace(0, 4, 5)
    Z = loss_surface(X, y, t0, t1)
    assert Z.shape == (5, 7)  # (len(t1), len(t0)), as contour expects
    for i, j in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        assert Z[i, j] == pytest.approx(ref.mse(X @ np.array([t0[j], t1[i]]), y), rel=1e-10)


def test_path_losses_with_a_function_agree_with_the_vectorised_form(line):
    X, y = line
    path = ref.gradient_descent(X, y, 0.1, 20, np.zeros(2))
    np.testing.assert_allclose(path_losses(X, y, path, ref.mse), path_losses(X, y, path),
                               rtol=1e-12)


def test_stability_limit_separates_convergence_from_divergence(line):
    X, y = line
    limit = stability_limit(X)
    below = path_losses(X, y, ref.gradient_descent(X, y, 0.95 * limit, 200, np.zeros(2)))
    above = path_losses(X, y, ref.gradient_descent(X, y, 1.05 * limit, 200, np.zeros(2)))
    assert below[-1] < below[0] and above[-1] > above[0]


def test_training_error_does_not_increase_with_degree(sine):
    x_train, y_train, x_val, y_val = (unit_scale(a, -1, 1) for a in sine)
    train, val = polynomial_errors(x_train, y_train, x_val, y_val, 15)
    assert train.shape == val.shape == (16,)
    # Nested least-squares models: more features never fit the training set worse.
    assert np.all(np.diff(train) <= 1e-9 * train[0])
    assert val[15] > val.min()  # and degree 15 overfits


def test_ridge_fit_equals_its_closed_form(sine):
    x, y = unit_scale(sine[0], -1, 1), sine[1]
    degree, ridge = 5, 1e-2
    Phi = ref.polynomial_features(x, degree)
    D = np.diag([0.0] + [1.0] * degree)  # the bias is not penalised
    expected = np.linalg.solve(Phi.T @ Phi + len(x) * ridge * D, Phi.T @ y)
    np.testing.assert_allclose(fit_polynomial(x, y, degree, ridge), expected, rtol=1e-8)
    np.testing.assert_allclose(fit_polynomial(x, y, degree, ridge, ref.normal_equations),
                               expected, rtol=1e-8)


def test_with_fallback_says_why_it_used_the_reference():
    calls = []
    fn = WithFallback("f", stub, lambda a: calls.append(a) or np.ones(3))
    np.testing.assert_array_equal(fn(1, shape=(3,)), np.ones(3))
    assert fn.note == "your f is not done yet" and calls == [1]
    fn.student = lambda a: np.ones(4)
    fn(1, shape=(3,))
    assert fn.note == "your f returned shape (4,), not (3,)"
    fn.student = lambda a: np.array([1.0, np.nan, 2.0])
    fn(1, shape=(3,), finite=True)
    assert fn.note == "your f returned inf/nan"
    fn.student = lambda a: [2.0, 2.0, 2.0]
    np.testing.assert_array_equal(fn(1, shape=(3,)), [2.0, 2.0, 2.0])
    assert fn.note == ""


# -- views ---------------------------------------------------------------------------

def test_every_view_starts_headless_on_agg():
    for entry in ALL_VIEWS:
        view = entry.build()
        assert type(view.fig.canvas) is FigureCanvasAgg, entry.name


def test_gradient_descent_update_changes_artists_in_place(line):
    view = GradientDescentView(*line)
    view.fig.canvas.draw()
    axes, lines = list(view.fig.axes), [list(ax.lines) for ax in view.fig.axes]
    fit_before = view.fit_line.get_ydata().copy()
    view.update(learning_rate=0.02, num_iters=10)
    view.draw()
    assert view.fig.axes == axes and all(a is b for a, b in zip(view.fig.axes, axes, strict=True))
    assert [list(ax.lines) for ax in view.fig.axes] == lines  # same Line2D objects
    assert len(view.path_line.get_xdata()) == 11
    assert not np.allclose(view.fit_line.get_ydata(), fit_before)
    assert view.params["num_iters"] == 10 and view.params["theta0"] == 0.0  # the rest kept
    with pytest.raises(TypeError, match="unknown slider"):
        view.update(momentum=0.9)


def test_polynomial_update_changes_artists_in_place(sine):
    view = PolynomialDegreeView(*sine)
    axes, curve = list(view.fig.axes), view.curve
    before = curve.get_ydata().copy()
    view.update(degree=9)
    assert view.fig.axes == axes and view.curve is curve and curve in axes[0].lines
    assert not np.allclose(curve.get_ydata(), before)
    assert list(view.degree_line.get_xdata()) == [9, 9]


@pytest.mark.parametrize("entry", ALL_VIEWS, ids=lambda e: e.name)
def test_blitted_update_matches_a_full_redraw(entry, monkeypatch):
    view = entry.build()
    canvas = view.fig.canvas
    canvas.draw()  # a full draw saves the background
    before = np.asarray(canvas.buffer_rgba()).copy()
    restored = []
    monkeypatch.setattr(canvas, "restore_region",
                        lambda region: restored.append(region) or FigureCanvasAgg.restore_region(
                            canvas, region))
    view.update(**{name: spec[2] for name, spec in view.sliders.items()})  # sliders at max
    view.draw()  # blits: restores the background, draws the moving artists on it
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    assert len(restored) == 1 and not np.array_equal(blitted, before)
    canvas.draw()
    np.testing.assert_array_equal(blitted, np.asarray(canvas.buffer_rgba()))


def test_gradient_descent_falls_back_to_the_reference(line):
    X, y = line
    view = GradientDescentView(X, y, gradient_descent=stub)
    assert "(using the reference: your gradient_descent is not done yet)" in view.title.get_text()
    p = view.params
    expected = ref.gradient_descent(X, y, p["learning_rate"], p["num_iters"], np.zeros(2))
    np.testing.assert_allclose(view.path_line.get_xdata(), expected[:, 0])
    wrong_shape = GradientDescentView(X, y, gradient_descent=lambda *a: ref.gradient_descent(*a)[1:])
    assert "returned shape" in wrong_shape.title.get_text()


def test_gradient_descent_uses_a_working_student_function(line):
    X, y = line
    calls: list[tuple[float, int]] = []

    def spy(X, y, learning_rate, num_iters, theta0):
        calls.append((learning_rate, num_iters))
        X += 1.0  # a careless student writes into X: the view's data must not change
        return ref.gradient_descent(X - 1.0, y, learning_rate, num_iters, theta0) + 0.25

    mse_calls = []
    view = GradientDescentView(X.copy(), y, gradient_descent=spy,
                               mse=lambda y_hat, y: mse_calls.append(1) or ref.mse(y_hat, y))
    view.update(learning_rate=0.05, num_iters=7)
    assert calls[-1] == (0.05, 7) and len(mse_calls) >= 8
    expected = ref.gradient_descent(X, y, 0.05, 7, np.zeros(2)) + 0.25
    np.testing.assert_allclose(view.path_line.get_xdata(), expected[:, 0])
    np.testing.assert_array_equal(view.X, X)
    assert "reference" not in view.title.get_text()


def test_polynomial_view_uses_the_student_fit_or_falls_back(sine):
    calls = []
    view = PolynomialDegreeView(*sine, fit=lambda X, y: calls.append(X.shape) or
                                ref.normal_equations(X, y))
    assert calls and "reference" not in view.title.get_text()
    fallback = PolynomialDegreeView(*sine, fit=stub)
    assert "(using the reference: your normal_equations is not done yet)" in \
        fallback.title.get_text()
    np.testing.assert_allclose(fallback.curve.get_ydata(), view.curve.get_ydata(), atol=1e-6)


def test_a_diverging_learning_rate_warns_nothing(line):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = GradientDescentView(*line, gradient_descent=ref.gradient_descent, mse=ref.mse)
        view.update(learning_rate=view.sliders["learning_rate"][2], num_iters=200)
        view.fig.canvas.draw()
        view.draw()
    assert view.loss_text.get_text().startswith("diverged")
    shown = view.loss_line.get_ydata()
    assert np.all(np.isfinite(shown)) and shown.max() == view._loss_lim[1]
    assert np.all(np.isfinite(view.path_line.get_xydata()) | np.isnan(view.path_line.get_xydata()))


@pytest.mark.parametrize("interactive", [None, False], ids=["ipympl", "output"])
def test_widget_builds_headless_and_sliders_update(line, interactive):
    view = GradientDescentView(*line)
    box = view.widget(interactive=interactive)
    assert isinstance(box, ipywidgets.VBox) and view.widget() is box  # built once
    if interactive is None:  # ipympl is installed: the figure is one live widget
        assert box.children[-1] is view.fig.canvas
    else:
        assert isinstance(box.children[-1], ipywidgets.Output)
        assert type(view.fig.canvas) is FigureCanvasAgg
    fit_before = view.fit_line.get_ydata().copy()
    view.controls["learning_rate"].value = 0.5
    view.controls["num_iters"].value = 4
    assert view.params["learning_rate"] == pytest.approx(0.5) and view.params["num_iters"] == 4
    assert len(view.loss_line.get_xdata()) == 5
    assert not np.allclose(view.fit_line.get_ydata(), fit_before)


def test_on_ipympl_a_slider_sends_only_a_blitted_frame(line, monkeypatch):
    view = GradientDescentView(*line)
    view.widget(interactive=True)
    canvas = view.fig.canvas
    frames: list[int] = []
    send = canvas.send_binary
    monkeypatch.setattr(canvas, "send_binary", lambda data: frames.append(len(data)) or send(data))
    canvas.draw()  # the browser's first request: a full frame, which saves the background
    assert len(frames) == 1
    monkeypatch.setattr(canvas, "draw", lambda: pytest.fail("a slider must not redraw fully"))
    view.controls["learning_rate"].value = 0.3
    assert len(frames) == 2  # the blit went out at once


def test_importing_ipympl_leaves_the_notebooks_backend_alone():
    # A fresh interpreter: `import ipympl` would switch pyplot to the widget backend.
    code = (
        "import matplotlib; matplotlib.use('agg'); import matplotlib.pyplot as plt\n"
        "from dlcourse.widgets.core import _ipympl_backend\n"
        "assert _ipympl_backend() is not None\n"
        "assert matplotlib.get_backend() == 'agg', matplotlib.get_backend()\n"
        "assert type(plt.figure().canvas).__name__ == 'FigureCanvasAgg'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pyplot_figures_still_display_after_a_view_in_a_kernel(monkeypatch):
    """Attaching ipympl's canvas must leave the notebook's inline plots working, even when
    pyplot was imported but had drawn nothing yet (IPython's display hook is easily lost)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (
        "import matplotlib.pyplot as plt",
        "from dlcourse.widgets import polynomial_demo, show\nshow(polynomial_demo())",
        "plt.plot([1, 3])\nplt.show()",
    )]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    kinds = [list(o.get("data", {})) for o in nb.cells[2].outputs if o.output_type == "display_data"]
    assert any("image/png" in k for k in kinds), f"the figure after a view was not drawn: {kinds}"
