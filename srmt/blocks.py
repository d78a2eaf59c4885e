"""GPT-2 style transformer block with optional cross-attention to the shared pool.

Shapes: B rows, T tokens, H width, nh heads, hs = H / nh head size.
Parameter names follow GPT-2 (c_attn, c_proj, c_fc, ln_1, ln_2) so that the
parameter count can be checked against the reference (HF GPT2 with
add_cross_attention: q_attn, c_attn (kv), c_proj, ln_cross_attn).
"""

from __future__ import annotations

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

    def forward(self, x: torch.Tensor, allowed: torch.Tensor,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, H), allowed (B, 1, T, T) bool -> (B, T', H), T' = len(keep) or T.

        `keep` selects the query tokens whose output is needed (keys and values
        always cover all T tokens).
        """
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=-1)  # 3 x (B, T, H)
        if keep is not None:
            q, allowed = q[:, keep], allowed[:, :, keep]  # (B, T', H), (B, 1, T', T)
        # Additive bias in the dtype the product runs in (under autocast, q's).
        bias = additive_mask(allowed, q.dtype)  # (B, 1, T', T)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))  # (B, nh, T|T', hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B, nh, T', hs)
        return self.c_proj(merge_heads(y))  # (B, T', H)


class CrossAttention(nn.Module):
    """Queries from the agents' tokens, keys/values from the shared memory pool.

    The pool is given once per group of rows: (G, A, H) for G groups of R rows
    each (B = G*R). The acting path groups by environment (G = E, R = A), so
    keys/values are computed once per environment and every agent's queries
    attend to them in one batched product; the per-row path uses G = B, R = 1.
    """

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_attn = nn.Linear(hidden, hidden)
        self.c_attn = nn.Linear(hidden, 2 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, pool: torch.Tensor,
                pool_valid: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, H), pool (G, A, H) with B = G*R, pool_valid (G, A) bool or None (all valid) -> (B, T, H)."""
        rows, tokens, hidden = x.shape
        groups = pool.shape[0]
        q = self.q_attn(x).reshape(groups, -1, hidden)  # (G, R*T, H)
        k, v = self.c_attn(pool).split(hidden, dim=-1)  # 2 x (G, A, H)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))  # (G, nh, R*T|A, hs)
        bias = None  # (G, 1, 1, A): a memory that does not exist yet is no key
        if pool_valid is not None:
            bias = additive_mask(pool_valid, q.dtype)[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (G, nh, R*T, hs)
        return self.c_proj(merge_heads(y).reshape(rows, tokens, hidden))  # (B, T, H)


class MLP(nn.Module):
    """Linear(H -> 4H) -> GELU (tanh, as GPT-2) -> Linear(4H -> H)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(hidden, 4 * hidden)
        self.c_proj = nn.Linear(4 * hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-LN block: x += SA(LN x); x += gate * CA(LN x, pool); x += MLP(LN x)."""

    def __init__(self, hidden: int, heads: int, cross_attention: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = SelfAttention(hidden, heads)
        self.ln_cross_attn = nn.LayerNorm(hidden) if cross_attention else None
        self.crossattention = CrossAttention(hidden, heads) if cross_attention else None
        self.ln_2 = nn.LayerNorm(hidden)
        self.mlp = MLP(hidden)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, pool: torch.Tensor | None = None,
                gate: torch.Tensor | None = None, keep: torch.Tensor | None = None,
                pool_valid: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, H) -> (B, T', H).

        allowed (B, 1, T, T) bool: self-attention mask (query x key). pool (G, A, H): shared
        memories, or None for blocks without cross-attention; pool_valid (G, A) bool: the
        pool's entries that exist (None: all). gate (B,) bool:
        rows that cross-attend (rows without a memory yet skip it exactly).
        keep: token indices to compute after self-attention (the last block
        needs only the tokens read afterwards; the rest is per-token work).
        """
        y = self.attn(self.ln_1(x), allowed, keep)  # (B, T', H)
        x = (x if keep is None else x[:, keep]) + y  # (B, T', H)
        if self.crossattention is not None:
            c = self.crossattention(self.ln_cross_attn(x), pool, pool_valid)  # (B, T', H)
            x = torch.where(gate[:, None, None], x + c, x)  # (B, T', H)
        return x + self.mlp(self.ln_2(x))  # (B, T', H)
