"""GPT-2 style transformer block with optional cross-attention to the shared pool.

Shapes: B rows, T tokens, H width, nh heads, hs = H / nh head size.
Parameter names follow GPT-2 (c_attn, c_proj, c_fc, ln_1, ln_2) so that the
parameter count can be checked against the reference (HF GPT2 with
add_cross_attention: q_attn, c_attn (kv), c_proj, ln_cross_attn).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F


def mask_value(dtype: torch.dtype) -> float:
    """Additive bias for a forbidden key.

    Large and finite, not -inf: a row whose keys are all forbidden (the memory
    token's own row on the first step, under the causal mask) gives
    softmax(-inf, ..., -inf) = NaN in a plain softmax, and a NaN poisons the
    gradients even where the output is discarded. torch 2.13's CPU SDPA kernel
    happens to return 0 for such rows; a finite value does not depend on which
    kernel runs. Such a row becomes a harmless average (its output is never
    read); in any row with an allowed key, exp(value - max) is exactly 0.
    Half of the dtype's minimum, so that adding a score cannot overflow to -inf.
    """
    return torch.finfo(dtype).min / 2


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Attention bias of `dtype` from a bool mask: 0 where allowed, `mask_value` where not."""
    bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return bias.masked_fill(~allowed, mask_value(dtype))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None,
           need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T / sqrt(hs) + bias) v for (N, nh, L, hs) queries and (N, nh, S, hs) keys/values.

    Without `need_weights` this is torch's fused SDPA and no weights are returned. With it the
    same product is written out so that the (N, nh, L, S) weights can be returned (the
    attention-recording hook, srmt/inspect.py); the outputs agree up to float rounding
    (tests/test_model_inspect.py).
    """
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias), None
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5  # (N, nh, L, S)
    if bias is not None:
        scores = scores + bias
    weights = scores.softmax(dim=-1)  # (N, nh, L, S)
    return weights @ v, weights


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, H) -> (N, nh, L, hs)."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(N, nh, L, hs) -> (N, L, H)."""
    return x.transpose(1, 2).flatten(2)


class SelfAttention(nn.Module):
    """Multi-head self-attention with an additive mask."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(hidden, 3 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, keep: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, H), allowed (B, 1, T, T) bool -> (B, T', H) and, with need_weights, the weights
        (B, nh, T', T); T' = len(keep) or T.

        `keep` selects the query tokens whose output is needed (keys and values
        always cover all T tokens).
        """
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=-1)  # 3 x (B, T, H)
        if keep is not None:
            q, allowed = q[:, keep], allowed[:, :, keep]  # (B, T', H), (B, 1, T', T)
        # Additive bias in the dtype the product runs in (under autocast, q's).
        bias = additive_mask(allowed, q.dtype)  # (B, 1, T', T)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))  # (B, nh, T|T', hs)
        y, weights = attend(q, k, v, bias, need_weights)  # (B, nh, T', hs), (B, nh, T', T) or None
        return self.c_proj(merge_heads(y)), weights  # (B, T', H)


class CrossAttention(nn.Module):
    """Queries from the agents' tokens, keys/values from the shared memory pool.

    Global pool: the pool is given once per group of rows, (G, A, H) for G
    groups of R rows each (B = G*R). The acting path groups by environment
    (G = E, R = A), so keys/values are computed once per environment and every
    agent's queries attend to them in one batched product; the per-row path
    uses G = B, R = 1. Local pool (`neighbours`): keys/values are still computed
    once per memory, then each row gathers the K it reads (G = B, R = 1).
    """

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_attn = nn.Linear(hidden, hidden)
        self.c_attn = nn.Linear(hidden, 2 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, pool: torch.Tensor, pool_valid: torch.Tensor | None = None,
                neighbours: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, H) -> (B, T, H) and, with need_weights, the weights (G, nh, R*T, keys).

        pool (G, A, H) with B = G*R; pool_valid (G, A) bool or None (all valid). With
        `neighbours` (B, K) long rows into the flattened pool (G*A, H), each row reads
        those K memories instead; pool_valid is then (B, K).
        """
        rows, tokens, hidden = x.shape
        k, v = self.c_attn(pool).split(hidden, dim=-1)  # 2 x (G, A, H)
        if neighbours is not None:
            k, v = k.flatten(0, 1)[neighbours], v.flatten(0, 1)[neighbours]  # 2 x (B, K, H)
        groups = k.shape[0]
        q = self.q_attn(x).reshape(groups, -1, hidden)  # (G, R*T, H)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))  # (G, nh, R*T|keys, hs)
        bias = None  # (G, 1, 1, keys): a memory that does not exist yet is no key
        if pool_valid is not None:
            bias = additive_mask(pool_valid, q.dtype)[:, None, None, :]
        y, weights = attend(q, k, v, bias, need_weights)  # (G, nh, R*T, hs)
        return self.c_proj(merge_heads(y).reshape(rows, tokens, hidden)), weights  # (B, T, H)


class MLP(nn.Module):
    """Linear(H -> 4H) -> GELU (tanh, as GPT-2) -> Linear(4H -> H)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(hidden, 4 * hidden)
        self.c_proj = nn.Linear(4 * hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class BlockWeights(NamedTuple):
    """Attention weights of one block's pass (None when not asked for)."""

    self_attention: torch.Tensor | None
    """(B, nh, T', T) query token x key token"""
    cross_attention: torch.Tensor | None
    """(G, nh, R*T', keys) as CrossAttention returns them"""


class PoolGate(nn.Module):
    """The gated pool read (`ModelConfig.pool_gate`): read -> sigmoid(W LN_cross(x) + b) * LN(read).

    The plain read, c_proj(attention(W_v pool)), enters the stream at the scale of two small-initialised
    matrices in series and is added to a stream that LayerNorms rescale as a whole, so a read that is
    near the mean of the memories is a small perturbation. Here the read is normalised on its own
    (`ln_read`: unit spread per token, a learned per-channel scale) and each channel is gated by the
    reader's own stream (`gate`): how much of the read an agent takes depends on what it sees. A gate
    that did not depend on the reader would be a rescale of c_proj's rows, the same function.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.ln_read = nn.LayerNorm(hidden)
        self.gate = nn.Linear(hidden, hidden)

    def forward(self, reader: torch.Tensor, read: torch.Tensor) -> torch.Tensor:
        """reader (B, T', H): the normalised stream the queries came from; read (B, T', H) -> (B, T', H)."""
        return torch.sigmoid(self.gate(reader)) * self.ln_read(read)


class Block(nn.Module):
    """Pre-LN block: x += SA(LN x); x += gate * CA(LN x, pool); x += MLP(LN x).

    With `pool_gate` the cross-attention residual is x += gate * PoolGate(LN x, CA(LN x, pool)).
    """

    def __init__(self, hidden: int, heads: int, cross_attention: bool, pool_gate: bool = False) -> None:
        super().__init__()
        if pool_gate and not cross_attention:
            raise ValueError("pool_gate=True gates the cross-attention's read: it needs cross_attention=True")
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = SelfAttention(hidden, heads)
        self.ln_cross_attn = nn.LayerNorm(hidden) if cross_attention else None
        self.crossattention = CrossAttention(hidden, heads) if cross_attention else None
        self.ln_2 = nn.LayerNorm(hidden)
        self.mlp = MLP(hidden)
        # Created last so that a block without it draws the same initial weights as before it existed.
        self.pool_gate = PoolGate(hidden) if pool_gate else None

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, pool: torch.Tensor | None = None,
                gate: torch.Tensor | None = None, keep: torch.Tensor | None = None,
                pool_valid: torch.Tensor | None = None, neighbours: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, BlockWeights]:
        """x (B, T, H) -> (B, T', H) and the attention weights (None unless need_weights).

        allowed (B, 1, T, T) bool: self-attention mask (query x key). pool (G, A, H): shared
        memories, or None for blocks without cross-attention; pool_valid: the pool's entries
        that exist (None: all); neighbours (B, K): the local pool's rows (CrossAttention).
        gate (B,) bool: rows that cross-attend (rows without a memory yet skip it exactly).
        keep: token indices to compute after self-attention (the last block
        needs only the tokens read afterwards; the rest is per-token work).
        """
        y, self_weights = self.attn(self.ln_1(x), allowed, keep, need_weights)  # (B, T', H)
        x = (x if keep is None else x[:, keep]) + y  # (B, T', H)
        cross_weights = None
        if self.crossattention is not None:
            reader = self.ln_cross_attn(x)  # (B, T', H)
            c, cross_weights = self.crossattention(reader, pool, pool_valid, neighbours, need_weights)  # (B, T', H)
            if self.pool_gate is not None:
                c = self.pool_gate(reader, c)  # (B, T', H)
            x = torch.where(gate[:, None, None], x + c, x)  # (B, T', H)
        return x + self.mlp(self.ln_2(x)), BlockWeights(self_weights, cross_weights)  # (B, T', H)
