"""Graded exercises of notebook 02_backprop (I2DL "Introduction to Neural Networks", "Optimization and
Backpropagation", "Training Neural Networks" I and II; the matrix-derivatives tutorial; Ishida's TwoLayerNet).

Three groups, one module each: the scalar autograd ``Value`` and the order of its backward pass, judged on the
whole contract (:mod:`.value`); the layers' forward and backward passes and the two classification losses,
softmax cross entropy and the multiclass hinge (:mod:`.layers`); whole networks: two layers, any depth with L2
regularization, counting parameters, overfitting a tiny batch (:mod:`.networks`). Importing this package registers
all of them.
"""

from dlcourse.exercises.backprop import layers, networks, value
from dlcourse.exercises.backprop.networks import as_tuple

__all__ = ["as_tuple", "layers", "networks", "value"]
