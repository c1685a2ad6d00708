"""The slider views of notebook 07_rnn_lstm: :mod:`.compute` computes, :mod:`.views` draws.

``VIEWS`` lists them built on the notebook's own data and settings, for the catalogue of every view
(``ALL_VIEWS``), the slider benchmark and the tests. The delay view needs the notebook's training
sweep: its builder repeats it (:func:`notebook_sweep`: the same delays, steps, sizes and seed, on the
CPU with one thread and deterministic algorithms, as the notebook runs), once per process: about 8 s
of computing on one CPU core.
"""

from __future__ import annotations

import functools

from dlcourse.widgets.catalog import ViewEntry
from dlcourse.widgets.rnn_lstm.compute import (
    MODELS,
    RecallRun,
    RecallSweep,
    RecurrentClassifier,
    bptt_input_gradients,
    delayed_recall,
    moving_average,
    power_norms,
    recall_sweep,
    recurrent_matrix,
    spectral_radius,
    train_recall,
)
from dlcourse.widgets.rnn_lstm.views import DelayView, SpectralRadiusView

__all__ = [
    "DELAYS", "MODELS", "STEPS", "VIEWS", "DelayView", "RecallRun", "RecallSweep", "RecurrentClassifier",
    "SpectralRadiusView", "bptt_input_gradients", "delayed_recall", "moving_average", "notebook_sweep",
    "power_norms", "recall_sweep", "recurrent_matrix", "spectral_radius", "train_recall",
]

NOTEBOOK = "07_rnn_lstm"
# The notebook's sweep (its section "Train it for real"): keep both in step.
DELAYS, STEPS, SEED = (5, 10, 15, 20), 300, 0


@functools.cache
def notebook_sweep() -> RecallSweep:
    """The notebook's sweep: every model of MODELS at every delay of DELAYS, STEPS steps, seed SEED, on the CPU."""
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        return recall_sweep(DELAYS, MODELS, steps=STEPS, seed=SEED, device="cpu")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def spectral_radius_view() -> SpectralRadiusView:
    """07: H = 32, 40 steps, 8 sequences, seed 0 (the reference's rnn_forward/rnn_backward)."""
    return SpectralRadiusView()


def delay_view() -> DelayView:
    """07: the notebook's sweep over the delays 5, 10, 15, 20 (300 steps each)."""
    return DelayView(notebook_sweep())


VIEWS: list[ViewEntry] = [
    ViewEntry(NOTEBOOK, "SpectralRadiusView", spectral_radius_view),
    ViewEntry(NOTEBOOK, "DelayView", delay_view),
]
