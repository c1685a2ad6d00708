"""Tests of dlcourse.data.images: scikit-learn's two photographs, gray or colour, shrunk by block averaging."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import data


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


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.sample_image("lena"), "'china', 'flower'"),
        (lambda: data.sample_image(size=0), "size must be a positive integer"),
    ],
)
def test_bad_arguments_say_what_is_valid(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_packaged_images_are_sklearns():
    from sklearn import datasets

    from dlcourse.data import _packaged

    for name in ("china.jpg", "flower.jpg"):
        np.testing.assert_array_equal(_packaged.sample_image(name), datasets.load_sample_image(name))
