"""Device-aware training helpers that are fast on small data.

A notebook's "train it for real" section in a few lines::

    from dlcourse import train
    device = train.select_device()          # CUDA, else Apple MPS, else CPU; $DLCOURSE_DEVICE overrides
    model = make_model().to(device)
    history = train.fit(model, (X_train, y_train), nn.CrossEntropyLoss(),
                        torch.optim.Adam(model.parameters(), lr=1e-3), epochs=20,
                        val_data=(X_val, y_val), metrics=[train.accuracy], seed=0)
    train.evaluate(model, (X_test, y_test), nn.CrossEntropyLoss(), [train.accuracy])

Modules, in the order a step meets them:

- ``device``: choosing the device, seeding
- ``loader``: ``TensorLoader``, a data set kept whole on the device
- ``preflight``: the usual mistakes, caught before training with a message that says what to do
- ``precision``: bf16/fp16 autocast on CUDA
- ``epoch``: one epoch's steps, with no per-step read from the device
- ``metrics``, ``history``: what is measured and recorded
- ``early_stopping``, ``checkpoint``, ``progress``, ``live_plot``: around the loop
- ``loop``: ``fit`` and ``evaluate``, which put it all together
"""

from dlcourse.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dlcourse.train.device import DEVICE_ENV_VAR, model_device, seed_everything, select_device
from dlcourse.train.early_stopping import EarlyStopping
from dlcourse.train.history import History
from dlcourse.train.live_plot import LivePlot
from dlcourse.train.loader import TensorLoader
from dlcourse.train.loop import evaluate, fit
from dlcourse.train.metrics import accuracy, mean_absolute_error
from dlcourse.train.precision import choose_precision
from dlcourse.train.preflight import NonFiniteLossError
from dlcourse.train.progress import GRADING_ENV_VAR

__all__ = [
    "DEVICE_ENV_VAR",
    "GRADING_ENV_VAR",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "LivePlot",
    "NonFiniteLossError",
    "TensorLoader",
    "accuracy",
    "choose_precision",
    "evaluate",
    "fit",
    "load_checkpoint",
    "mean_absolute_error",
    "model_device",
    "save_checkpoint",
    "seed_everything",
    "select_device",
]
