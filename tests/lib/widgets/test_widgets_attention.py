"""Tests of dlcourse.widgets.attention: its computations against first principles and torch, both views headless
(the student's softmax, the fallbacks, updates that only change data), the model of the notebook against the
reference model its catalogue entry trains, and that entry's trained model reading the mirrored positions."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
import torch

import dlcourse.lazy_reference
import dlcourse.widgets.attention as package
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import attention as att
from dlcourse.reference.attention_modules import TinyTransformer
from dlcourse.widgets.attention import (
    VIEWS,
    AttentionMapView,
    SoftmaxSharpnessView,
    attention_macs,
    attention_maps,
    mirror_mass,
    recurrent_macs,
    softmax_jacobian_norm,
    softmax_sharpness,
    time_attention_and_recurrence,
)

pytestmark = pytest.mark.notebook("08_attention")

NOTEBOOK = package.__file__.rsplit("/lib/", 1)[0] + "/solutions/08_attention/08_attention.ipynb"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


def small_model(seed: int = 0) -> TinyTransformer:
    torch.manual_seed(seed)
    return TinyTransformer(7, 8, 2, 2, 16, max_len=6, causal=False)


# -- compute ----------------------------------------------------------------------------------------

def test_jacobian_norm_is_the_frobenius_norm_of_the_softmax_jacobian():
    rng = np.random.default_rng(0)
    scores = 3 * rng.standard_normal((4, 5))
    w = att.softmax(scores)
    for row, norm in zip(w, softmax_jacobian_norm(w), strict=True):
        J = np.diag(row) - np.outer(row, row)
        assert norm == pytest.approx(np.linalg.norm(J), rel=1e-12)
    J_torch = torch.autograd.functional.jacobian(lambda s: torch.softmax(s, dim=-1), torch.as_tensor(scores[0]))
    assert softmax_jacobian_norm(w[0]) == pytest.approx(float(torch.linalg.norm(J_torch)), rel=1e-12)
    np.testing.assert_array_equal(softmax_jacobian_norm(np.eye(3)), 0.0)  # one-hot: no gradient at all
    assert softmax_jacobian_norm(np.full(4, 0.25)) == pytest.approx(math.sqrt(0.25 - 2 / 16 + 1 / 16))


def test_sharpness_table_shows_the_saturation_and_the_cure():
    calls = []

    def spy(x):
        calls.append(x.shape)
        return att.softmax(x)

    d_ks = [1, 16, 256, 1024]
    t = softmax_sharpness(spy, d_ks, n_keys=8, n_queries=200, n_examples=3, seed=1)
    assert calls and all(shape == (200, 8) for shape in calls)  # the student's softmax did the work
    assert t.max_weight.shape == t.grad_norm.shape == (4, 2) and t.examples.shape == (4, 3, 2, 8)
    np.testing.assert_allclose(t.score_std[1:], np.sqrt(d_ks[1:]), rtol=0.15)  # q . k spreads like sqrt(d_k)
    np.testing.assert_array_equal(t.max_weight[0, 0], t.max_weight[0, 1])  # d_k = 1: nothing to scale
    assert np.all(np.diff(t.max_weight[:, 0]) > 0) and t.max_weight[-1, 0] > 0.9  # unscaled: towards one-hot
    assert np.ptp(t.max_weight[:, 1]) < 0.15 and np.ptp(t.grad_norm[:, 1]) < 0.1  # scaled: the same at every width
    assert t.grad_norm[-1, 0] < 1e-3 * t.grad_norm[-1, 1]  # the unscaled gradient has all but vanished
    np.testing.assert_allclose(t.examples.sum(axis=-1), 1.0)
    again = softmax_sharpness(att.softmax, d_ks, n_keys=8, n_queries=200, n_examples=3, seed=1)
    np.testing.assert_array_equal(again.grad_norm, t.grad_norm)


def test_mirror_mass_of_known_maps():
    T = 5
    anti = np.eye(T)[::-1]  # query i reads key T-1-i
    maps = np.stack([np.broadcast_to(anti, (3, 2, T, T)), np.full((3, 2, T, T), 1 / T)])  # (L=2, N=3, h=2, T, T)
    np.testing.assert_allclose(mirror_mass(maps), [[1.0, 1.0], [1 / T, 1 / T]])


def test_attention_maps_run_the_model_once_in_eval_mode():
    model = small_model().train()
    tokens = np.random.default_rng(2).integers(0, 7, size=(4, 6))
    maps, predictions = attention_maps(model, tokens)
    assert maps.shape == (2, 4, 2, 6, 6) and maps.dtype == np.float64
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, rtol=1e-6)
    with torch.no_grad():
        logits, expected = model.eval()(torch.as_tensor(tokens), return_attention=True)
    np.testing.assert_allclose(maps, expected.double().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(predictions, logits.argmax(-1).numpy())
    model.train()
    attention_maps(model, tokens)
    assert model.training  # its mode is put back
    with pytest.raises(ValueError, match=r"tokens must have shape \(N, T\)"):
        attention_maps(model, tokens[0])


def test_operation_counts():
    assert attention_macs(10, 4) == 2 * 10 * 10 * 4 and recurrent_macs(10, 4) == 2 * 10 * 4 * 4
    assert attention_macs(64, 64) == recurrent_macs(64, 64)  # the crossover n = d
    assert attention_macs(2048, 64) / recurrent_macs(2048, 64) == 32


def test_timings_have_one_positive_value_per_length():
    t_attention, t_recurrent = time_attention_and_recurrence([8, 16], d=4, repeats=2)
    assert t_attention.shape == t_recurrent.shape == (2,)
    assert np.all(np.isfinite(t_attention)) and np.all(t_attention > 0) and np.all(t_recurrent > 0)


# -- the softmax view --------------------------------------------------------------------------------

def test_sharpness_view_draws_the_students_softmax():
    calls = []

    def spy(x, axis=-1):
        calls.append(1)
        return att.softmax(x, axis)

    view = SoftmaxSharpnessView(spy)
    assert calls and view.title.get_text() == view.base_title
    view.update(log2_dk=9, query=3)
    view.draw()
    heights = [[bar.get_height() for bar in bars.patches] for bars in view._bars]
    np.testing.assert_allclose(heights, view.table.examples[9, 3])
    assert view._markers[0].get_ydata()[0] == view.table.max_weight[9, 0]
    assert "d_k = 512" in view._note.get_text()
    n = len(calls)
    view.update(log2_dk=2)
    assert len(calls) == n  # a slider only reads the table


def test_sharpness_view_falls_back_to_the_reference_and_says_which_function_is_missing(monkeypatch):
    view = SoftmaxSharpnessView(stub)
    assert "your softmax is not done yet" in view.title.get_text()
    assert view.table is not None and view._bars[0].patches[0].get_visible()
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = SoftmaxSharpnessView(stub)
    assert view.title.get_text().endswith("(implement `softmax` first)")
    assert not view._bars[1].patches[0].get_visible() and not view._curves[0].get_visible()
    view.update(log2_dk=3)  # still says so after a slider moved
    view.draw()
    assert view.title.get_text().endswith("(implement `softmax` first)")


# -- the attention-map view ---------------------------------------------------------------------------

def test_map_view_shows_the_chosen_map_without_running_the_model_again():
    model = small_model()
    tokens = np.random.default_rng(3).integers(0, 7, size=(5, 6))
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    view = AttentionMapView(model, tokens, targets=tokens[:, ::-1])
    assert len(calls) == 1
    view.update(layer=0, head=1, example=3)
    view.draw()
    np.testing.assert_array_equal(view._image.get_array(), view.maps[0, 3, 1])
    np.testing.assert_allclose(view._mean_image.get_array(), view.maps[0, :, 1].mean(axis=0))
    np.testing.assert_array_equal(view._input_strip.get_array(), tokens[3][None, :])
    np.testing.assert_array_equal(view._output_strip.get_array(), view.predictions[3][:, None])
    assert view._info.get_text().startswith(f"input {' '.join(map(str, tokens[3]))}")
    assert len(calls) == 1
    assert view.sliders["layer"].max == 1 and view.sliders["example"].max == 4
    with pytest.raises(ValueError, match="targets"):
        AttentionMapView(model, tokens, targets=tokens[:2])


# -- the notebook's model and the catalogue's ----------------------------------------------------------

def _notebook_cell(marker: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    found = [c.source for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, marker
    return found[0]


def test_the_notebooks_model_is_the_reference_model():
    """Same parameters, created in the same order: the same seed gives the same weights and the same function."""
    namespace = {"math": math, "torch": torch, "nn": torch.nn, "positional_encoding": att.positional_encoding,
                 "causal_mask": att.causal_mask}
    exec(_notebook_cell("class TinyTransformer(nn.Module)"), namespace)
    for causal in (False, True):
        torch.manual_seed(0)
        mine = namespace["TinyTransformer"](10, 16, 2, 2, 32, max_len=8, causal=causal).eval()
        torch.manual_seed(0)
        ref = TinyTransformer(10, 16, 2, 2, 32, max_len=8, causal=causal).eval()
        assert list(mine.state_dict()) == list(ref.state_dict())
        for name, value in mine.state_dict().items():
            torch.testing.assert_close(value, ref.state_dict()[name], rtol=0, atol=0)
        tokens = torch.randint(0, 10, (3, 8), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            logits, maps = mine(tokens, return_attention=True)
            ref_logits, ref_maps = ref(tokens, return_attention=True)
            fused = ref(tokens)  # the reference's fused kernel, used while training
        torch.testing.assert_close(logits, ref_logits, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(maps, ref_maps, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fused, logits, rtol=1e-4, atol=1e-5)


def test_the_catalogue_trains_with_the_notebooks_settings():
    namespace: dict = {}
    for line in _notebook_cell("LR_FACTOR =").splitlines():
        if line and line.split("=")[0].replace(",", " ").split() and line.split("=")[0].strip().isupper():
            exec(line, namespace)
    for name in ("VOCAB", "SEQ_LEN", "D_MODEL", "NUM_HEADS", "NUM_LAYERS", "D_FF", "EPOCHS", "BATCH_SIZE",
                 "WARMUP_STEPS", "LR_FACTOR"):
        assert namespace[name] == getattr(package, name), name
    source = _notebook_cell("LR_FACTOR =")
    assert f"reverse_task(n={package.N_TRAIN}, T=SEQ_LEN, vocab=VOCAB, seed=0)" in source
    assert f"AttentionMapView(model, X_test[:{package.N_SHOWN}], Y_test[:{package.N_SHOWN}])" in _notebook_cell(
        "show(AttentionMapView")


def test_views_entries_build_and_blit_what_a_full_redraw_draws():
    assert [(e.notebook, e.name) for e in VIEWS] == [("08_attention", "SoftmaxSharpnessView"),
                                                     ("08_attention", "AttentionMapView")]
    for entry in VIEWS:
        view = entry.build()
        assert type(view).__name__ == entry.name
        canvas = view.fig.canvas
        canvas.draw()  # a full draw saves the background
        before = np.asarray(canvas.buffer_rgba()).copy()
        view.update(**{name: spec.max for name, spec in view.sliders.items()})
        view.draw()  # blits the moving artists onto the saved background
        blitted = np.asarray(canvas.buffer_rgba()).copy()
        assert not np.array_equal(blitted, before)
        canvas.draw()
        np.testing.assert_array_equal(blitted, np.asarray(canvas.buffer_rgba()))


def test_the_catalogue_model_reverses_and_reads_the_mirrored_positions():
    from dlcourse import data

    model = package.trained_reverser()
    assert package.trained_reverser() is model  # trained once per process
    X, Y = data.reverse_task(n=500, T=package.SEQ_LEN, vocab=package.VOCAB, seed=2)
    maps, predictions = attention_maps(model, X)
    assert np.mean(np.all(predictions == Y, axis=1)) > 0.99
    mirror = mirror_mass(maps)
    assert mirror[-1].min() > 0.8 and mirror[0].max() < 0.4
