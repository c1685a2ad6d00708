"""Graded exercises of notebook 02_backprop (I2DL "Introduction to Neural Networks" and
"Optimization and Backpropagation"; the matrix-derivatives tutorial; Ishida's TwoLayerNet).

Three groups, one module each: the scalar autograd ``Value`` (:mod:`.value`), the
layers' forward and backward passes (:mod:`.layers`), and whole networks
(:mod:`.networks`). Importing this package registers all of them.
"""

from dlcourse.exercises.backprop import layers, networks, value
from dlcourse.exercises.backprop.networks import as_tuple

__all__ = ["as_tuple", "layers", "networks", "value"]
