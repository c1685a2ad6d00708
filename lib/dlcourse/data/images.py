"""The two photographs that ship with scikit-learn, for hand-made convolution filters.

Used by notebook 05 (edges, blurring and sharpening with filters written by hand).
"""

from __future__ import annotations

import numpy as np

from dlcourse.data import _packaged
from dlcourse.data._validate import check_choice, check_positive

__all__ = ["sample_image"]


def sample_image(name: str = "china", gray: bool = True, size: int | None = None) -> np.ndarray:
    """One of the two photographs that ship with scikit-learn, as float64 in 0..1.

    ``gray`` converts with the ITU-R BT.601 luma weights (as PIL's "L" mode).
    ``size`` shrinks the image by integer block averaging so the long side is
    about ``size`` pixels (never enlarged). Used in notebook 05 (hand-made
    convolution filters, edges, blurring). Returns (H, W) if gray, else (H, W, 3).
    """
    check_choice("name", name, ("china", "flower"))
    img = _packaged.sample_image(f"{name}.jpg").astype(np.float64) / 255.0  # (H, W, 3), without importing sklearn
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114])
    if size is not None:
        check_positive("size", size)
        f = max(1, round(max(img.shape[:2]) / size))  # block side
        H, W = img.shape[0] // f * f, img.shape[1] // f * f  # crop to whole blocks
        img = img[:H, :W].reshape(H // f, f, W // f, f, *img.shape[2:]).mean(axis=(1, 3))
    return img
