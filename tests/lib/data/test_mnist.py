"""Tests of dlcourse.data.mnist: the IDX reader and the MNIST loader.

Nothing here downloads: MNIST is faked with small IDX files written into tmp_path
by :func:`write_idx`, a writer made from the format's description (the library
only reads IDX; notebooks never write it).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from dlcourse import data

MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# The element type -> the IDX type code, the third byte of the magic number.
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}  # fmt: skip


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` (any shape) as an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    Two zero bytes, the type code, the number of dimensions, each dimension as a
    big-endian uint32, then the data big-endian in C order.
    """
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


# ---- read_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (np.uint8, (5, 3, 4)),
        (np.int8, (7,)),
        (np.int16, (2, 3)),
        (np.int32, (4, 2, 1, 3)),
        (np.float32, (6, 2)),
        (np.float64, (3, 3)),
    ],
)
def test_idx_round_trip(tmp_path: Path, dtype: type, shape: tuple[int, ...], suffix: str) -> None:
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", a)
    b = data.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[...] = 0  # the result is a writable copy, not a view of the file's bytes
    if suffix:
        assert path.read_bytes()[:2] == b"\x1f\x8b", "a .gz path must be gzip-compressed"


def test_idx_header_is_big_endian(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.int16).reshape(2, 3) - 2
    raw = write_idx(tmp_path / "a", a).read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert struct.unpack(">2I", raw[4:12]) == (2, 3)
    assert struct.unpack(">6h", raw[12:]) == tuple(range(-2, 4))
    # A file written by hand (not by write_idx), as in the MNIST distribution:
    hand = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([7, 0, 255])
    (tmp_path / "hand").write_bytes(gzip.compress(hand))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "hand"), [7, 0, 255])


def _valid_idx_bytes() -> bytes:
    return bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 3) + bytes(range(6))


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "truncated"),
        (b"\x00\x00", "truncated"),
        (bytes([1, 2, 0x08, 1]) + _valid_idx_bytes()[4:], "bad IDX magic number 0x01020801"),
        (bytes([0, 0, 0x07, 2]) + _valid_idx_bytes()[4:], "bad IDX magic number"),
        (bytes([0, 0, 0x08, 0]), "bad IDX magic number"),
        (_valid_idx_bytes()[:8], "truncated header"),
        (_valid_idx_bytes()[:-1], "truncated data"),
        (_valid_idx_bytes() + b"\x00", "wrong size"),
    ],
)
def test_read_idx_corrupt_files(tmp_path: Path, raw: bytes, match: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as err:
        data.read_idx(path)
    assert str(path) in str(err.value), "the message names the file"


def test_read_idx_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(_valid_idx_bytes())[:-10])
    with pytest.raises(ValueError, match="gzip"):
        data.read_idx(path)
    (tmp_path / "short.gz").write_bytes(gzip.compress(_valid_idx_bytes()[:-2]))
    with pytest.raises(ValueError, match="truncated data"):
        data.read_idx(tmp_path / "short.gz")


# ---- load_mnist


def fake_mnist(folder: Path, n_train: int = 60, n_test: int = 20) -> dict[str, np.ndarray]:
    """Four small MNIST-like IDX files (5x4 images, labels 0..9 balanced), some gzipped."""
    rng = np.random.default_rng(1)
    arrays = {
        MNIST_NAMES[0]: rng.integers(0, 256, size=(n_train, 5, 4), dtype=np.uint8),
        MNIST_NAMES[1]: np.arange(n_train, dtype=np.uint8) % 10,
        MNIST_NAMES[2]: rng.integers(0, 256, size=(n_test, 5, 4), dtype=np.uint8),
        MNIST_NAMES[3]: rng.permutation(np.arange(n_test, dtype=np.uint8) % 10),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, array) in enumerate(arrays.items()):
        write_idx(folder / (name + (".gz" if i % 2 else "")), array)
    return arrays


def test_load_mnist_from_fake_folder(tmp_path: Path, row_counter) -> None:
    arrays = fake_mnist(tmp_path)
    s = data.load_mnist(tmp_path, val_fraction=0.2, seed=0)
    assert s.X_train.shape == (48, 20) and s.X_val.shape == (12, 20) and s.X_test.shape == (20, 20)
    assert s.X_train.dtype == np.float64 and s.y_train.dtype == np.int64
    assert 0.0 <= s.X_train.min() and s.X_train.max() <= 1.0
    # The test set is t10k, in file order; train + val partition the training files.
    np.testing.assert_array_equal(s.X_test, arrays[MNIST_NAMES[2]].reshape(20, 20) / 255.0)
    np.testing.assert_array_equal(s.y_test, arrays[MNIST_NAMES[3]])
    train_val = np.concatenate([s.X_train, s.X_val]) * 255.0
    assert row_counter(train_val) == row_counter(arrays[MNIST_NAMES[0]].astype(np.float64))
    per_class = np.bincount(s.y_val, minlength=10)
    assert set(per_class) == {1, 2}, "validation set is stratified (1.2 of 6 per class)"
    cnn = data.load_mnist(tmp_path, val_fraction=0.2, seed=0, flatten=False)
    assert cnn.X_train.shape == (48, 1, 5, 4)
    np.testing.assert_array_equal(cnn.X_train.reshape(48, 20), s.X_train)


def test_load_mnist_torchvision_layout(tmp_path: Path) -> None:
    fake_mnist(tmp_path / "MNIST" / "raw")
    s = data.load_mnist(tmp_path)
    assert s.X_val.shape == (10, 20) and s.X_train.shape == (50, 20)


def test_load_mnist_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist(tmp_path / "nowhere")
    message = str(err.value)
    assert all(name in message for name in MNIST_NAMES)
    assert "load_digits" in message, "the message points to the offline default"
    fake_mnist(tmp_path)
    (tmp_path / (MNIST_NAMES[3] + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match=f"missing {MNIST_NAMES[3]}"):
        data.load_mnist(tmp_path)


def test_load_mnist_mismatched_files(tmp_path: Path) -> None:
    fake_mnist(tmp_path)
    write_idx(tmp_path / (MNIST_NAMES[1] + ".gz"), np.zeros(59, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected uint8 images"):
        data.load_mnist(tmp_path)
