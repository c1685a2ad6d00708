"""Tests of dlcourse.widgets.cnn: the computations of notebook 06's views (sizes and crops of illegal strides, where
an output lands on the input, feature maps against a plain forward pass, the mosaic), the views driven headless with
the student's functions, their fallbacks to the reference and without it, and the notebook's network, whose test
accuracy must be the figure the notebook states.

No browser: views draw on Agg.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import dlcourse.lazy_reference
from dlcourse import data, train
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import conv
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.cnn import (
    KERNELS,
    NOTEBOOK_STAGES,
    VIEWS,
    ConvExplorerView,
    FeatureMapView,
    feature_maps,
    kernel_label,
    legal_crop,
    mosaic,
    notebook_cnn,
    output_extent,
    stage_layers,
)

pytestmark = pytest.mark.notebook("06_cnn")

REPO = Path(__file__).resolve().parents[3]


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


def stub(*args: object) -> None:
    raise NotImplementedError("not done yet")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.sample_image("china", gray=True, size=160)


def small_cnn(seed: int = 0) -> nn.Sequential:
    """The notebook's architecture, untrained (fast): conv, ReLU, pool, conv, ReLU, pool, a linear head."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 10))


# ---- computations


@pytest.mark.parametrize(("n", "kernel", "pad", "stride", "used", "dropped", "out"), [
    (7, 3, 0, 1, 7, 0, 5), (7, 3, 0, 2, 7, 0, 3),
    (7, 3, 0, 3, 6, 1, 2),  # I2DL's illegal stride: (7 - 3) / 3 leaves 1 row, which PyTorch drops
    (64, 3, 1, 2, 63, 1, 32),  # the lecture's floor(32.5) = 32
    (106, 9, 3, 2, 105, 1, 52),
    (5, 5, 0, 4, 5, 0, 1),
])
def test_legal_crop(n, kernel, pad, stride, used, dropped, out):
    crop = legal_crop(n, kernel, pad, stride)
    assert (crop.used, crop.dropped, crop.out, crop.legal) == (used, dropped, out, dropped == 0)
    # What is kept is exactly what the reference accepts, with the output size PyTorch's floor gives.
    assert conv.conv_output_size(crop.used, kernel, pad, stride) == out == (n + 2 * pad - kernel) // stride + 1


def test_legal_crop_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        legal_crop(3, 5, 0, 1)
    with pytest.raises(ValueError, match="need n, kernel, stride >= 1"):
        legal_crop(3, 3, 0, 0)


def test_output_extent_centres_each_output_on_its_window():
    # 3x3 kernel, stride 1, no padding: output pixel (0, 0) is centred on input pixel (1, 1), one pixel wide.
    left, right, bottom, top = output_extent((4, 6), (3, 3), pad=0, stride=1)
    assert (left, top) == (0.5, 0.5) and (right - left, bottom - top) == (6, 4)
    # Stride 2 and padding 1: centres at -1 + 1 + 2 i, blocks two pixels wide.
    left, right, bottom, top = output_extent((3, 5), (3, 3), pad=1, stride=2)
    assert (left, top) == (-1.0, -1.0) and (right - left, bottom - top) == (10, 6)
    # A 1x9 kernel: rows centred on their own pixel, columns on the window's centre 4.
    left, _, _, top = output_extent((2, 2), (1, 9), pad=0, stride=1)
    assert (top, left) == (-0.5, 3.5)


def test_the_hand_made_kernels_are_the_lectures():
    kernels = dict(KERNELS)
    for name in ("box blur 3x3", "Gaussian blur 3x3", "box blur 7x7", "motion blur 1x9", "sharpen", "identity"):
        assert kernels[name].sum() == pytest.approx(1.0)  # flat regions keep their brightness
    for name in ("edges (8 - neighbours)", "vertical edges (Sobel)", "horizontal edges (Sobel)"):
        assert kernels[name].sum() == 0  # flat regions give 0
    ramp = np.tile(np.arange(5.0), (5, 1))[None, None]  # brighter to the right
    out = conv.conv_forward(ramp, kernels["vertical edges (Sobel)"][None, None], np.zeros(1))[0]
    assert (out > 0).all()  # cross-correlation: +1 on the right responds to a rising edge
    assert conv.conv_forward(ramp, kernels["horizontal edges (Sobel)"][None, None], np.zeros(1))[0].max() == 0


def test_kernel_label_writes_the_weights_in_one_line():
    kernels = dict(KERNELS)
    assert kernel_label(kernels["sharpen"]) == "0 -1 0 | -1 5 -1 | 0 -1 0"
    assert kernel_label(kernels["Gaussian blur 3x3"]) == "1 2 1 | 2 4 2 | 1 2 1  (/16)"
    assert kernel_label(kernels["box blur 7x7"]) == "7 × 7, each 1/49"
    assert kernel_label(np.array([[0.3, -1.7]])) == "3 -17  (/10)"
    assert kernel_label(np.array([[np.pi, 1.0]])) == "3.1 1"
    with pytest.raises(ValueError, match="non-empty"):
        kernel_label(np.zeros(3))


def test_mosaic_lays_out_the_channels():
    maps = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    out = mosaic(maps, cols=2, tile=4)
    assert out.shape == (2 * 5 - 1, 2 * 5 - 1)
    np.testing.assert_array_equal(out[:4, :4], np.kron(maps[0], np.ones((2, 2))))  # each pixel repeated 2x2
    np.testing.assert_array_equal(out[:4, 5:], np.kron(maps[1], np.ones((2, 2))))
    np.testing.assert_array_equal(out[5:, :4], np.kron(maps[2], np.ones((2, 2))))
    assert np.isnan(out[4]).all() and np.isnan(out[:, 4]).all() and np.isnan(out[5:, 5:]).all()
    assert mosaic(maps, cols=2, tile=4, rows=3).shape == (14, 9)  # padded with empty rows of tiles
    with pytest.raises(ValueError, match="do not fit"):
        mosaic(np.zeros((2, 3, 3)), cols=2, tile=4)


def test_feature_maps_are_the_forward_pass_and_leave_the_model_as_it_was():
    model = small_cnn()
    model.train()
    x = np.random.default_rng(0).random((5, 1, 8, 8))
    maps = feature_maps(model, x, [1, 2, 5])
    h = torch.tensor(x, dtype=torch.float32)
    with torch.no_grad():
        expected = [model[:2](h), model[:3](h), model[:6](h)]
    assert [m.shape for m in maps] == [(5, 4, 8, 8), (5, 4, 4, 4), (5, 6, 2, 2)]
    for mine, theirs in zip(maps, expected, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-6, atol=1e-7)
    assert model.training and all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="not \\(N, C, H, W\\)"):
        feature_maps(model, x, [6])  # after Flatten
    with pytest.raises(ValueError, match="increasing indices"):
        feature_maps(model, x, [4, 1])


def test_stage_layers_and_the_receptive_field_of_each_stage():
    model = small_cnn()
    assert stage_layers(model, 1) == [(3, 1)]
    assert stage_layers(model, 5) == [(3, 1), (2, 2), (3, 1), (2, 2)]
    assert [conv.receptive_field(stage_layers(model, s)) for s in NOTEBOOK_STAGES] == [3, 4, 8, 10]


# ---- the filter explorer


def test_explorer_draws_the_students_convolution(photo):
    calls = []

    def conv_forward(x, w, b, stride=1, pad=0):
        calls.append((x.shape, w.shape, stride, pad))
        return conv.conv_forward(x, w, b, stride, pad)

    view = ConvExplorerView(photo, conv_forward)
    view.fig.canvas.draw()
    view.update(kernel=3, stride=2, pad=1)  # sharpen; 106 + 2 - 3 = 105 is odd: stride 2 drops a row
    view.draw()
    assert calls and view.title.get_text() == view.base_title  # the student's function, no fallback note
    H, W = photo.shape
    rows, cols = legal_crop(H, 3, 1, 2), legal_crop(W, 3, 1, 2)
    expected = conv.conv_forward(photo[None, None, :rows.used, :cols.used], KERNELS[3][1][None, None], np.zeros(1),
                                 2, 1)[0][0, 0]
    np.testing.assert_allclose(np.ma.filled(view._out_image.get_array(), np.nan), expected)
    assert view._out_image.get_extent() == list(output_extent(expected.shape, (3, 3), 1, 2))
    # The illegal axis is named, and its dropped row shaded.
    text = view._out_text.get_text()
    assert ("illegal" in text) == (not (rows.legal and cols.legal))
    assert view._drop_rows.get_height() == rows.dropped and view._drop_cols.get_width() == cols.dropped
    # A second visit is cached: the function is not called again.
    n = len(calls)
    view.update(kernel=0)
    view.update(kernel=3)
    assert len(calls) == n + 1


def test_explorer_names_an_illegal_stride(photo):
    view = ConvExplorerView(photo[:13, :15])
    view.update(kernel=1, stride=3, pad=0)  # box blur 3x3: (13 - 3) / 3 leaves a row, (15 - 3) / 3 does not
    text = view._out_text.get_text()
    assert "H' = (13+2·0−3)/3+1 = 4.33333: illegal, 1 row dropped" in text
    assert "W' = (15+2·0−3)/3+1 = 5" in text and "column" not in text
    assert view._out_image.get_array().shape == (4, 5)
    view.update(pad=1)  # 13 + 2 - 3 = 12 is legal now, 15 + 2 - 3 = 14 is not
    H_line, W_line = view._out_text.get_text().split("\n")
    assert "illegal" not in H_line and W_line.endswith("5.66667: illegal, 2 columns dropped")
    assert view._out_image.get_array().shape == (5, 5) and view._drop_cols.get_width() == 2


def test_explorer_falls_back_to_the_reference_and_says_so(photo):
    view = ConvExplorerView(photo, stub)
    assert "using the reference: your conv_forward is not done yet" in view.title.get_text()
    assert view._out_image.get_visible()

    def wrong_shape(x, w, b, stride=1, pad=0):
        return np.zeros((1, 1, 2, 2)), None

    view = ConvExplorerView(photo, wrong_shape)
    assert "returned shape (1, 1, 2, 2)" in view.title.get_text()


def test_explorer_without_the_reference_asks_for_conv_forward(photo, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = ConvExplorerView(photo, stub)
    view.fig.canvas.draw()
    assert "implement `conv_forward` first" in view.title.get_text()
    assert not view._out_image.get_visible() and view._kernel_image.get_visible()


def test_explorer_refuses_what_is_not_a_gray_image(photo):
    with pytest.raises(ValueError, match="gray"):
        ConvExplorerView(np.stack([photo] * 3, axis=-1))


# ---- the feature maps


def test_feature_map_view_shows_the_models_maps(photo):
    model = small_cnn()
    digits = data.load_digits(seed=0, flatten=False)
    fields = []

    def receptive_field(layers):
        fields.append(list(layers))
        return conv.receptive_field(layers)

    view = FeatureMapView(digits.X_test[:12], digits.y_test[:12], model=model, receptive_field=receptive_field)
    view.fig.canvas.draw()
    view.update(image=5, stage=2, channel=5)  # conv 2 + ReLU has 6 channels
    view.draw()
    maps = feature_maps(model, digits.X_test[:12], NOTEBOOK_STAGES)
    np.testing.assert_allclose(np.ma.filled(view._one.get_array(), np.nan),
                               mosaic(maps[2][5, 5:6] / view.scale[2], 1, 8))
    assert view._field_text.get_text() == "a pixel sees 8 × 8 inputs"
    assert view._one_title.get_text() == "channel 5, 4 × 4"
    assert fields[-1] == [(3, 1), (2, 2), (3, 1)]  # the student's function, on the layers below conv 2
    with torch.no_grad():
        predicted = model(torch.tensor(digits.X_test[:12], dtype=torch.float32)).argmax(dim=1).numpy()
    np.testing.assert_array_equal(view.predictions, predicted)
    # Stage 1 (max pool 1) has 4 channels: channel 5 wraps to 1 and says so.
    view.update(stage=1)
    assert view._one_title.get_text() == "channel 1 (from 5), 4 × 4"
    assert view.title.get_text() == view.base_title


def test_feature_map_view_without_a_receptive_field_says_what_to_implement(monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    digits = data.load_digits(seed=0, flatten=False)
    view = FeatureMapView(digits.X_test[:4], digits.y_test[:4], model=small_cnn(), receptive_field=stub)
    view.update(stage=3)
    assert "implement `receptive_field` first" in view.title.get_text()
    assert not view._field_text.get_visible() and view._mosaic.get_visible()


# ---- the catalogue entries and the notebook's network


def test_views_are_in_the_catalogue():
    listed = [(e.notebook, e.name) for e in ALL_VIEWS]
    assert ("06_cnn", "ConvExplorerView") in listed and ("06_cnn", "FeatureMapView") in listed
    assert [e.name for e in VIEWS] == ["ConvExplorerView", "FeatureMapView"]


def stated_figure(name: str) -> str:
    nb = json.loads((REPO / "solutions" / "06_cnn" / "06_cnn.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.search(rf'<span data-figure="{name}">(.*?)</span>', text).group(1)


def test_the_notebooks_network_is_the_one_the_notebook_trains():
    # notebook_cnn repeats the notebook's training; if either changes, the accuracy the notebook states changes.
    model, digits = notebook_cnn()
    accuracy = train.evaluate(model, digits.test, nn.CrossEntropyLoss(), [train.accuracy])["accuracy"]
    assert f"{accuracy:.1%}" == stated_figure("cnn_test_accuracy").replace(" ", "")
    assert sum(p.numel() for p in model.parameters()) == int(stated_figure("cnn_params").replace(",", ""))
    view = FeatureMapView(digits.X_test[:8], digits.y_test[:8])  # without a model: this network
    np.testing.assert_array_equal(view.maps[0], feature_maps(model, digits.X_test[:8], NOTEBOOK_STAGES)[0])
