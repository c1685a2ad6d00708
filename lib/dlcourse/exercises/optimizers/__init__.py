"""Graded exercises of notebook 03_optimizers (I2DL lectures 5 and 6, KIOS lecture 6).

Five groups, one module each, in the notebook's order: the first-order update rules (:mod:`.rules`: SGD,
momentum, Nesterov, Adagrad, RMSProp, Adam), Newton's step (:mod:`.newton`), the learning-rate schedules
(:mod:`.schedules`: the lecture's third decay, cosine annealing, warm-up), hyperparameter search (:mod:`.search`:
grid and random search) and the reading of a learning curve (:mod:`.curves`: early stopping). Importing this
package registers all of them, each named ``optimizers.<function>``.

Every exercise of this notebook requires float64 (its docstring in the notebook says so): a result of float32
precision fails with that reason, and the deterministic ones are judged to a relative tolerance of 1e-9 or
tighter. :func:`run_updates` is the loop through which the test cells grade an update rule, and
:func:`toy_validation_loss` the stand-in loss through which they grade a search.
"""

from dlcourse.exercises.optimizers import curves, newton, rules, schedules, search
from dlcourse.exercises.optimizers._common import run_updates
from dlcourse.exercises.optimizers.rules import KEEP, RULE_MAY_CHANGE
from dlcourse.exercises.optimizers.search import toy_validation_loss

__all__ = ["KEEP", "RULE_MAY_CHANGE", "curves", "newton", "rules", "run_updates", "schedules", "search",
           "toy_validation_loss"]
