"""Graded exercises of notebook 04_initialization (I2DL "Training Neural Networks II" and lecture 11 on long-term
dependencies, Tokyo DL 2 "Initialization", TUM ML "Deep learning 2", KIOS ML lecture 6, NYU "Deep learning").

Four groups, one module each, in the notebook's order: the activation functions (:mod:`.activations`: Swish, ELU,
PReLU), the initializers judged by statistics (:mod:`.initializers`: Xavier normal and uniform, Kaiming normal),
the deep stack (:mod:`.deep_stack`: forward activations and weight gradients) and repeated multiplication
(:mod:`.gradient_flow`: backpropagation through the matrix-power recurrence, gradient clipping). Importing this
package registers all of them.

Every exercise of this notebook requires float64 (its docstring in the notebook says so); the deterministic ones
are judged to a relative tolerance near 1e-9, so a float32 computation fails and is named as such.
"""

from dlcourse.exercises.initialization import activations, deep_stack, gradient_flow, initializers

__all__ = ["activations", "deep_stack", "gradient_flow", "initializers"]
