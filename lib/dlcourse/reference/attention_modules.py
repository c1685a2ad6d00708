"""PyTorch modules of attention and a tiny transformer, nanoGPT style: one ``nn.Module`` per idea.

The NumPy half of the lesson (softmax, scaled dot-product attention and its
backward, masks, positional encoding, the head reshapes) is in
:mod:`dlcourse.reference.attention`, which also gives these classes under
their contract names (``attention.MultiHeadAttention`` and so on). Here:

- ``MultiHeadAttention``, checked against ``torch.nn.MultiheadAttention``
  through ``copy_weights_from_torch``;
- ``FeedForward``, the position-wise network of "Attention is all you need" (section 3.3);
- ``TransformerBlock``, attention and feed-forward with residuals and layer norms
  (pre-norm as in GPT-2, or post-norm as in the paper);
- ``TinyTransformer``, embeddings + sinusoidal positions + blocks + head, which can
  return every layer's and head's attention weights for heatmaps.

Masks are boolean, **True = keep**, as in the NumPy half and in
``torch.nn.functional.scaled_dot_product_attention``. The transformer's
learning-rate warm-up is :func:`dlcourse.reference.optim.warmup_inverse_sqrt`.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.reference.attention import _positive_int, causal_mask, merge_heads, positional_encoding, split_heads

__all__ = ["FeedForward", "MultiHeadAttention", "TinyTransformer", "TransformerBlock", "copy_weights_from_torch"]




class MultiHeadAttention(nn.Module):
    """h attention heads side by side ("Attention is all you need", section 3.2.2).

    Each head projects queries, keys and values to D/h features and attends on
    its own, so different heads can look for different things (one the previous
    token, one a matching bracket, ...) at the cost of one head of width D.

    forward(query (N, Tq, D), key (N, Tk, D), value (N, Tk, D), mask=None, need_weights=True)
    returns (out (N, Tq, D), weights (N, h, Tq, Tk) or None). ``mask`` is boolean,
    True = keep, of shape (Tq, Tk), (N, Tq, Tk) (a head axis is inserted) or
    (N, h, Tq, Tk), or anything broadcasting to those (e.g. (N, 1, Tk) for padding).
    Unlike ``torch.nn.MultiheadAttention`` the weights are per head (average over
    dim 1 for torch's default), and a query whose keys are all hidden gives nan,
    as in torch (the NumPy reference raises instead).
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        d_model, num_heads = _positive_int(d_model, "d_model"), _positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(f"d_model = {d_model} must be divisible by num_heads = {num_heads}")
        self.d_model, self.num_heads = d_model, num_heads
        # Separate projections, so that key and value may come from another sequence (cross-attention).
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _mask(self, mask: torch.Tensor | None, N: int, Tq: int, Tk: int) -> torch.Tensor | None:
        if mask is None:
            return None
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError(
                f"mask must be a boolean tensor (True = keep), got {getattr(mask, 'dtype', type(mask).__name__)}; "
                "torch.nn.MultiheadAttention's masks mean the opposite (True = hidden): pass ~that_mask"
            )
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)  # (N, 1, Tq, Tk): the same mask for every head
        target = (N, self.num_heads, Tq, Tk)
        try:
            ok = mask.ndim in (2, 4) and torch.broadcast_shapes(mask.shape, target) == target
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"mask {tuple(mask.shape)} must broadcast to (Tq, Tk), (N, Tq, Tk) or (N, h, Tq, Tk) "
                             f"= {target}")
        return mask

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        for name, a in (("query", query), ("key", key), ("value", value)):
            if a.ndim != 3 or a.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (N, T, D) with D = d_model = {self.d_model}, "
                                 f"got {tuple(a.shape)}")
        N, Tq, _ = query.shape  # batch, query positions, d_model
        Tk = key.shape[1]  # key positions
        if key.shape[0] != N or value.shape[:2] != key.shape[:2]:
            raise ValueError(f"query {tuple(query.shape)}, key {tuple(key.shape)} and value {tuple(value.shape)} "
                             "must share N, and key and value the number of positions Tk")
        mask = self._mask(mask, N, Tq, Tk)
        q = split_heads(self.q_proj(query), self.num_heads)  # (N, h, Tq, D/h)
        k = split_heads(self.k_proj(key), self.num_heads)  # (N, h, Tk, D/h)
        v = split_heads(self.v_proj(value), self.num_heads)  # (N, h, Tk, D/h)
        if need_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (N, h, Tq, Tk)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))  # exp(-inf) = 0: hidden keys get weight 0
            weights = scores.softmax(dim=-1)  # (N, h, Tq, Tk)
            y = weights @ v  # (N, h, Tq, D/h)
        else:
            # The same formula, fused (and memory-efficient on a GPU); its boolean mask also means True = keep.
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
        return self.out_proj(merge_heads(y)), weights  # (N, Tq, D)


def copy_weights_from_torch(mine: MultiHeadAttention, torch_mha: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy the projections of a ``torch.nn.MultiheadAttention`` into ``mine`` (in place; returns mine).

    torch stacks the q, k and v projections into one ``in_proj_weight`` (3D, D),
    rows in that order, each block an ``nn.Linear`` weight (out, in); its output
    projection is an ``nn.Linear`` too. Both modules then compute the same
    function (``batch_first`` only changes torch's input layout). A torch module
    with kdim or vdim different from embed_dim, add_bias_kv or add_zero_attn has
    no counterpart here and is refused.
    """
    if not isinstance(mine, MultiHeadAttention) or not isinstance(torch_mha, nn.MultiheadAttention):
        raise TypeError("copy_weights_from_torch(mine, torch_mha) takes a MultiHeadAttention and an "
                        f"nn.MultiheadAttention, got {type(mine).__name__} and {type(torch_mha).__name__}")
    if (torch_mha.embed_dim, torch_mha.num_heads) != (mine.d_model, mine.num_heads):
        raise ValueError(f"torch_mha has embed_dim {torch_mha.embed_dim} and {torch_mha.num_heads} heads, mine "
                         f"d_model {mine.d_model} and {mine.num_heads} heads")
    if torch_mha.kdim != torch_mha.embed_dim or torch_mha.vdim != torch_mha.embed_dim:
        raise ValueError("torch_mha must have kdim = vdim = embed_dim: mine projects keys and values from d_model")
    if torch_mha.bias_k is not None or torch_mha.add_zero_attn:
        raise ValueError("torch_mha must not use add_bias_kv or add_zero_attn, which mine does not have")
    if (torch_mha.in_proj_bias is not None) != (mine.q_proj.bias is not None):
        raise ValueError("torch_mha and mine must both have biases or both have none (bias=...)")
    D = mine.d_model
    with torch.no_grad():
        for i, proj in enumerate((mine.q_proj, mine.k_proj, mine.v_proj)):
            proj.weight.copy_(torch_mha.in_proj_weight[i * D:(i + 1) * D])
            if proj.bias is not None:
                proj.bias.copy_(torch_mha.in_proj_bias[i * D:(i + 1) * D])
        mine.out_proj.weight.copy_(torch_mha.out_proj.weight)
        if mine.out_proj.bias is not None:
            mine.out_proj.bias.copy_(torch_mha.out_proj.bias)
    return mine


class FeedForward(nn.Module):
    """The position-wise feed-forward network (section 3.3): Linear(D, d_ff), ReLU,
    Linear(d_ff, D), applied to every token on its own (the lecture's "good old
    fully-connected layers"). Attention mixes tokens; this mixes features."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(_positive_int(d_model, "d_model"), _positive_int(d_ff, "d_ff"))
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))  # (N, T, d_ff) in the middle, (N, T, D) out


class TransformerBlock(nn.Module):
    """Self-attention then feed-forward, each wrapped in a residual connection and a layer norm.

    pre_norm=True (GPT-2, nanoGPT):  x = x + drop(attn(ln1(x))); x = x + drop(ff(ln2(x))).
    pre_norm=False (the paper):      x = ln1(x + drop(attn(x))); x = ln2(x + drop(ff(x))).
    Pre-norm keeps an un-normalized identity path from input to output, which
    makes deep stacks train without the paper's careful warm-up; dropout on each
    branch before the sum is the paper's "residual dropout".

    forward(x (N, T, D), mask=None (True = keep), need_weights=False) returns
    (x (N, T, D), attention weights (N, h, T, T) or None).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0, pre_norm: bool = True) -> None:
        super().__init__()
        if not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a drop probability and must be in [0, 1), got {dropout!r}")
        self.pre_norm = bool(pre_norm)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.pre_norm:
            h = self.ln1(x)
            a, weights = self.attn(h, h, h, mask=mask, need_weights=need_weights)  # (N, T, D)
            x = x + self.drop(a)
            x = x + self.drop(self.ff(self.ln2(x)))
        else:
            a, weights = self.attn(x, x, x, mask=mask, need_weights=need_weights)
            x = self.ln1(x + self.drop(a))
            x = self.ln2(x + self.drop(self.ff(x)))
        return x, weights


class TinyTransformer(nn.Module):
    """Token embedding + sinusoidal positions + ``num_layers`` blocks + final norm + output head.

    forward(tokens (N, T) integer, return_attention=False) returns logits
    (N, T, vocab_size), or (logits, attention) with attention (num_layers, N, h, T, T),
    every layer's and head's weights, for heatmaps. T may be at most max_len.

    causal=True (a decoder, as in GPT) lets position t attend to positions <= t
    only, so its logits may predict token t + 1; causal=False (an encoder, as in
    BERT) lets every position see the whole sequence.
    """

    def __init__(self, vocab_size: int, d_model: int, num_heads: int, num_layers: int, d_ff: int, max_len: int,
                 causal: bool = True, dropout: float = 0.0, pre_norm: bool = True) -> None:
        super().__init__()
        vocab_size, max_len = _positive_int(vocab_size, "vocab_size"), _positive_int(max_len, "max_len")
        num_layers = _positive_int(num_layers, "num_layers")
        self.d_model, self.max_len, self.causal = _positive_int(d_model, "d_model"), max_len, bool(causal)
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        # Section 3.4 multiplies the embeddings by sqrt(d_model); starting them at std d_model^-1/2 makes the
        # product unit-scale, like the positional encoding's entries in [-1, 1], so neither drowns the other.
        nn.init.normal_(self.tok_emb.weight, std=d_model**-0.5)
        # Buffers, not parameters: nothing to learn, but they follow .to(device) and .double().
        pe = torch.as_tensor(positional_encoding(max_len, d_model), dtype=torch.get_default_dtype())
        self.register_buffer("pe", pe, persistent=False)  # (max_len, D)
        self.register_buffer("tril", torch.as_tensor(causal_mask(max_len)), persistent=False)  # (max_len, max_len)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, num_heads, d_ff, dropout, pre_norm)
                                    for _ in range(num_layers))
        # A post-norm block already ends in a layer norm; a pre-norm stack needs one before the head.
        self.ln_f = nn.LayerNorm(d_model) if pre_norm else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)

    def forward(
        self, tokens: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2 or tokens.is_floating_point():
            raise ValueError(f"tokens must be an integer tensor of shape (N, T), got "
                             f"{getattr(tokens, 'dtype', type(tokens).__name__)} {tuple(getattr(tokens, 'shape', ()))}")
        T = tokens.shape[1]  # time (tokens is (N, T))
        if T > self.max_len:
            raise ValueError(f"tokens has T = {T} positions, more than max_len = {self.max_len}")
        x = self.tok_emb(tokens) * math.sqrt(self.d_model) + self.pe[:T]  # (N, T, D)
        x = self.drop(x)
        mask = self.tril[:T, :T] if self.causal else None  # (T, T), True = keep
        maps = []
        for block in self.blocks:
            x, weights = block(x, mask=mask, need_weights=return_attention)
            maps.append(weights)
        logits = self.head(self.ln_f(x))  # (N, T, vocab_size)
        return (logits, torch.stack(maps)) if return_attention else logits
