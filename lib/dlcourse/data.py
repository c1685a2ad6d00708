"""Data sets that work offline, for every notebook of the course.

Everything here runs without a network: scikit-learn's 8x8 digits are the
default "MNIST" (1797 images that ship with scikit-learn), the real MNIST is
read from IDX files when someone has put them on disk, and the rest is
synthetic (regression and 2-D classification sets, sequence tasks) or one of
the two photographs that ship with scikit-learn.

Randomness comes only from the ``seed`` argument (an int, or a
``np.random.Generator`` to draw from), never from NumPy's global state, so a
notebook that seeds once in its setup cell gets the same data every run.
Each docstring names the notebooks that use the function (d2l-style).
"""

from __future__ import annotations

import gzip
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Splits",
    "add_bias_column",
    "adding_problem",
    "copy_task",
    "load_digits",
    "load_mnist",
    "make_classification_2d",
    "make_linear_regression",
    "make_regression_1d",
    "polynomial_features",
    "read_idx",
    "reverse_task",
    "sample_image",
    "sine_sequences",
    "sort_task",
    "train_val_split",
    "write_idx",
]  # fmt: skip

Seed = int | np.random.Generator
Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, repr=False)
class Splits:
    """Train/validation/test arrays: X float64 (N, D) or (N, C, H, W), y int64 (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def train(self) -> Pair:
        return self.X_train, self.y_train

    @property
    def val(self) -> Pair:
        return self.X_val, self.y_val

    @property
    def test(self) -> Pair:
        return self.X_test, self.y_test

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    def __repr__(self) -> str:
        # Shapes, not the arrays: a notebook cell that ends in `data` stays readable.
        parts = [f"{name}={getattr(self, name).shape}" for name in ("X_train", "X_val", "X_test")]
        return f"Splits({', '.join(parts)}, num_classes={self.num_classes})"


def _check_positive(name: str, value: int) -> None:
    if int(value) != value or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")


def _check_noise(noise: float) -> None:
    if not noise >= 0:  # also rejects NaN
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise!r}")


def _check_choice(what: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid are {', '.join(map(repr, valid))}")


def _stratified_indices(y: np.ndarray, fractions: Sequence[float], seed: Seed) -> list[np.ndarray]:
    """Cut ``arange(len(y))`` into ``len(fractions) + 1`` shuffled parts, the last taking the rest.

    Stratified: each class is cut in the same proportions, so every part has
    (up to rounding) the class balance of the whole, and part i has
    ``round(fractions[i] * len(y))`` samples in all.
    """
    if sum(fractions) >= 1.0:
        raise ValueError(f"the split fractions {tuple(fractions)} must sum to less than 1")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    sizes = np.stack([_apportion(counts, f) for f in fractions], axis=1)  # (K, parts - 1)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c, class_sizes in zip(classes, sizes, strict=True):
        idx = rng.permutation(np.flatnonzero(y == c))
        for part, chunk in zip(parts, np.split(idx, np.cumsum(class_sizes)), strict=True):
            part.append(chunk)
    # Shuffle across classes too, so a batch taken from the front is not all one digit.
    out = [rng.permutation(np.concatenate(p)) for p in parts]
    if min(map(len, out)) == 0:
        raise ValueError(f"{len(y)} samples are too few to split by {tuple(fractions)}")
    return out


def _apportion(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-class sizes ~ ``fraction * counts`` summing to ``round(fraction * counts.sum())``.

    Rounding each class on its own could miss the total by up to K/2 samples;
    instead floor every quota and give the leftover samples to the classes with
    the largest remainders (Hamilton's method).
    """
    exact = fraction * counts
    sizes = np.floor(exact).astype(np.int64)
    leftover = round(fraction * counts.sum()) - sizes.sum()
    sizes[np.argsort(sizes - exact, kind="stable")[:leftover]] += 1
    return sizes


def load_digits(
    split: bool = True,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: Seed = 0,
    flatten: bool = True,
    normalize: bool = True,
    classes: Sequence[int] | None = None,
) -> Splits | Pair:
    """scikit-learn's 8x8 digits (1797 images, 10 classes): the course's offline "MNIST".

    Used in notebook 01 (logistic regression on two digits: ``classes=(3, 8)``)
    and in the "train it for real" sections of notebooks 02-06.

    Inputs:
    - split: return a stratified, seeded :class:`Splits`; if False return ``(X, y)``.
    - val_fraction, test_fraction: shares of all samples, each in (0, 1).
    - flatten: X of shape (N, 64) if True, else (N, 1, 8, 8) for convolutions.
    - normalize: scale pixels from 0..16 to 0..1.
    - classes: keep only these digits, relabelled 0..K-1 in the given order.

    Returns: X float64, y int64 (N,), either split or not.
    """
    from sklearn import datasets  # lazily: scikit-learn is slow to import

    digits = datasets.load_digits()
    X = np.asarray(digits.data, dtype=np.float64)
    y = np.asarray(digits.target, dtype=np.int64)
    if classes is not None:
        classes = tuple(int(c) for c in classes)
        if len(classes) < 2 or len(set(classes) & set(range(10))) != len(classes):
            raise ValueError(f"classes must be at least two distinct digits 0..9, got {classes}")
        keep = np.isin(y, classes)
        relabel = np.full(10, -1, dtype=np.int64)
        relabel[list(classes)] = np.arange(len(classes))
        X, y = X[keep], relabel[y[keep]]
    if normalize:
        X = X / 16.0
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)  # (N, C, H, W) with one channel
    if not split:
        return X, y
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    val, test, train = _stratified_indices(y, (val_fraction, test_fraction), seed)
    return Splits(X[train], y[train], X[val], y[val], X[test], y[test])


# IDX type codes (third byte of the magic number) -> big-endian element type.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}  # fmt: skip
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in _IDX_DTYPES.items()}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a native-endian array.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, each
    dimension as a big-endian uint32, then the big-endian data in C order.
    Used by :func:`load_mnist`. Raises ValueError for a bad magic number or a
    file whose size does not match its header.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the gzip magic number, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated: {len(raw)} bytes, an IDX header needs at least 4")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        valid = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex().upper()}; expected two zero bytes, "
            f"a type code in ({valid}) and a dimension count >= 1 (MNIST images: 0x00000803)"
        )
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"{path}: truncated header: {ndim} dimensions need {start} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:start])
    dtype = _IDX_DTYPES[code]
    expected, found = math.prod(shape) * dtype.itemsize, len(raw) - start
    if found != expected:
        problem = "truncated data" if found < expected else "wrong size, extra bytes at the end"
        raise ValueError(
            f"{path}: {problem}: the header says shape {shape} of {dtype.name} "
            f"({expected} bytes of data) but {found} bytes follow it"
        )
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=start)
    return data.reshape(shape).astype(dtype.newbyteorder("="))  # a writable native copy


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in ``.gz``).

    The dtype must be one IDX can hold: uint8, int8, int16, int32, float32 or
    float64. Used by the tests of :func:`read_idx`; handy for small
    MNIST-like files of your own. Returns the path written.
    """
    path, array = Path(path), np.asarray(array)
    code = _IDX_CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(
            f"IDX cannot store dtype {array.dtype}; convert first to one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if not 1 <= array.ndim <= 255 or max(array.shape) >= 2**32:
        raise ValueError(f"IDX needs 1 to 255 dimensions each below 2**32, got {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime=0: the same array gives the same bytes
    path.write_bytes(data)
    return path


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


def load_mnist(
    root: str | Path, val_fraction: float = 1 / 6, seed: Seed = 0, flatten: bool = True
) -> Splits:
    """The real MNIST from its four IDX files in ``root`` (or ``root/MNIST/raw``, torchvision's).

    Used in notebooks 05-06 when the files are present; :func:`load_digits` is
    the offline default. Each file may be gzip-compressed (``.gz``). The
    validation set is a stratified, seeded ``val_fraction`` of the 60000
    training images (1/6: the classic 50000/10000); the test set is t10k.

    Returns: :class:`Splits` with X float64 in 0..1, (N, H*W) if ``flatten``
    else (N, 1, H, W); y int64 (N,). In float64 all of MNIST takes about 440 MB.
    """
    _check_fraction("val_fraction", val_fraction)
    root, found, missing = Path(root), [], []
    for name in _MNIST_FILES:
        folders = (root, root / "MNIST" / "raw")
        hits = [d / f for d in folders for f in (name, name + ".gz") if (d / f).is_file()]
        found.extend(hits[:1])
        missing.extend([] if hits else [name])
    if missing:
        raise FileNotFoundError(
            f"MNIST not found in {root}: missing {', '.join(missing)}. Expected the four IDX "
            f"files {', '.join(_MNIST_FILES)} (each optionally .gz) in that folder or in its "
            "MNIST/raw. Without them use dlcourse.data.load_digits(), the offline default."
        )
    train_images, train_labels, test_images, test_labels = (read_idx(p) for p in found)
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        if images.dtype != np.uint8 or images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"MNIST in {root}: expected uint8 images (N, H, W) and labels (N,), "
                f"got {images.dtype} images {images.shape} and labels {labels.shape}"
            )
    H, W = train_images.shape[1:]  # a test set of another image size fails in reshape
    shape = (-1, H * W) if flatten else (-1, 1, H, W)
    X_train, X_test = (a.reshape(shape) / 255.0 for a in (train_images, test_images))
    y_train, y_test = (a.astype(np.int64) for a in (train_labels, test_labels))
    # The validation set comes out of the training files only; t10k stays untouched.
    val, train = _stratified_indices(y_train, (val_fraction,), seed)
    return Splits(X_train[train], y_train[train], X_train[val], y_train[val], X_test, y_test)


def make_regression_1d(
    n: int = 100, noise: float = 0.1, seed: Seed = 0, kind: str = "linear"
) -> Pair:
    """Noisy samples of a 1-D function, x uniform in [-1, 1] (unsorted).

    kind: 'linear' (y = 2x + 1), 'sine' (y = sin(πx), Bishop's curve-fitting
    example) or 'cubic' (y = 2x^3 - x); ``noise`` is the std of the Gaussian
    noise added to y. Used in notebook 01 (linear regression, and under- and
    overfitting as the polynomial degree grows). Returns x (n,), y (n,) float64.
    """
    _check_positive("n", n)
    _check_choice("kind", kind, ("linear", "sine", "cubic"))
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n)
    f = {"linear": 2 * x + 1, "sine": np.sin(np.pi * x), "cubic": 2 * x**3 - x}[kind]
    return x, f + noise * rng.standard_normal(n)


def make_linear_regression(
    n: int = 100, d: int = 3, noise: float = 0.1, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear model ``y = theta[0] + X @ theta[1:] + noise * N(0, 1)`` with X, theta ~ N(0, 1).

    Used in notebook 01 (normal equations and gradient descent should recover
    theta). Returns X (n, d), y (n,), theta (d+1,) with the bias first.
    """
    _check_positive("n", n)
    _check_positive("d", d)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(d + 1)
    X = rng.standard_normal((n, d))
    return X, theta[0] + X @ theta[1:] + noise * rng.standard_normal(n), theta


def make_classification_2d(
    n: int = 200, kind: str = "blobs", noise: float = 0.2, seed: Seed = 0, classes: int = 2
) -> Pair:
    """Points in the plane for decision-boundary pictures, classes as balanced as n allows.

    kind: 'blobs' (centres on the unit circle), 'moons' (two interleaved half
    circles, 2 classes only), 'circles' (concentric rings of radius k/K) or
    'spiral' (CS231n's K-armed spiral); ``noise`` is the std of the Gaussian
    jitter added to every point. Used in notebooks 01 (logistic regression),
    02 (a two-layer net bends the boundary) and 03 (optimizers).
    Returns X (n, 2) float64, y (n,) int64 in 0..classes-1, shuffled.
    """
    _check_positive("n", n)
    _check_choice("kind", kind, ("blobs", "moons", "circles", "spiral"))
    _check_noise(noise)
    if int(classes) != classes or classes < 2 or (kind == "moons" and classes != 2):
        raise ValueError(f"classes must be an integer >= 2 (exactly 2 for moons), got {classes!r}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), [n // classes + (k < n % classes) for k in range(classes)])
    t = rng.uniform(size=n)  # where on its class's curve each point sits
    if kind == "blobs":
        angle = 2 * np.pi * y / classes
        X = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    elif kind == "moons":  # the construction of sklearn.datasets.make_moons
        a = np.pi * t
        upper = np.stack([np.cos(a), np.sin(a)], axis=1)
        X = np.where(y[:, None] == 0, upper, [1.0, 0.5] - upper)
    elif kind == "circles":
        a, r = 2 * np.pi * t, (y + 1) / classes
        X = r[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1)
    else:  # spiral: radius grows with t while the angle sweeps 4 radians
        a = 2 * np.pi * y / classes + 4 * t
        X = t[:, None] * np.stack([np.sin(a), np.cos(a)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)


def adding_problem(n: int = 1000, T: int = 50, seed: Seed = 0) -> Pair:
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): a long-memory test.

    Each step carries a value uniform in [0, 1] and a marker; exactly two
    markers are 1, one in each half of the sequence, and the target is the sum
    of the two marked values. Always predicting 1 gives MSE 1/6, the bar to beat.
    Used in notebook 07 (vanilla RNN vs LSTM). Returns X (n, T, 2), y (n,).
    """
    _check_positive("n", n)
    if int(T) != T or T < 2:
        raise ValueError(f"T must be an integer >= 2 (one marker per half), got {T!r}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, T))
    rows = np.arange(n)
    first, second = rng.integers(0, T // 2, size=n), rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    markers[rows, first] = markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1)  # (n, T, 2): value, marker
    return X, values[rows, first] + values[rows, second]


def _tokens(n: int, T: int, vocab: int, seed: Seed) -> np.ndarray:
    """Random int64 tokens (n, T) in 0..vocab-1, the inputs of the three toy seq2seq tasks."""
    _check_positive("n", n)
    _check_positive("T", T)
    if int(vocab) != vocab or vocab < 2:
        raise ValueError(f"vocab must be an integer >= 2, got {vocab!r}")
    return np.random.default_rng(seed).integers(0, vocab, size=(n, T), dtype=np.int64)


# Three toy sequence-to-sequence tasks of notebook 08 (attention and transformers).
# Each returns inputs (n, T) and targets (n, T), int64 tokens in 0..vocab-1.


def copy_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input (notebook 08: the easiest check that a model trains)."""
    X = _tokens(n, T, vocab, seed)
    return X, X.copy()


def reverse_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input reversed (notebook 08: attention learns to look at T-1-t)."""
    X = _tokens(n, T, vocab, seed)
    return X, X[:, ::-1].copy()


def sort_task(n: int = 1000, T: int = 10, vocab: int = 10, seed: Seed = 0) -> Pair:
    """Target = the input sorted ascending (notebook 08: needs all of the input first)."""
    X = _tokens(n, T, vocab, seed)
    return X, np.sort(X, axis=1)


def sine_sequences(n: int = 1000, T: int = 50, seed: Seed = 0, noise: float = 0.0) -> Pair:
    """Sine waves with random amplitude (0.5-1.5), period (10-40 steps) and phase.

    The target at step t is the input at step t+1 (next-step prediction);
    ``noise`` (std) is added before the shift, so ``y[:, t] == X[:, t+1]``.
    Used in notebook 07 (RNN/LSTM regression). Returns X (n, T, 1), y (n, T, 1).
    """
    _check_positive("n", n)
    _check_positive("T", T)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1))
    period = rng.uniform(10.0, 40.0, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    s = amplitude * np.sin(2 * np.pi * np.arange(T + 1) / period + phase)
    s = s + noise * rng.standard_normal(s.shape)  # (n, T+1)
    return s[:, :T, None], s[:, 1:, None]


def sample_image(name: str = "china", gray: bool = True, size: int | None = None) -> np.ndarray:
    """One of the two photographs that ship with scikit-learn, as float64 in 0..1.

    ``gray`` converts with the ITU-R BT.601 luma weights (as PIL's "L" mode).
    ``size`` shrinks the image by integer block averaging so the long side is
    about ``size`` pixels (never enlarged). Used in notebook 05 (hand-made
    convolution filters, edges, blurring). Returns (H, W) if gray, else (H, W, 3).
    """
    _check_choice("name", name, ("china", "flower"))
    from sklearn import datasets  # lazily: scikit-learn is slow to import

    img = datasets.load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0  # (H, W, 3)
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114])
    if size is not None:
        _check_positive("size", size)
        f = max(1, round(max(img.shape[:2]) / size))  # block side
        H, W = img.shape[0] // f * f, img.shape[1] // f * f  # crop to whole blocks
        img = img[:H, :W].reshape(H // f, f, W // f, f, *img.shape[2:]).mean(axis=(1, 3))
    return img


# -- preparing features (01_regression) ------------------------------------------

def add_bias_column(X: np.ndarray) -> np.ndarray:
    """Prepend a column of ones: (n, d) -> (n, d+1), so ``theta[0]`` acts as the bias."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    return np.hstack([np.ones((X.shape[0], 1)), X])


def polynomial_features(x: np.ndarray, degree: int) -> np.ndarray:
    """Columns ``x^0, x^1, ..., x^degree`` of a 1-D input x: shape (n, degree+1)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    return x[:, None] ** np.arange(degree + 1)


def train_val_split(
    X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle once and split into (X_train, y_train, X_val, y_val)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
    perm = rng.permutation(n)
    n_val = max(1, round(val_fraction * n))
    val, train = perm[:n_val], perm[n_val:]
    return X[train], y[train], X[val], y[val]
