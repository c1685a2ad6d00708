"""Training speed on the 8x8 digits: ``dlcourse.train.fit`` against two plain loops.

The same model (an MLP 64-128-10 and a small CNN on (N, 1, 8, 8) images) is
trained with the same batch size, epochs, optimizer and thread count three ways:

- ``dlcourse``: ``train.fit(model, (X, y), ...)`` with the progress bar off;
- ``hand-written``: ``torch.randperm`` and slicing of tensors on the device, the
  loss summed on the device and read once per epoch (a careful plain loop);
- ``DataLoader``: ``DataLoader(TensorDataset(X, y), shuffle=True)``, the textbook loop.

Each way first runs a short warm-up; then every repeat runs the three ways back
to back (in a rotating order), so that they share the machine's state of the
moment. Reported: the median epochs per second of each way, and the median of
the per-repeat ratios. Targets: ``dlcourse`` within 5% of the hand-written loop
for both models, and at least 1.5x the DataLoader loop for the MLP.

    python benchmarks/bench_train.py                 # best device, 20 epochs, 5 repeats
    python benchmarks/bench_train.py --device cpu --epochs 10 --threads 2
    python benchmarks/bench_train.py --device cpu --threads 1 --clock cpu   # on a busy machine

On a machine shared with other jobs, wall-clock times with several threads
swing by multiples (OpenMP threads wait for each other whenever one is
descheduled); one thread timed by this process's CPU time is steady.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

from dlcourse import train

# (model, optimizer, X, y, epochs, batch size): train, return nothing.
TrainFn = Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor, int, int], None]
MLP_TARGET_VS_DATALOADER = 1.5
TARGET_VS_HAND = 0.95


def make_mlp() -> nn.Module:
    """64-128-10 on the flattened image."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def make_cnn() -> nn.Module:
    """Input (N, 1, 8, 8); two 3x3 convolutions, one 2x2 max-pool, a linear read-out."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),  # -> (N, 16, 8, 8)
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),  # -> (N, 32, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> (N, 32, 4, 4)
        nn.Flatten(),  # -> (N, 512)
        nn.Linear(32 * 4 * 4, 10),
    )


def with_dlcourse(
    model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int
) -> None:
    train.fit(
        model, (X, y), nn.CrossEntropyLoss(), optimizer, epochs=epochs, batch_size=batch_size, progress=False, seed=0
    )


def by_hand(
    model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int
) -> None:
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator).to(X.device)
        total = torch.zeros((), device=X.device)
        for start in range(0, len(X), batch_size):
            index = order[start : start + batch_size]
            loss = loss_fn(model(X[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        total.item()  # the loop reads the epoch's loss once, as fit does


def with_dataloader(
    model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int
) -> None:
    loss_fn = nn.CrossEntropyLoss()
    dataset = torch.utils.data.TensorDataset(X.cpu(), y.cpu())
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    device = X.device
    model.train()
    for _ in range(epochs):
        total = torch.zeros((), device=device)
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        total.item()


MODELS: dict[str, Callable[[], nn.Module]] = {"MLP": make_mlp, "CNN": make_cnn}
WAYS: dict[str, TrainFn] = {
    "dlcourse": with_dlcourse,
    "hand-written": by_hand,
    "DataLoader": with_dataloader,
}


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def seconds(
    way: TrainFn,
    make_model: Callable[[], nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Time of one run from a freshly initialised model (same weights for every way)."""
    torch.manual_seed(0)
    model = make_model().to(X.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    began = clock()
    way(model, optimizer, X, y, epochs, batch_size)
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return clock() - began


def measure(
    make_model: Callable[[], nn.Module], X: torch.Tensor, y: torch.Tensor, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Epochs per second of every way, one value per repeat."""
    names = list(WAYS)
    for name in names:  # warm-up: allocator, kernels, lazy initialisation
        seconds(WAYS[name], make_model, X, y, 2, args.batch_size)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        rotated = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in rotated:
            elapsed = seconds(WAYS[name], make_model, X, y, args.epochs, args.batch_size, CLOCKS[args.clock])
            speeds[name].append(args.epochs / elapsed)
    return speeds


def paired_ratio(speeds: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(speeds[a], speeds[b], strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best one)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per way (median)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="torch.set_num_threads for all three ways (default: all cores)",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, steadier on a shared machine with --threads 1",
    )
    parser.add_argument("--models", default="MLP,CNN", help="comma-separated, from: MLP, CNN")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.device not in (None, "cpu"):
        parser.error("--clock cpu measures the CPU only; use it with --device cpu")
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {sorted(MODELS)}")

    torch.set_num_threads(args.threads)  # once, so all three ways run with the same threads
    device = train.select_device(args.device)
    digits = load_digits()
    X = torch.tensor(digits.images / 16.0, dtype=torch.float32, device=device).unsqueeze(1)
    y = torch.tensor(digits.target, device=device)  # X (1797, 1, 8, 8), y (1797,)
    print(
        f"digits: {len(X)} samples, batch size {args.batch_size}, {args.epochs} epochs x "
        f"{args.repeats} repeats, device {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {args.clock} clock, load average {os.getloadavg()[0]:.1f}"
    )

    print("| model | way          | epochs/s | dlcourse / hand-written | dlcourse / DataLoader |")
    print("|---|---|---:|---:|---:|", flush=True)
    missed = []
    for model_name in args.models.split(","):
        speeds = measure(MODELS[model_name], X, y, args)
        vs_hand = paired_ratio(speeds, "dlcourse", "hand-written")
        vs_loader = paired_ratio(speeds, "dlcourse", "DataLoader")
        for name in WAYS:
            ratios = f"{vs_hand:.3f} | {vs_loader:.2f}" if name == "dlcourse" else " | "
            print(f"| {model_name} | {name:<12} | {statistics.median(speeds[name]):8.1f} | {ratios} |", flush=True)
        if vs_hand < TARGET_VS_HAND:
            missed.append(f"{model_name}: dlcourse / hand-written {vs_hand:.3f} < {TARGET_VS_HAND}")
        if model_name == "MLP" and vs_loader < MLP_TARGET_VS_DATALOADER:
            missed.append(f"MLP: dlcourse / DataLoader {vs_loader:.2f} < {MLP_TARGET_VS_DATALOADER}")
    print("ratios: median over repeats of the ratio within a repeat")
    print("targets met" if not missed else "targets missed: " + "; ".join(missed))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
