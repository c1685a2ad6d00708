"""Tests of dlcourse.widgets.regression.views: in-place updates, the student's functions and their fallbacks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.text import Text

import dlcourse.lazy_reference
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import regression as ref
from dlcourse.widgets.regression import GradientDescentView, PolynomialDegreeView


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


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


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
        # Half the rate: still a descent (so the view keeps it), and not what the reference draws.
        return ref.gradient_descent(X - 1.0, y, learning_rate / 2, num_iters, theta0)

    mse_calls = []
    view = GradientDescentView(X.copy(), y, gradient_descent=spy,
                               mse=lambda y_hat, y: mse_calls.append(1) or ref.mse(y_hat, y))
    view.update(learning_rate=0.05, num_iters=7)
    assert calls[-1] == (0.05, 7) and len(mse_calls) >= 8
    expected = ref.gradient_descent(X, y, 0.025, 7, np.zeros(2))
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
        view.update(learning_rate=view.sliders["learning_rate"].max, num_iters=200)
        view.fig.canvas.draw()
        view.draw()
    assert view.loss_text.get_text().startswith("diverging")
    shown = view.loss_line.get_ydata()
    assert np.all(np.isfinite(shown)) and shown.max() == view._loss_lim[1]
    assert np.all(np.isfinite(view.path_line.get_xydata()) | np.isnan(view.path_line.get_xydata()))


def test_without_the_reference_the_views_run_the_students_functions(line, sine, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    descent = GradientDescentView(*line, gradient_descent=ref.gradient_descent, mse=ref.mse)
    assert descent.title.get_text() == descent.base_title and descent.path_line.get_visible()
    poly = PolynomialDegreeView(*sine, fit=ref.normal_equations)
    assert poly.title.get_text() == poly.base_title and poly.curve.get_visible()


def test_without_the_reference_or_the_students_functions_the_views_say_what_to_implement(line, sine, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    descent = GradientDescentView(*line, gradient_descent=stub, mse=ref.mse)
    assert descent.title.get_text().endswith("(implement `gradient_descent` first)")
    assert not any(a.get_visible() for a in (descent.path_line, descent.fit_line, descent.loss_line))
    no_mse = GradientDescentView(*line, gradient_descent=ref.gradient_descent)
    assert no_mse.title.get_text().endswith("(implement `mse` first)")
    poly = PolynomialDegreeView(*sine, fit=stub)
    assert poly.title.get_text().endswith("(implement `normal_equations` first)")
    assert not poly.curve.get_visible() and not poly.train_line.get_visible()
    lo, hi = poly.axes[1].get_ylim()
    assert 0 < lo < hi  # error axis limits from the data's spread instead
    poly.update(degree=5)
    poly.fig.canvas.draw()


def flipped(X, y, learning_rate, num_iters, theta0):
    """A gradient descent that steps up the gradient: it climbs at every rate."""
    return ref.gradient_descent(X, y, -learning_rate, num_iters, theta0)


def from_start(X, y, learning_rate, num_iters, theta0):
    """Every step from theta0 again: one step, then it stands still."""
    one = ref.gradient_descent(X, y, learning_rate, 1, theta0)
    return np.vstack([one[:1], np.repeat(one[1:], num_iters, axis=0)])


def texts(view) -> str:
    """Every text of the figure: title, tick labels, the loss panel's messages."""
    return " ".join(t.get_text() for t in view.fig.findobj(Text))


def test_the_view_states_the_limit_but_never_its_value(line):
    view = GradientDescentView(*line, gradient_descent=ref.gradient_descent, mse=ref.mse)
    top = view.sliders["learning_rate"].max
    for lr in np.geomspace(view.sliders["learning_rate"].min, top, 25):
        view.update(learning_rate=float(lr), num_iters=200)
        shown = texts(view)
        assert "2/λ_max" in shown
        for digits in (2, 3, 4):
            assert f"{view.critical_rate:.{digits}g}" not in shown, (lr, shown)
        # The message follows what the path did, and only that.
        assert view.loss_text.get_text().startswith("diverging") == (lr > view.critical_rate * 1.02) or \
            abs(lr / view.critical_rate - 1) < 0.02


@pytest.mark.parametrize("wrong", [flipped, from_start])
def test_a_wrong_descent_at_a_stable_rate_blames_the_function_not_the_rate(line, wrong):
    X, y = line
    view = GradientDescentView(X, y, gradient_descent=wrong, mse=ref.mse)
    lr = 0.5 * view.critical_rate
    view.update(learning_rate=lr, num_iters=50)
    title = view.title.get_text()
    assert "using the reference" in title and "the function is wrong, not the rate" in title
    assert not view.loss_text.get_text().startswith("diverging")
    expected = ref.gradient_descent(X, y, lr, 50, np.zeros(2))
    np.testing.assert_allclose(view.path_line.get_xdata(), expected[:, 0])


def test_above_the_limit_a_climbing_path_is_the_rates_doing(line):
    view = GradientDescentView(*line, gradient_descent=flipped, mse=ref.mse)
    view.update(learning_rate=view.sliders["learning_rate"].max, num_iters=100)
    assert "reference" not in view.title.get_text()  # nothing can be said against the function there
    assert view.loss_text.get_text().startswith("diverging")


def test_without_the_reference_a_wrong_descent_is_drawn_and_named(line, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = GradientDescentView(*line, gradient_descent=flipped, mse=ref.mse)
    view.update(learning_rate=0.3 * view.critical_rate, num_iters=30)
    assert "the function is wrong, not the rate" in " ".join(view.loss_text.get_text().split())
    assert view.loss_text.get_color() == "tab:red" and view.path_line.get_visible()


def test_a_correct_student_descent_is_never_called_wrong(line):
    X, y = line
    view = GradientDescentView(X, y, gradient_descent=ref.gradient_descent, mse=ref.mse)
    for lr in np.geomspace(view.sliders["learning_rate"].min, 0.999 * view.critical_rate, 12):
        for theta1 in (view.sliders["theta1"].min, 0.0, view.sliders["theta1"].max):
            view.update(learning_rate=float(lr), num_iters=200, theta1=theta1)
            assert view.title.get_text() == view.base_title, (lr, theta1)


def test_a_wrong_normal_equations_is_named_in_the_polynomial_view(sine, monkeypatch):
    def over_n(X, y):  # the 1/n of the loss kept: not a least-squares fit
        return ref.normal_equations(X, y) / X.shape[0]

    view = PolynomialDegreeView(*sine, fit=over_n)
    assert "your normal_equations does not minimise the squared error" in view.title.get_text()
    right = PolynomialDegreeView(*sine, fit=ref.normal_equations)
    np.testing.assert_allclose(view.curve.get_ydata(), right.curve.get_ydata(), rtol=1e-6)
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    alone = PolynomialDegreeView(*sine, fit=over_n)
    assert alone.error_text.get_text().startswith("your normal_equations is wrong")
