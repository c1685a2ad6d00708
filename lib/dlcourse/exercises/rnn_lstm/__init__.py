"""Graded exercises of notebook 07_rnn_lstm (I2DL lecture 11, "Recurrent Neural Networks"; TUM ML "Deep
Learning 2", vanishing and exploding gradients).

Two groups, one module each: the vanilla RNN (one step and whole sequences, forward and backward) and
gradient clipping (:mod:`.rnn`); the LSTM step forward and backward and the LSTM cell as a PyTorch
module (:mod:`.lstm`). Importing this package registers all of them.

A function returning ``(out, cache)`` is wrapped in its test cell so that only numbers are compared:
a backward exercise is called with the forward pass's inputs and the upstream gradient, runs the
student's forward pass for the cache and returns what the student's backward pass returns. Every case
has H != D, so a transposed weight cannot pass, and the cases reach N = 1 and (for sequences) T = 1.
"""

from dlcourse.exercises.rnn_lstm import lstm, rnn

__all__ = ["lstm", "rnn"]
