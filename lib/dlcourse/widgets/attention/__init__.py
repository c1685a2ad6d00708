"""The slider views of notebook 08_attention: :mod:`.compute` computes, :mod:`.views` draws.

``VIEWS`` lists them built on the notebook's own data, for the catalogue of
every view (``ALL_VIEWS``), the slider benchmark and the tests. The attention
maps need the notebook's trained transformer: its builder repeats the
notebook's training (the reference's ``TinyTransformer``, the same sizes,
data, seed and schedule) once per process and keeps the trained model
(:func:`trained_reverser`), a few seconds on one CPU thread.
"""

from __future__ import annotations

import functools
from typing import Any

from dlcourse.widgets.attention.compute import (
    SharpnessTable,
    attention_macs,
    attention_maps,
    mirror_mass,
    recurrent_macs,
    softmax_jacobian_norm,
    softmax_sharpness,
    time_attention_and_recurrence,
)
from dlcourse.widgets.attention.views import AttentionMapView, SoftmaxSharpnessView
from dlcourse.widgets.catalog import ViewEntry

__all__ = [
    "VIEWS", "AttentionMapView", "SharpnessTable", "SoftmaxSharpnessView", "attention_macs", "attention_maps",
    "mirror_mass", "recurrent_macs", "softmax_jacobian_norm", "softmax_sharpness", "time_attention_and_recurrence",
    "trained_reverser",
]

# The notebook's reversal task and model (its section "Train it for real"): keep both in step.
VOCAB, SEQ_LEN, D_MODEL, NUM_HEADS, NUM_LAYERS, D_FF = 10, 10, 32, 2, 2, 64
N_TRAIN, EPOCHS, BATCH_SIZE, WARMUP_STEPS, LR_FACTOR = 4096, 4, 64, 50, 0.12
N_SHOWN = 20  # test sequences in the attention-map view


@functools.cache
def trained_reverser() -> Any:
    """The notebook's tiny transformer, trained as the notebook trains it, on the CPU (cached per process).

    The reference's ``TinyTransformer`` has the parameters of the notebook's class, created in the same order,
    so the same seed starts both from the same weights; its fused attention kernel rounds differently from the
    notebook's explicit softmax, so the weights after training agree closely but not bit for bit.
    """
    import torch
    import torch.nn.functional as F

    from dlcourse import data, train
    from dlcourse.lazy_reference import module, reference

    warmup_inverse_sqrt = reference("optim.warmup_inverse_sqrt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X_train, Y_train = data.reverse_task(n=N_TRAIN, T=SEQ_LEN, vocab=VOCAB, seed=0)
        torch.manual_seed(0)
        model = module("attention_modules").TinyTransformer(VOCAB, D_MODEL, NUM_HEADS, NUM_LAYERS, D_FF,
                                                            max_len=SEQ_LEN, causal=False)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR_FACTOR, betas=(0.9, 0.98), eps=1e-9)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: warmup_inverse_sqrt(s + 1, D_MODEL, WARMUP_STEPS))
        optimizer.register_step_post_hook(lambda *_: schedule.step())

        def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits.flatten(0, 1), y.flatten())

        train.fit(model, (X_train, Y_train), loss_fn, optimizer, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0,
                  progress=False)
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def softmax_sharpness_view() -> SoftmaxSharpnessView:
    """08: the softmax against the key width, 16 keys, seed 0 (the reference's softmax)."""
    return SoftmaxSharpnessView()


def attention_map_view() -> AttentionMapView:
    """08: the trained reverser's maps on the first 20 test sequences (seed 2)."""
    from dlcourse import data

    X_test, Y_test = data.reverse_task(n=2000, T=SEQ_LEN, vocab=VOCAB, seed=2)
    return AttentionMapView(trained_reverser(), X_test[:N_SHOWN], Y_test[:N_SHOWN])


VIEWS: list[ViewEntry] = [
    ViewEntry("08_attention", "SoftmaxSharpnessView", softmax_sharpness_view),
    ViewEntry("08_attention", "AttentionMapView", attention_map_view),
]
