"""The real MNIST, read from its IDX files when someone has put them on disk (nothing is downloaded).

Used by notebooks 05-06 when the files are present; :func:`dlcourse.data.load_digits`
is the offline default everywhere else. The validation set is split off the
training files with the digits' stratified split.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np

from dlcourse.data._validate import Seed, check_fraction
from dlcourse.data.digits import Splits, stratified_indices

__all__ = ["load_mnist", "read_idx"]

# IDX type codes (third byte of the magic number) -> big-endian element type.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}  # fmt: skip


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
    check_fraction("val_fraction", val_fraction)
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
    val, train = stratified_indices(y_train, (val_fraction,), seed)
    return Splits(X_train[train], y_train[train], X_train[val], y_train[val], X_test, y_test)
