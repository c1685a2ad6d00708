"""Graded exercises of notebook 05_batchnorm (I2DL lecture 8, Tokyo DL2 "Normalization", KIOS lecture 6, NYU).

Two groups, one module each: batch and layer normalization (:mod:`.normalization`:
batch norm forward, its backward through the graph and in the simplified form, the
hand-made ``BatchNorm1d``, layer norm) and the regularizers (:mod:`.regularization`:
the L2 penalty, AdamW, inverted dropout, shifted images). Importing this package
registers all of them.
"""

from dlcourse.exercises.batchnorm import normalization, regularization
from dlcourse.exercises.batchnorm.normalization import run_batchnorm_module, running_stats_after
from dlcourse.exercises.batchnorm.regularization import check_dropout

__all__ = ["check_dropout", "normalization", "regularization", "run_batchnorm_module", "running_stats_after"]
