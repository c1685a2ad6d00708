"""Slider views of notebook 01_regression (I2DL lecture 2, "Machine Learning Basics").

* :class:`GradientDescentView`: gradient descent on the MSE of a line fit, on
  its loss surface J(θ0, θ1), in data space, and as a loss curve: what the
  learning rate does, and where it makes descent diverge (α > 2/λ_max).
* :class:`PolynomialDegreeView`: under- and overfitting as the polynomial
  degree grows (Bishop's curve-fitting example), training against validation
  error, optionally with a ridge penalty.

Both run the student's own functions when given and fall back to the
reference (saying so in the title) while those are stubs. The computations
are the plain functions at the top, which tests call directly. The reference
is imported inside functions, so this module imports where it is absent
(the grading sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.widgets.core import View, WithFallback

__all__ = [
    "GradientDescentView", "PolynomialDegreeView", "display_clip", "fit_polynomial",
    "least_squares", "loss_surface", "path_losses", "polynomial_errors", "stability_limit",
    "unit_scale",
]


def _ref() -> Any:
    from dlcourse.reference import regression

    return regression


# -- computations ------------------------------------------------------------------

def loss_surface(X: np.ndarray, y: np.ndarray, t0_grid: np.ndarray,
                 t1_grid: np.ndarray) -> np.ndarray:
    """J(θ) = 1/n ||X θ - y||² on a grid, shape (len(t1_grid), len(t0_grid)) as contour wants.

    Z[i, j] = J((t0_grid[j], t1_grid[i])). Expanded as θᵀAθ - 2bᵀθ + c with
    A = XᵀX/n, b = Xᵀy/n, c = yᵀy/n, so the cost does not grow with n.
    """
    n = X.shape[0]
    A, b, c = X.T @ X / n, X.T @ y / n, y @ y / n
    T0, T1 = np.meshgrid(t0_grid, t1_grid)  # each (len(t1), len(t0))
    Z = A[0, 0] * T0**2 + 2 * A[0, 1] * T0 * T1 + A[1, 1] * T1**2 - 2 * (b[0] * T0 + b[1] * T1) + c
    return np.maximum(Z, 0.0)  # rounding can dip a hair below 0 at an exact fit


def path_losses(X: np.ndarray, y: np.ndarray, path: np.ndarray,
                mse: Callable[[np.ndarray, np.ndarray], float] | None = None) -> np.ndarray:
    """The loss at every row of a descent path (K, d+1): shape (K,), inf/nan where it blew up."""
    with np.errstate(over="ignore", invalid="ignore"):
        if mse is None:  # all rows at once
            return np.mean((path @ X.T - y) ** 2, axis=1)
        return np.array([float(mse(X @ theta, y)) for theta in path])


def stability_limit(X: np.ndarray) -> float:
    """The largest stable learning rate of gradient descent on the MSE: 2/λ_max.

    The Hessian of J is H = 2/n XᵀX; along its top eigenvector each step
    multiplies the error by (1 - α λ_max), which grows when α > 2/λ_max.
    """
    return float(2.0 / np.linalg.eigvalsh(2.0 / X.shape[0] * X.T @ X)[-1])


def display_clip(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values put into [lo, hi] for plotting, inf and nan shown at ``hi`` (diverged)."""
    return np.clip(np.nan_to_num(values, nan=hi, posinf=hi, neginf=lo), lo, hi)


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin_θ ||X θ - y||² by an SVD (stable where XᵀX is nearly singular)."""
    return np.linalg.lstsq(X, y, rcond=None)[0]


def unit_scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] onto [-1, 1]: powers up to x^15 then stay between -1 and 1."""
    return 2.0 * (np.asarray(x, dtype=np.float64) - lo) / (hi - lo) - 1.0


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int, ridge: float = 0.0,
                   solve: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                   ) -> np.ndarray:
    """θ (degree+1,) minimising 1/n ||Φθ - y||² + ridge ||θ[1:]||², Φ = polynomial_features(x).

    Ridge as least squares on augmented data (rows √(n·ridge)·e_k with target
    0, the bias unpenalised), so any least-squares ``solve(X, y)``, such as a
    student's normal_equations, fits it.
    """
    Phi = _ref().polynomial_features(x, degree)
    if ridge > 0:
        n = x.shape[0]
        penalty = np.sqrt(n * ridge) * np.eye(degree + 1)[1:]
        Phi, y = np.vstack([Phi, penalty]), np.concatenate([y, np.zeros(degree)])
    return (solve or least_squares)(Phi, y)


def polynomial_errors(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                      y_val: np.ndarray, max_degree: int, ridge: float = 0.0,
                      solve: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation MSE for degrees 0..max_degree: two arrays (max_degree+1,)."""
    ref = _ref()
    train, val = np.empty(max_degree + 1), np.empty(max_degree + 1)
    for d in range(max_degree + 1):
        theta = fit_polynomial(x_train, y_train, d, ridge, solve)
        train[d] = ref.mse(ref.polynomial_features(x_train, d) @ theta, y_train)
        val[d] = ref.mse(ref.polynomial_features(x_val, d) @ theta, y_val)
    return train, val


# -- views ---------------------------------------------------------------------------

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
        ref = _ref()
        self._gd = WithFallback("gradient_descent", gradient_descent, ref.gradient_descent)
        self._mse = WithFallback("mse", mse, ref.mse)
        self.theta_star = least_squares(self.X, self.y)
        self.critical_rate = stability_limit(self.X)
        # A grid holding both the optimum and the origin (the usual start), with margin.
        pad = 0.6 * max(1.0, *np.abs(self.theta_star))
        lo, hi = np.minimum(self.theta_star, 0) - pad, np.maximum(self.theta_star, 0) + pad
        # The learning-rate slider spans 3.5 decades, up to a little beyond the stability
        # limit, so divergence is one drag away whatever the data's scale.
        top = 10 ** (np.ceil(2 * np.log10(3 * self.critical_rate)) / 2)
        super().__init__({
            "learning_rate": ("log", top * 10**-3.5, top, 0.05, min(0.1, top / 10),
                              "learning rate α"),
            "num_iters": ("int", 1, self.MAX_ITERS, 1, 50, "steps"),
            "theta0": ("float", lo[0], hi[0], (hi[0] - lo[0]) / 100, 0.0, "start θ0"),
            "theta1": ("float", lo[1], hi[1], (hi[1] - lo[1]) / 100, 0.0, "start θ1"),
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
        ax_loss.set(yscale="log", xlim=(0, self.MAX_ITERS), ylim=self._loss_lim, xlabel="step",
                    ylabel="J(θ)", title="loss per step")
        ax_loss.minorticks_off()  # dozens of minor log ticks cost more than the data
        self.axes = (ax_j, ax_fit, ax_loss)
        self.animate(self.path_line, self.end_marker, self.fit_line, self.loss_line, self.loss_text)
        self.layout()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        lr, k = p["learning_rate"], int(p["num_iters"])
        start = np.array([p["theta0"], p["theta1"]])
        # A diverging run overflows to inf/nan: that is the lesson, not a warning.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            path = self._gd(self.X, self.y, lr, k, start, shape=(k + 1, 2))
            losses = path_losses(self.X, self.y, path,
                                 lambda y_hat, y: self._mse(y_hat, y, shape=()))
            shown = np.clip(path, *self._box)
            end = shown[-1]
            self.fit_line.set_ydata(np.clip(end[0] + end[1] * self._x_ends, -1e6, 1e6))
        self.path_line.set_data(shown[:, 0], shown[:, 1])
        self.end_marker.set_data(shown[-1:, 0], shown[-1:, 1])
        self.loss_line.set_data(np.arange(k + 1), display_clip(losses, *self._loss_lim))
        diverged = not np.isfinite(losses[-1]) or losses[-1] > losses[0]
        if diverged:
            message = f"diverged: α > 2/λ_max = {self.critical_rate:.3g}"
        elif lr > self.critical_rate:
            message = f"unstable: α > 2/λ_max = {self.critical_rate:.3g}"
        else:
            message = f"J = {losses[-1]:.4g} (best {self.loss_min:.4g})"
        self.loss_text.set_text(message)
        self.loss_text.set_color("tab:red" if diverged or lr > self.critical_rate else "k")
        self.loss_line.set_color("tab:red" if diverged else "tab:blue")
        self.show_fallbacks(self._gd, self._mse)


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
        self._fit = WithFallback("normal_equations", fit, least_squares)
        super().__init__({
            "degree": ("int", 0, max_degree, 1, 3, "degree"),
            # 1e-8 is "no penalty" that still keeps degree 15 well posed for a plain solve.
            "ridge": ("log", 1e-8, 1.0, 0.25, 1e-8, "ridge λ"),
        }, figsize=(9, 3.4), title="Polynomial least squares: under- and overfitting")
        self._errors_cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._build()
        self.update()

    def _solve(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._fit(X, y, shape=(X.shape[1],), finite=True)

    def errors(self, ridge: float) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation MSE for every degree at this ridge (cached)."""
        if ridge not in self._errors_cache:
            if len(self._errors_cache) > 64:
                self._errors_cache.clear()
            s_train, s_val = (unit_scale(x, *self._scale) for x in (self.x_train, self.x_val))
            self._errors_cache[ridge] = polynomial_errors(
                s_train, self.y_train, s_val, self.y_val, self.max_degree, ridge, self._solve)
        return self._errors_cache[ridge]

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

        # Fixed log limits covering both ends of the ridge slider.
        spec = self.sliders["ridge"]
        values = np.concatenate([*self.errors(spec[1]), *self.errors(spec[2])])
        top = 2 * values.max()
        self._err_lim = (max(0.5 * values.min(), 1e-6 * top), top)
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
        train, val = self.errors(ridge)
        theta = fit_polynomial(unit_scale(self.x_train, *self._scale), self.y_train, d, ridge,
                               self._solve)
        curve = _ref().polynomial_features(self._phi_x, d) @ theta
        span = self._y_lim[1] - self._y_lim[0]
        self.curve.set_ydata(np.clip(curve, self._y_lim[0] - 10 * span, self._y_lim[1] + 10 * span))
        self.train_line.set_ydata(display_clip(train, *self._err_lim))
        self.val_line.set_ydata(display_clip(val, *self._err_lim))
        self.degree_line.set_xdata([d, d])
        self.degree_marker.set_data([d, d], display_clip(np.array([train[d], val[d]]),
                                                         *self._err_lim))
        # One short line: every glyph is rendered again on each update.
        self.error_text.set_text(f"training {train[d]:.3g}, validation {val[d]:.3g}")
        self.show_fallbacks(self._fit)

