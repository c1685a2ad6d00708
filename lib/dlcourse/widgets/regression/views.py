"""The slider views of notebook 01_regression (I2DL lecture 2, "Machine Learning Basics"): drawing only.

* :class:`GradientDescentView`: gradient descent on the MSE of a line fit, on
  its loss surface J(θ0, θ1), in data space, and as a loss curve: what the
  learning rate does, and that descent diverges beyond α = 2/λ_max. The view
  states that limit as a formula and never prints its value: the notebook asks
  the student to find it with the slider.
* :class:`PolynomialDegreeView`: under- and overfitting as the polynomial
  degree grows (Bishop's curve-fitting example), training against validation
  error, optionally with a ridge penalty (the notebook's regularization section).

Both run the student's own functions when given, with the reference standing
in while those are stubs (:class:`~dlcourse.widgets.fallback.WithFallback`).
Where a student's function runs but cannot be right (descent that climbs at a
stable learning rate, a "least-squares" fit whose gradient is not 0), the view
says that the function is wrong, not the slider setting, and draws the
reference instead where it exists. The numbers come from
:mod:`dlcourse.widgets.regression.compute`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.widgets.core import Slider, View, WithFallback, display_clip
from dlcourse.widgets.regression.compute import (
    descent_misbehaves,
    evaluate_polynomial,
    fit_polynomial,
    learning_rate_top,
    loss_surface,
    parameter_window,
    path_losses,
    polynomial_errors,
    solves_least_squares,
    stability_limit,
    unit_scale,
)

__all__ = ["GradientDescentView", "PolynomialDegreeView"]


class GradientDescentView(View):
    """Gradient descent on a line fit: loss surface with the path, the fitted line, the loss.

    X: (n, 2) design matrix [1, x]; y: (n,). ``gradient_descent(X, y,
    learning_rate, num_iters, theta0) -> path (num_iters+1, 2)`` and
    ``mse(y_hat, y) -> float`` are the student's, if given.
    """

    MAX_ITERS = 200

    def __init__(self, X: np.ndarray, y: np.ndarray,
                 gradient_descent: Callable[..., np.ndarray] | None = None,
                 mse: Callable[[np.ndarray, np.ndarray], float] | None = None) -> None:
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if self.X.ndim != 2 or self.X.shape[1] != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"need X (n, 2) = [1, x] and y (n,), got {self.X.shape}, {self.y.shape}")
        self._gd = WithFallback("gradient_descent", gradient_descent, "regression.gradient_descent")
        self._mse = WithFallback("mse", mse, "regression.mse")
        self.theta_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]  # the optimum the view marks
        self.critical_rate = stability_limit(self.X)
        lo, hi = parameter_window(self.theta_star)
        top = learning_rate_top(self.critical_rate)
        super().__init__({
            "learning_rate": Slider("log", top * 10**-3.5, top, 0.05, min(0.1, top / 10), "learning rate α"),
            "num_iters": Slider("int", 1, self.MAX_ITERS, 1, 50, "steps"),
            "theta0": Slider("float", lo[0], hi[0], (hi[0] - lo[0]) / 100, 0.0, "start θ0"),
            "theta1": Slider("float", lo[1], hi[1], (hi[1] - lo[1]) / 100, 0.0, "start θ1"),
        }, figsize=(10, 3.4), title="Gradient descent on the mean squared error")
        self._build(lo, hi)
        self.update()

    def _build(self, lo: np.ndarray, hi: np.ndarray) -> None:
        ax_j, ax_fit, ax_loss = self.fig.subplots(1, 3)
        # Loss surface: computed once; an image plus a few contour lines (cheap to redraw).
        t0, t1 = np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80)
        Z = loss_surface(self.X, self.y, t0, t1)
        self.loss_min = float(loss_surface(self.X, self.y, self.theta_star[:1],
                                           self.theta_star[1:])[0, 0])
        floor = max(self.loss_min, 1e-6 * Z.max())
        ax_j.imshow(np.log10(Z + floor), extent=(lo[0], hi[0], lo[1], hi[1]), origin="lower",
                    aspect="auto", cmap="viridis", interpolation="bilinear")
        ax_j.contour(t0, t1, Z, levels=np.geomspace(floor * 1.5, Z.max(), 8), colors="w",
                     linewidths=0.5, alpha=0.6)
        ax_j.plot(*self.theta_star, "x", color="k", ms=8)
        (self.path_line,) = ax_j.plot([], [], ".-", color="w", lw=1, ms=3)
        (self.end_marker,) = ax_j.plot([], [], "o", color="tab:red", ms=6)
        ax_j.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="θ0 (bias)", ylabel="θ1 (slope)",
                 title="loss surface J(θ)")
        # Coordinates beyond this box are only ever drawn off-axes; clipping them
        # keeps a diverged path (1e300 or inf) away from the renderer.
        span = hi - lo
        self._box = (lo - 10 * span, hi + 10 * span)

        x = self.X[:, 1]
        self._x_ends = np.array([x.min(), x.max()])
        ax_fit.scatter(x, self.y, s=10, color="tab:blue")
        (self.fit_line,) = ax_fit.plot(self._x_ends, [0.0, 0.0], color="tab:red", lw=2)
        margin = 0.3 * np.ptp(self.y) + 1e-9
        self._y_lim = (self.y.min() - margin, self.y.max() + margin)
        ax_fit.set(ylim=self._y_lim, xlabel="x", ylabel="y", title="data and fitted line")

        # Loss curve on fixed limits: [half the optimum, far above the start], so
        # moving a slider never rescales (a diverged run is drawn at the ceiling).
        self._loss_lim = (max(0.5 * self.loss_min, 1e-3 * floor), 1e3 * Z.max())
        ax_loss.axhline(self.loss_min, color="k", ls="--", lw=0.8)
        (self.loss_line,) = ax_loss.plot([], [], color="tab:blue")
        self.loss_text = ax_loss.text(0.97, 0.95, "", transform=ax_loss.transAxes, ha="right",
                                      va="top", fontsize=9)
        # The limit as the notebook derives it, never its value: finding that is the student's question.
        ax_loss.set(yscale="log", xlim=(0, self.MAX_ITERS), ylim=self._loss_lim,
                    xlabel="step (stable only for α < 2/λ_max)", ylabel="J(θ)", title="loss per step")
        ax_loss.minorticks_off()  # dozens of minor log ticks cost more than the data
        self.axes = (ax_j, ax_fit, ax_loss)
        self.animate(self.path_line, self.end_marker, self.fit_line, self.loss_line, self.loss_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        lr, k = p["learning_rate"], int(p["num_iters"])
        start = np.array([p["theta0"], p["theta1"]])
        with self.part(self.path_line, self.end_marker, self.fit_line, self.loss_line, self.loss_text):
            # A diverging run overflows to inf/nan: that is the lesson, not a warning.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                path, wrong = self._descend(lr, k, start)
                losses = path_losses(self.X, self.y, path, lambda y_hat, y: self._mse(y_hat, y, shape=()))
                shown = np.clip(path, *self._box)
                end = shown[-1]
                self.fit_line.set_ydata(np.clip(end[0] + end[1] * self._x_ends, -1e6, 1e6))
            self.path_line.set_data(shown[:, 0], shown[:, 1])
            self.end_marker.set_data(shown[-1:, 0], shown[-1:, 1])
            self.loss_line.set_data(np.arange(k + 1), display_clip(losses, *self._loss_lim))
            diverged = not np.isfinite(losses[-1]) or losses[-1] > losses[0]
            # What the path did, never where the limit is (that would answer the notebook's question).
            if wrong:
                message = "your gradient_descent climbs or stalls\nat a stable α: the function is wrong,\nnot the rate"
            elif diverged:
                message = "diverging: J grows (α > 2/λ_max)"
            else:
                message = f"J = {losses[-1]:.4g} (best {self.loss_min:.4g})"
            self.loss_text.set_text(message)
            self.loss_text.set_color("tab:red" if diverged or wrong else "k")
            self.loss_line.set_color("tab:red" if diverged or wrong else "tab:blue")
        self.show_fallbacks(self._gd, self._mse)

    def _descend(self, lr: float, k: int, start: np.ndarray) -> tuple[np.ndarray, bool]:
        """The path to draw, and whether it is a student's path that no correct descent makes.

        A student's path that climbs or stalls below the stability limit is
        replaced by the reference's, with a note saying that the function is
        wrong (a sign-flipped step would otherwise read as "diverging", as if
        the rate were to blame); without the reference it is drawn as it is,
        and the loss panel says so.
        """
        path = self._gd(self.X, self.y, lr, k, start, shape=(k + 1, 2))
        if self._gd.note or self._gd.student is None:
            return path, False  # the reference's own path
        if not descent_misbehaves(self.X, self.y, path, start, lr, self.critical_rate):
            return path, False
        try:
            path = np.asarray(self._gd.reference(self.X, self.y, lr, k, start), dtype=np.float64)
        except ReferenceUnavailable:
            return path, True
        self._gd.note = "your gradient_descent climbs or stalls at a stable α: the function is wrong, not the rate"
        return path, False


class PolynomialDegreeView(View):
    """Polynomial least squares of a chosen degree: the fit, and errors against degree.

    x are 1-D inputs, scaled into [-1, 1] before the features are formed.
    ``fit(X, y) -> theta`` is the student's normal_equations, if given.
    """

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                 y_val: np.ndarray, fit: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 *, max_degree: int = 15) -> None:
        self.x_train, self.y_train, self.x_val, self.y_val = (
            np.asarray(a, dtype=np.float64) for a in (x_train, y_train, x_val, y_val))
        x_all = np.concatenate([self.x_train, self.x_val])
        self._scale = (float(x_all.min()), float(x_all.max()))
        if not self._scale[1] > self._scale[0]:
            raise ValueError("the inputs x must not all be equal")
        self.max_degree = max_degree
        self._fit = WithFallback("normal_equations", fit, "regression.normal_equations")
        super().__init__({
            "degree": Slider("int", 0, max_degree, 1, 3, "degree"),
            # 1e-8 is "no penalty" that still keeps degree 15 well posed for a plain solve.
            "ridge": Slider("log", 1e-8, 1.0, 0.25, 1e-8, "ridge λ"),
        }, figsize=(9, 3.4), title="Polynomial least squares: under- and overfitting")
        self._errors_cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._fit_wrong = False  # the student's fit is not least squares and no reference stands in
        self._build()
        self.update()

    def _solve(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        theta = self._fit(X, y, shape=(X.shape[1],), finite=True)
        if self._fit.note or self._fit.student is None or solves_least_squares(X, y, theta):
            return theta
        # A wrong normal_equations would pass for over- or underfitting: say it is the function.
        try:
            theta = np.asarray(self._fit.reference(X, y), dtype=np.float64)
        except ReferenceUnavailable:
            self._fit_wrong = True
            return theta
        self._fit.note = "your normal_equations does not minimise the squared error (X^T (X θ - y) ≠ 0)"
        return theta

    def errors(self, ridge: float) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation MSE for every degree at this ridge (cached)."""
        if ridge not in self._errors_cache:
            if len(self._errors_cache) > 64:
                self._errors_cache.clear()
            s_train, s_val = (unit_scale(x, *self._scale) for x in (self.x_train, self.x_val))
            self._errors_cache[ridge] = polynomial_errors(
                s_train, self.y_train, s_val, self.y_val, self.max_degree, ridge, self._solve)
        return self._errors_cache[ridge]

    def _error_limits(self) -> tuple[float, float]:
        """Fixed log limits of the error axis, covering both ends of the ridge slider."""
        spec = self.sliders["ridge"]
        values = None
        with self.part():  # without normal_equations, limits from the data's spread instead
            values = np.concatenate([*self.errors(spec.min), *self.errors(spec.max)])
        if values is None:
            values = np.array([np.var(self.y_train), np.var(self.y_val)])
        top = 2 * values.max()
        return max(0.5 * values.min(), 1e-6 * top), top

    def _build(self) -> None:
        ax_fit, ax_err = self.fig.subplots(1, 2)
        lo, hi = self._scale
        self._x_plot = np.linspace(lo, hi, 200)
        self._phi_x = unit_scale(self._x_plot, lo, hi)
        points = (ax_fit.scatter(self.x_train, self.y_train, s=14, color="tab:blue"),
                  ax_fit.scatter(self.x_val, self.y_val, s=14, color="tab:orange", marker="x"))
        (self.curve,) = ax_fit.plot(self._x_plot, np.zeros_like(self._x_plot), color="tab:red")
        y_all = np.concatenate([self.y_train, self.y_val])
        margin = 0.3 * np.ptp(y_all) + 1e-9
        self._y_lim = (y_all.min() - margin, y_all.max() + margin)
        ax_fit.set(ylim=self._y_lim, xlabel="x", ylabel="y", title="fit")

        self._err_lim = self._error_limits()
        degrees = np.arange(self.max_degree + 1)
        (self.train_line,) = ax_err.plot(degrees, degrees * 0.0 + 1, ".-", color="tab:blue")
        (self.val_line,) = ax_err.plot(degrees, degrees * 0.0 + 1, ".-", color="tab:orange")
        self.degree_line = ax_err.axvline(0, color="0.5", lw=0.8)
        (self.degree_marker,) = ax_err.plot([0, 0], [1, 1], "o", color="tab:red", ms=6)
        self.error_text = ax_err.text(0.03, 0.95, "", transform=ax_err.transAxes, va="top",
                                      fontsize=9)
        ax_err.set(yscale="log", xlim=(-0.5, self.max_degree + 0.5), ylim=self._err_lim,
                   xlabel="degree", ylabel="MSE", title="error against degree")
        ax_err.minorticks_off()
        # One legend for both panels (same colours), outside the axes: the moving
        # curves are drawn last and would cover a legend inside them.
        self.fig.legend(points, ["training", "validation"], loc="upper left", ncol=1,
                        frameon=False, fontsize=9)
        self.axes = (ax_fit, ax_err)
        self.animate(self.curve, self.train_line, self.val_line, self.degree_line,
                     self.degree_marker, self.error_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        d, ridge = int(p["degree"]), float(p["ridge"])
        with self.part(self.curve, self.train_line, self.val_line, self.degree_line, self.degree_marker,
                       self.error_text):
            train, val = self.errors(ridge)
            theta = fit_polynomial(unit_scale(self.x_train, *self._scale), self.y_train, d, ridge,
                                   self._solve)
            curve = evaluate_polynomial(self._phi_x, theta)
            span = self._y_lim[1] - self._y_lim[0]
            self.curve.set_ydata(np.clip(curve, self._y_lim[0] - 10 * span, self._y_lim[1] + 10 * span))
            self.train_line.set_ydata(display_clip(train, *self._err_lim))
            self.val_line.set_ydata(display_clip(val, *self._err_lim))
            self.degree_line.set_xdata([d, d])
            self.degree_marker.set_data([d, d], display_clip(np.array([train[d], val[d]]),
                                                             *self._err_lim))
            # One short line: every glyph is rendered again on each update.
            if self._fit_wrong:
                self.error_text.set_text("your normal_equations is wrong: X^T (X θ - y) ≠ 0")
            else:
                self.error_text.set_text(f"training {train[d]:.3g}, validation {val[d]:.3g}")
        self.show_fallbacks(self._fit)
