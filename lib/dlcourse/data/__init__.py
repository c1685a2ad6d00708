"""Data sets that work offline, for every notebook of the course.

Everything here runs without a network: scikit-learn's 8x8 digits are the
default "MNIST" (1797 images that ship with scikit-learn), the real MNIST is
read from IDX files when someone has put them on disk, and the rest is
synthetic (regression and 2-D classification sets, sequence tasks) or one of
the two photographs that ship with scikit-learn.

Randomness comes only from the ``seed`` argument (an int, or a
``np.random.Generator`` to draw from), never from NumPy's global state, so a
notebook that seeds once in its setup cell gets the same data every run.

One module per kind of data, each naming the notebooks that use it; every
public name is re-exported here, so notebooks write ``data.load_digits()``:

- ``digits``: ``load_digits`` and its ``Splits`` (notebooks 01-04, every "train it for real")
- ``mnist``: ``read_idx``, ``load_mnist`` (notebooks 05-06, when the files are on disk)
- ``synthetic``: ``make_regression_1d``, ``make_classification_2d`` (notebooks 01-02)
- ``features``: ``add_bias_column``, ``polynomial_features``, ``train_val_split`` (notebooks 01, 03)
- ``sequences``: the adding problem, copy/reverse/sort, sine waves (notebooks 07-08)
- ``images``: ``sample_image`` (notebook 05)
"""

from dlcourse.data.digits import Splits, load_digits
from dlcourse.data.features import add_bias_column, polynomial_features, train_val_split
from dlcourse.data.images import sample_image
from dlcourse.data.mnist import load_mnist, read_idx
from dlcourse.data.sequences import adding_problem, copy_task, reverse_task, sine_sequences, sort_task
from dlcourse.data.synthetic import make_classification_2d, make_regression_1d

__all__ = [
    "Splits",
    "add_bias_column",
    "adding_problem",
    "copy_task",
    "load_digits",
    "load_mnist",
    "make_classification_2d",
    "make_regression_1d",
    "polynomial_features",
    "read_idx",
    "reverse_task",
    "sample_image",
    "sine_sequences",
    "sort_task",
    "train_val_split",
]
