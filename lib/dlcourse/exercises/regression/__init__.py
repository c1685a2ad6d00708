"""Graded exercises of notebook 01_regression (I2DL lecture 2, "Machine Learning Basics", with the penalties of
I2DL lecture 3 and the softmax of lecture 4).

Four groups, one module each, in the notebook's order: least squares (:mod:`.linear`: the MSE, normal equations,
gradient, gradient descent, Gaussian log-likelihood), the penalties (:mod:`.penalties`: L1/L2-regularized loss and
gradient, ridge regression), k-nearest neighbours with k-fold cross-validation (:mod:`.neighbours`) and the
classifiers (:mod:`.classifiers`: sigmoid, logistic and softmax regression). Importing this package registers all
of them.

Every exercise of this notebook requires float64 (its docstring in the notebook says so) and is judged to a relative
tolerance near 1e-6; a float32 computation is named as such in the message.
"""

from dlcourse.exercises.regression import classifiers, linear, neighbours, penalties
from dlcourse.exercises.regression.neighbours import nearest_mean

__all__ = ["classifiers", "linear", "nearest_mean", "neighbours", "penalties"]
