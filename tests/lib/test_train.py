"""Tests of dlcourse.train on the CPU; CUDA-only behaviour is marked ``gpu``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from sklearn.datasets import load_digits
from torch import nn

from dlcourse import train
from dlcourse.train import progress as progress_module
from dlcourse.train.loader import TensorLoader
from dlcourse.train.precision import choose_precision

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and pytest -n 2 must not oversubscribe 2 cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 400 8x8 digits: X (400, 64) float64 in [0, 1], y (400,) int64."""
    data = load_digits()
    return data.data[:400] / 16.0, data.target[:400]


def mlp(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10))


def adam(model: nn.Module, lr: float = 1e-2) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=lr)


def without_time(history: train.History) -> dict:
    record = history.to_dict()
    del record["epoch"]["time"]
    return record


# --- device selection ---------------------------------------------------------------------


@pytest.fixture
def no_accelerators(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(train.DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return monkeypatch


def test_select_device_prefers_cuda_then_mps_then_cpu(no_accelerators: pytest.MonkeyPatch) -> None:
    assert train.select_device() == torch.device("cpu")
    no_accelerators.setattr(torch.backends.mps, "is_available", lambda: True)
    assert train.select_device() == torch.device("mps")
    no_accelerators.setattr(torch.cuda, "is_available", lambda: True)
    assert train.select_device() == torch.device("cuda")


def test_select_device_argument_then_env_var_override(no_accelerators: pytest.MonkeyPatch) -> None:
    no_accelerators.setattr(torch.cuda, "is_available", lambda: True)
    no_accelerators.setenv(train.DEVICE_ENV_VAR, "cpu")
    assert train.select_device() == torch.device("cpu")
    assert train.select_device("cuda:0") == torch.device("cuda:0")  # the argument wins


def test_select_device_refuses_a_missing_device(no_accelerators: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"torch.cuda.is_available\(\) is False.*Use 'cpu'"):
        train.select_device("cuda")
    no_accelerators.setenv(train.DEVICE_ENV_VAR, "mps")
    with pytest.raises(RuntimeError, match="DLCOURSE_DEVICE='mps'.*MPS"):
        train.select_device()


# --- the loader ---------------------------------------------------------------------------


def test_loader_gives_every_sample_once_per_epoch_in_a_new_order() -> None:
    index = torch.arange(103)
    loader = TensorLoader(index, index * 2, batch_size=10, device="cpu", seed=0)
    assert len(loader) == 11
    orders = []
    for _ in range(2):
        batches = list(loader)
        assert [len(x) for x, _ in batches] == [10] * 10 + [3]
        seen = torch.cat([x for x, _ in batches])
        assert torch.equal(torch.cat([y for _, y in batches]), seen * 2)  # pairs stay paired
        assert torch.equal(seen.sort().values, index)
        orders.append(seen)
    assert not torch.equal(orders[0], orders[1]), "a new permutation every epoch"
    assert not torch.equal(orders[0], index), "shuffled"


def test_loader_shuffles_reproducibly_with_its_seed() -> None:
    def epochs(seed: int) -> list[torch.Tensor]:
        loader = TensorLoader(torch.arange(50), batch_size=8, device="cpu", seed=seed)
        return [torch.cat([b for (b,) in loader]) for _ in range(3)]

    assert all(torch.equal(a, b) for a, b in zip(epochs(1), epochs(1), strict=True))
    assert not torch.equal(epochs(1)[0], epochs(2)[0])


def test_loader_drop_last_and_no_shuffle() -> None:
    loader = TensorLoader(torch.arange(25), batch_size=10, shuffle=False, drop_last=True,
                          device="cpu")
    assert len(loader) == 2
    assert [b.tolist() for (b,) in loader] == [list(range(10)), list(range(10, 20))]


def test_loader_converts_numpy_arrays(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    loader = TensorLoader(X, y, device="cpu")
    assert loader.tensors[0].dtype == torch.float32  # NumPy's float64 -> torch's float32
    assert loader.tensors[1].dtype == torch.int64


# --- fit, evaluate, history ---------------------------------------------------------------


def test_fit_records_history_per_step_and_per_epoch(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    model = mlp()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=3, batch_size=64, val_data=(X[300:], y[300:]),
                        metrics=[train.accuracy], seed=0)
    assert len(history) == 3
    assert history["epoch"] == [1, 2, 3]
    assert set(history.epoch) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                  "lr", "time"}
    assert all(t > 0 for t in history["time"])
    assert history["lr"] == [1e-2] * 3
    steps = 3 * math.ceil(300 / 64)  # 5 batches per epoch, the last of 44 samples
    assert len(history.step["loss"]) == len(history.step["accuracy"]) == steps
    assert history.step["epoch"] == [1] * 5 + [2] * 5 + [3] * 5
    # The epoch loss is the step losses' mean weighted by batch size.
    weights = [64] * 4 + [44]
    first = sum(v * w for v, w in zip(history.step["loss"][:5], weights, strict=True)) / 300
    assert history["loss"][0] == pytest.approx(first)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.5  # 3 epochs: learning, not yet learnt
    scores = train.evaluate(model, (X[300:], y[300:]), nn.CrossEntropyLoss(), ["accuracy"])
    assert scores == pytest.approx({"loss": history["val_loss"][-1],
                                    "accuracy": history["val_accuracy"][-1]})


def test_evaluate_restores_train_mode_and_takes_a_dataloader(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    model = mlp()
    model.train()
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=50)
    scores = train.evaluate(model, loader, nn.CrossEntropyLoss(), [train.accuracy])
    assert model.training
    assert scores == pytest.approx(
        train.evaluate(model, (X, y), nn.CrossEntropyLoss(), [train.accuracy])
    )


def test_fit_takes_a_dataloader(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=100, shuffle=True)
    model = mlp()
    history = train.fit(model, loader, nn.CrossEntropyLoss(), adam(model), epochs=2, seed=0)
    assert len(history.step["loss"]) == 8


def test_accuracy_for_classes_and_for_binary_logits() -> None:
    scores = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert train.accuracy(scores, torch.tensor([0, 1, 1])).item() == pytest.approx(2 / 3)
    logits = torch.tensor([[1.5], [-2.0]])
    assert train.accuracy(logits, torch.tensor([[1.0], [1.0]])).item() == 0.5


# --- gradient clipping, early stopping ---------------------------------------------------


def test_clipping_limits_the_gradient_norm(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits

    def one_sgd_step(max_grad_norm: float | None) -> tuple[float, train.History]:
        """With plain SGD and lr=1 the update is minus the (clipped) gradient."""
        model = mlp()
        before = nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        history = train.fit(model, (X, y), nn.CrossEntropyLoss(),
                            torch.optim.SGD(model.parameters(), lr=1.0), epochs=1,
                            batch_size=len(X), max_grad_norm=max_grad_norm)
        after = nn.utils.parameters_to_vector(model.parameters()).detach()
        return float((after - before).norm()), history

    unclipped, _ = one_sgd_step(None)
    clipped, history = one_sgd_step(0.05)
    assert unclipped > 4 * 0.05
    assert clipped == pytest.approx(0.05, rel=1e-4)
    assert history.step["grad_norm"][0] == pytest.approx(unclipped, rel=1e-4)  # before clipping


def test_early_stopping_stops_and_restores_the_best_weights(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    # Validation labels shifted by one: the better the model learns, the worse val_loss gets.
    val = (X[300:], (y[300:] + 1) % 10)
    model = mlp()
    stopper = train.EarlyStopping(monitor="val_loss", patience=2)
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=30, val_data=val, early_stopping=stopper, seed=0)
    assert history.stopped_early
    best = min(range(len(history)), key=lambda i: history["val_loss"][i])
    assert history.best_epoch == best + 1
    assert len(history) == history.best_epoch + 3  # best, then patience + 1 worse epochs
    restored = train.evaluate(model, val, nn.CrossEntropyLoss())["loss"]
    assert restored == pytest.approx(history["val_loss"][best], rel=1e-6)
    assert restored < history["val_loss"][-1]


def test_early_stopping_modes() -> None:
    assert train.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert train.EarlyStopping(monitor="val_loss").mode == "min"
    with pytest.raises(ValueError, match="'min' or 'max'"):
        train.EarlyStopping(mode="lowest")  # type: ignore[arg-type]


def test_early_stopping_on_a_missing_metric_fails_before_training(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    model = mlp()
    with pytest.raises(ValueError, match="pass val_data"):
        train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1,
                  early_stopping=train.EarlyStopping(monitor="val_loss"))


# --- reproducibility, checkpoints ---------------------------------------------------------


def test_same_seed_gives_identical_histories(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits

    def run(seed: int) -> train.History:
        model = mlp(seed=123, dropout=0.3)  # dropout: the global generator matters too
        return train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                         epochs=3, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                         seed=seed)

    first, second = run(7), run(7)
    assert without_time(first) == without_time(second)
    assert without_time(run(8)) != without_time(first)


def test_checkpoint_round_trip_resumes_the_run(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = digits
    data = dict(train_data=(X[:300], y[:300]), loss_fn=nn.CrossEntropyLoss(),
                val_data=(X[300:], y[300:]), metrics=[train.accuracy], seed=3)
    straight_model = mlp(dropout=0.2)
    straight = train.fit(straight_model, optimizer=adam(straight_model), epochs=4, **data)

    path = tmp_path / "run.pt"
    model = mlp(dropout=0.2)
    train.fit(model, optimizer=adam(model), epochs=2, checkpoint=path, **data)
    # A new kernel: new objects, different weights, the same checkpoint.
    model = mlp(seed=99, dropout=0.2)
    resumed = train.fit(model, optimizer=adam(model), epochs=4, checkpoint=path, resume=True,
                        **data)
    assert without_time(resumed) == without_time(straight)
    for a, b in zip(model.parameters(), straight_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.load(path, weights_only=True)["epoch"] == 4  # plain data: safe loading works


def test_save_and_load_checkpoint(tmp_path: Path) -> None:
    model, history = mlp(), train.History()
    optimizer = adam(model)
    model(torch.zeros(2, 64)).sum().backward()
    optimizer.step()  # so that the optimizer has state to save
    history.log_epoch({"epoch": 1, "loss": 0.5})
    train.save_checkpoint(tmp_path / "c.pt", model, optimizer, history=history, epoch=1,
                          extra={"note": "hi"})
    other = mlp(seed=5)
    other_optimizer = adam(other)
    loaded = train.load_checkpoint(tmp_path / "c.pt", other, other_optimizer)
    assert loaded.epoch == 1 and loaded.history == history and loaded.extra == {"note": "hi"}
    assert torch.equal(other[0].weight, model[0].weight)
    assert other_optimizer.state_dict()["state"][0]["step"] == 1


# --- live plot ----------------------------------------------------------------------------


def test_live_plot_updates_the_same_figure_headless(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    plot = train.LivePlot()
    figure = plot.figure
    assert isinstance(figure.canvas, FigureCanvasAgg)
    model = mlp()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=2, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                        plot=plot)
    lines = dict(plot.lines)
    assert plot.figure is figure and len(figure.axes) == 2  # loss and accuracy
    assert list(lines["val_accuracy"].get_xdata()) == [1, 2]
    history.log_epoch({"epoch": 3, "loss": 0.1, "accuracy": 1.0, "val_loss": 0.2,
                       "val_accuracy": 0.9})
    plot.update(history)
    assert plot.figure is figure and plot.lines == lines  # the same artists, new data
    assert list(lines["loss"].get_ydata())[-1] == 0.1
    assert plot.axes["loss"].get_xlim()[1] >= 3
    figure.canvas.draw()  # renders without a display


# --- clear errors before training ---------------------------------------------------------


def untouched_after(error: type[Exception], match: str, model: nn.Module, *args, **kwargs) -> None:
    """Raises ``error`` and has not taken a single step."""
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = adam(model)
    with pytest.raises(error, match=match):
        train.fit(model, args[0], kwargs.pop("loss_fn", nn.CrossEntropyLoss()), optimizer,
                  epochs=1, **kwargs)
    assert not optimizer.state
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_error_model_and_data_on_different_devices(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    # "meta" stands in for a GPU: tensors on another device than the model's.
    X_elsewhere = torch.tensor(X, dtype=torch.float32, device="meta")
    y_elsewhere = torch.tensor(y, device="meta")
    untouched_after(RuntimeError, r"model is on cpu but X is on meta.*model.to\(device\)",
                    mlp(), (X_elsewhere, y_elsewhere))
    loader = TensorLoader(X_elsewhere, y_elsewhere, device="meta")
    untouched_after(RuntimeError, "model is on cpu but train_data", mlp(), loader)


def test_error_float_labels_for_cross_entropy(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    untouched_after(TypeError, r"integer class labels.*y.long\(\)", mlp(), (X, y.astype(float)))


def test_error_labels_of_shape_n_by_1(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    untouched_after(ValueError, r"\(N,\).*\(N, 1\).*y.squeeze\(1\)", mlp(), (X, y[:, None]))


def test_error_regression_output_n_by_1_against_labels_n(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    torch.manual_seed(0)
    regressor = nn.Linear(64, 1)
    untouched_after(ValueError, r"outputs shape \(N, 1\).*\(N,\).*broadcast.*y.view\(-1, 1\)",
                    regressor, (X, y.astype(np.float32)), loss_fn=nn.MSELoss())


def test_error_x_and_y_lengths_differ(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    untouched_after(ValueError, "one row per sample.*X has 400, y has 399", mlp(), (X, y[:-1]))


def test_error_labels_outside_the_classes(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    untouched_after(ValueError, "labels go from 1 to 10.*10 scores", mlp(), (X, y + 1))


def test_error_float64_tensor_for_a_float32_model(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    untouched_after(TypeError, r"float64.*float32.*X.float\(\)", mlp(),
                    (torch.tensor(X), torch.tensor(y)))


def test_error_nan_in_the_inputs(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    X = X.copy()
    X[5, 3] = np.nan
    untouched_after(ValueError, "1 NaN or infinite", mlp(), (X, y))


def test_nan_loss_stops_and_names_epoch_and_step() -> None:
    X = torch.randn(50, 3)
    y = torch.zeros(50, 1)
    y[25] = 1.0  # a marker in the third batch of 10; the loss below turns NaN on it

    def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.mse_loss(output, target)
        return loss * math.nan if bool(target.max() > 0) else loss

    model = nn.Linear(3, 1)
    with pytest.raises(train.NonFiniteLossError, match=r"nan at epoch 1, step 3 of that epoch "
                       r"\(step 3 overall\).*Lower the learning rate") as caught:
        train.fit(model, TensorLoader(X, y, batch_size=10, shuffle=False, device="cpu"),
                  loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), epochs=3)
    assert caught.value.epoch == 1 and caught.value.step == 3
    assert len(caught.value.history) == 0


def test_exploding_learning_rate_stops_with_advice(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    torch.manual_seed(0)
    model = nn.Linear(64, 1)  # regression on the digit's value: SGD with lr=10 diverges
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+ of that epoch.*"
                       r"Lower the learning rate \(it is 10; try 1\)"):
        train.fit(model, (X, y[:, None].astype(np.float32)), nn.MSELoss(),
                  torch.optim.SGD(model.parameters(), lr=10.0), epochs=5, batch_size=32)


# --- progress bar -------------------------------------------------------------------------


def test_progress_bar_shows_when_asked(digits, capfd: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(train.GRADING_ENV_VAR, raising=False)
    X, y = digits
    model = mlp()
    train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1, progress=True)
    assert "epoch 1/1" in capfd.readouterr().err


def test_quiet_while_grading(digits, capfd: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(train.GRADING_ENV_VAR, str(tmp_path))
    X, y = digits
    model = mlp()
    train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1, progress=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_default_is_off_without_a_terminal_or_notebook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(train.GRADING_ENV_VAR, raising=False)
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress_module.show_progress(None)
    assert not progress_module.show_progress(False)
    assert progress_module.show_progress(True)


# --- mixed precision ----------------------------------------------------------------------


def test_mixed_precision_is_a_no_op_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = choose_precision(torch.device("cpu"))
    assert cpu.dtype is None and cpu.make_scaler() is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision(torch.device("cuda")).dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    fp16 = choose_precision(torch.device("cuda"))
    assert fp16.dtype == torch.float16 and fp16.needs_scaler
    assert choose_precision(torch.device("cuda"), enabled=False).dtype is None


@pytest.mark.gpu
@gpu
def test_fit_on_cuda_with_mixed_precision(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    model = mlp().cuda()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=3, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                        max_grad_norm=1.0, seed=0)
    assert all(math.isfinite(v) for v in history.step["loss"])
    assert history["val_accuracy"][-1] > 0.7
    assert next(model.parameters()).dtype == torch.float32  # autocast, not a cast of the model


@pytest.mark.gpu
@gpu
def test_fp16_with_grad_scaler_on_cuda(digits: tuple[np.ndarray, np.ndarray],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    X, y = digits
    model = mlp().cuda()
    history = train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=2,
                        max_grad_norm=1.0, seed=0)
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.gpu
@gpu
def test_cuda_data_with_a_cpu_model_is_refused(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    loader = TensorLoader(X, y, device="cuda")
    untouched_after(RuntimeError, "model is on cpu but train_data", mlp(), loader)
