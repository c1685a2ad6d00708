"""Graded exercises of notebook 06_cnn (I2DL lectures 9 and 10, Tokyo DL2, TUM ML "Deep Learning II", KIOS 6).

Seven functions in two groups, one module each: the output size of a convolution, the convolution layer forward and
backward and the 1x1 convolution as a linear layer (:mod:`.convolution`); max pooling forward and backward and the
receptive field of a stack of layers (:mod:`.pooling`). Importing this package registers all of them.

Functions that return ``(out, cache)`` are graded through a wrapper in the test cell that returns only numbers; the
backward passes are called with the cache of the student's own forward pass, as a network would call them.
``conv_output_size`` is graded through :func:`output_sizes` (the notebook's setup cell defines the same loop), so
that an illegal stride, which must raise a ValueError, and a legal one are judged in one array.
"""

from dlcourse.exercises.cnn import convolution, pooling
from dlcourse.exercises.cnn.convolution import output_sizes

__all__ = ["convolution", "output_sizes", "pooling"]
