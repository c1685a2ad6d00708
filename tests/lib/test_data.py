"""Tests of dlcourse.data: offline data sets, the IDX/MNIST loader, synthetic and sequence tasks.

Nothing here downloads: MNIST is faked with small IDX files written into tmp_path.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
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


def row_counter(X: np.ndarray) -> Counter[bytes]:
    """The rows of X as a multiset, to check that splits partition a data set."""
    X = np.ascontiguousarray(X.reshape(len(X), -1))
    return Counter(row.tobytes() for row in X)


# ---- load_digits


def test_digits_shapes_dtypes_ranges() -> None:
    s = data.load_digits()
    assert isinstance(s, data.Splits)
    assert len(s.X_train) + len(s.X_val) + len(s.X_test) == 1797
    for X, y in (s.train, s.val, s.test):
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert X.shape == (len(y), 64)
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))
    assert s.num_classes == 10
    assert s.X_train.max() == 1.0, "normalize should map the brightest pixel (16) to 1"
    assert "X_train=(1079, 64)" in repr(s), "repr shows shapes, not the arrays"


def test_digits_unflattened_and_unnormalized() -> None:
    s = data.load_digits(flatten=False, normalize=False)
    assert s.X_train.shape[1:] == (1, 8, 8)
    assert s.X_train.max() == 16.0
    flat = data.load_digits(normalize=False)
    np.testing.assert_array_equal(s.X_train.reshape(len(s.X_train), 64), flat.X_train)


def test_digits_unsplit() -> None:
    X, y = data.load_digits(split=False)
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_digits_splits_partition_the_data_and_are_stratified() -> None:
    X, y = data.load_digits(split=False)
    s = data.load_digits(val_fraction=0.25, test_fraction=0.15, seed=3)
    parts = np.concatenate([s.X_train, s.X_val, s.X_test])
    assert row_counter(parts) == row_counter(X), "train, val and test must partition the data"
    assert len(s.y_val) == round(0.25 * 1797) and len(s.y_test) == round(0.15 * 1797)
    overall = np.bincount(y) / len(y)
    for name, labels in (("train", s.y_train), ("val", s.y_val), ("test", s.y_test)):
        share = np.bincount(labels, minlength=10) / len(labels)
        assert np.abs(share - overall).max() < 0.01, f"{name} split is not stratified"
    assert len(np.unique(s.y_train[:20])) > 3, "splits must be shuffled across classes"


def test_digits_seeding() -> None:
    a, b = data.load_digits(seed=7), data.load_digits(seed=7)
    c = data.load_digits(seed=8)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.y_train, c.y_train), "another seed should give another split"
    d = data.load_digits(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.y_test, d.y_test)


def test_digits_classes_relabelled_in_given_order() -> None:
    X_all, y_all = data.load_digits(split=False)
    X, y = data.load_digits(split=False, classes=(8, 3))
    np.testing.assert_array_equal(X[y == 0], X_all[y_all == 8])
    np.testing.assert_array_equal(X[y == 1], X_all[y_all == 3])
    assert set(np.unique(y)) == {0, 1}
    s = data.load_digits(classes=(3, 8))
    assert s.num_classes == 2
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == np.isin(y_all, (3, 8)).sum()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, "val_fraction must lie strictly between 0 and 1"),
        ({"test_fraction": 1.5}, "test_fraction must lie strictly between 0 and 1"),
        ({"val_fraction": 0.6, "test_fraction": 0.4}, "sum to less than 1"),
        ({"classes": (3,)}, "at least two distinct digits"),
        ({"classes": (3, 3)}, "at least two distinct digits"),
        ({"classes": (3, 10)}, "at least two distinct digits"),
    ],
)
def test_digits_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        data.load_digits(**kwargs)


# ---- IDX


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
    path = data.write_idx(tmp_path / f"a.idx{suffix}", a)
    b = data.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[...] = 0  # the result is a writable copy, not a view of the file's bytes
    if suffix:
        assert path.read_bytes()[:2] == b"\x1f\x8b", "a .gz path must be gzip-compressed"


def test_idx_header_is_big_endian(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.int16).reshape(2, 3) - 2
    raw = data.write_idx(tmp_path / "a", a).read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert struct.unpack(">2I", raw[4:12]) == (2, 3)
    assert struct.unpack(">6h", raw[12:]) == tuple(range(-2, 4))
    # A file written by hand (not by write_idx), as in the MNIST distribution:
    hand = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([7, 0, 255])
    (tmp_path / "hand").write_bytes(gzip.compress(hand))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "hand"), [7, 0, 255])


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool)])
def test_write_idx_rejects_types_idx_cannot_hold(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError, match="IDX cannot store dtype"):
        data.write_idx(tmp_path / "a", array)


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
        data.write_idx(folder / (name + (".gz" if i % 2 else "")), array)
    return arrays


def test_load_mnist_from_fake_folder(tmp_path: Path) -> None:
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
    data.write_idx(tmp_path / (MNIST_NAMES[1] + ".gz"), np.zeros(59, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected uint8 images"):
        data.load_mnist(tmp_path)


# ---- synthetic sets


@pytest.mark.parametrize(
    ("kind", "f"),
    [
        ("linear", lambda x: 2 * x + 1),
        ("sine", lambda x: np.sin(np.pi * x)),
        ("cubic", lambda x: 2 * x**3 - x),
    ],
)
def test_make_regression_1d(kind: str, f) -> None:
    x, y = data.make_regression_1d(50, noise=0.0, seed=0, kind=kind)
    assert x.shape == y.shape == (50,) and x.dtype == y.dtype == np.float64
    assert np.all(np.abs(x) <= 1.0)
    np.testing.assert_allclose(y, f(x))
    x2, y2 = data.make_regression_1d(50, noise=0.3, seed=0, kind=kind)
    np.testing.assert_array_equal(x, x2)
    assert 0.15 < np.std(y2 - f(x2)) < 0.45, "noise is the std of the noise on y"
    np.testing.assert_array_equal(y2, data.make_regression_1d(50, 0.3, 0, kind)[1])


def test_make_linear_regression() -> None:
    X, y, theta = data.make_linear_regression(200, 4, noise=0.0, seed=1)
    assert X.shape == (200, 4) and y.shape == (200,) and theta.shape == (5,)
    np.testing.assert_allclose(y, theta[0] + X @ theta[1:])
    X, y, theta = data.make_linear_regression(2000, 4, noise=0.1, seed=1)
    A = np.hstack([np.ones((2000, 1)), X])
    np.testing.assert_allclose(np.linalg.lstsq(A, y, rcond=None)[0], theta, atol=0.02)


@pytest.mark.parametrize(
    ("kind", "classes"),
    [("blobs", 2), ("blobs", 4), ("moons", 2), ("circles", 2), ("circles", 3), ("spiral", 3)],
)
def test_make_classification_2d(kind: str, classes: int) -> None:
    X, y = data.make_classification_2d(101, kind=kind, noise=0.1, seed=0, classes=classes)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == classes and counts.max() - counts.min() <= 1, "classes are balanced"
    assert len(np.unique(y[:10])) > 1, "points are shuffled, not grouped by class"
    X2, y2 = data.make_classification_2d(101, kind=kind, noise=0.1, seed=0, classes=classes)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, data.make_classification_2d(101, kind, 0.1, 1, classes)[0])


def test_classification_blobs_sit_at_their_centres() -> None:
    X, y = data.make_classification_2d(400, "blobs", noise=0.1, seed=0, classes=4)
    for k in range(4):
        centre = [np.cos(np.pi * k / 2), np.sin(np.pi * k / 2)]
        np.testing.assert_allclose(X[y == k].mean(axis=0), centre, atol=0.05)


def test_classification_circles_radii() -> None:
    X, y = data.make_classification_2d(300, "circles", noise=0.0, seed=0, classes=3)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), (y + 1) / 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.make_classification_2d(10, kind="swirl"), "'blobs', 'moons'"),
        (lambda: data.make_classification_2d(10, kind="moons", classes=3), "exactly 2 for moons"),
        (lambda: data.make_classification_2d(10, classes=1), "classes must be an integer >= 2"),
        (lambda: data.make_classification_2d(0), "n must be a positive integer"),
        (lambda: data.make_regression_1d(10, kind="quadratic"), "'linear', 'sine', 'cubic'"),
        (lambda: data.make_regression_1d(-1), "n must be a positive integer"),
        (lambda: data.make_regression_1d(10, noise=-0.1), "noise"),
        (lambda: data.make_linear_regression(10, 0), "d must be a positive integer"),
        (lambda: data.adding_problem(10, T=1), "T must be an integer >= 2"),
        (lambda: data.copy_task(10, 5, vocab=1), "vocab must be an integer >= 2"),
        (lambda: data.sort_task(0, 5), "n must be a positive integer"),
        (lambda: data.sine_sequences(10, T=0), "T must be a positive integer"),
        (lambda: data.sample_image("lena"), "'china', 'flower'"),
        (lambda: data.sample_image(size=0), "size must be a positive integer"),
    ],
)
def test_bad_arguments_say_what_is_valid(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ---- sequence tasks


def test_adding_problem_targets() -> None:
    X, y = data.adding_problem(200, T=30, seed=0)
    assert X.shape == (200, 30, 2) and y.shape == (200,)
    values, markers = X[..., 0], X[..., 1]
    assert np.all((0 <= values) & (values <= 1))
    assert np.all(markers.sum(axis=1) == 2) and set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :15].sum(axis=1) == 1), "one marker in each half"
    np.testing.assert_allclose(y, (values * markers).sum(axis=1))
    np.testing.assert_array_equal(y, data.adding_problem(200, T=30, seed=0)[1])


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (data.copy_task, lambda X: X),
        (data.reverse_task, lambda X: X[:, ::-1]),
        (data.sort_task, lambda X: np.sort(X, axis=1)),
    ],
)
def test_token_tasks(task, expected) -> None:
    X, Y = task(64, T=12, vocab=7, seed=0)
    assert X.shape == Y.shape == (64, 12) and X.dtype == Y.dtype == np.int64
    assert X.min() >= 0 and X.max() <= 6
    np.testing.assert_array_equal(Y, expected(X))
    np.testing.assert_array_equal(X, task(64, T=12, vocab=7, seed=0)[0])
    assert not np.array_equal(X, task(64, T=12, vocab=7, seed=1)[0])


def test_sort_task_target_is_sorted_input() -> None:
    X, Y = data.sort_task(32, T=9, vocab=5, seed=2)
    assert np.all(np.diff(Y, axis=1) >= 0)
    assert all(Counter(x) == Counter(t) for x, t in zip(X, Y, strict=True))


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_sine_sequences_next_step_targets(noise: float) -> None:
    X, y = data.sine_sequences(16, T=25, seed=0, noise=noise)
    assert X.shape == y.shape == (16, 25, 1) and X.dtype == np.float64
    np.testing.assert_array_equal(y[:, :-1], X[:, 1:])
    if noise == 0.0:
        assert np.abs(X).max() <= 1.5


# ---- sample_image


@pytest.mark.parametrize("name", ["china", "flower"])
def test_sample_image(name: str) -> None:
    gray = data.sample_image(name)
    color = data.sample_image(name, gray=False)
    assert gray.shape == (427, 640) and color.shape == (427, 640, 3)
    for img in (gray, color):
        assert img.dtype == np.float64 and img.min() >= 0.0 and img.max() <= 1.0
    np.testing.assert_allclose(gray, color @ [0.299, 0.587, 0.114])


@pytest.mark.parametrize("size", [64, 100, 320])
def test_sample_image_downscaled_by_block_averaging(size: int) -> None:
    small = data.sample_image("china", gray=False, size=size)
    assert abs(max(small.shape[:2]) - size) <= 0.1 * size and small.shape[2] == 3
    full = data.sample_image("china", gray=False)
    f = full.shape[1] // small.shape[1]
    np.testing.assert_allclose(small[1, 2], full[f : 2 * f, 2 * f : 3 * f].mean(axis=(0, 1)))
    assert data.sample_image("china", size=10_000).shape == (427, 640), "never enlarged"
