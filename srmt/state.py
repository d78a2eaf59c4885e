"""The per-row recurrent state: one flat float vector per agent row.

Layout of a row (sizes depend on the variant, absent parts have size 0):

    [ memory (M) | pool (P*H) | history (K'*H) | steps_seen (1) ]

- memory: own memory m_i(t-1) (srmt, rmt: M = H) or the GRU hidden (gru: M = gru_hidden);
- pool: the memories of all A agents of the row's environment at t-1, ordered by
  agent, own included (srmt with memory='stored': P = A; with 'rebuilt' / 'learned'
  the pool is rebuilt from the environment's rows' own memories, P = 0);
- history: the last K encoder outputs, oldest first, newest last (transformer
  variants: K' = K). Only the last min(steps_seen, K) slots are filled; the
  others are masked out of attention;
- steps_seen: steps of this episode already taken (an exact integer in float32
  up to 2**24). 0 means "episode start": no memory, no pool, empty history.

An all-zero row is therefore a valid episode start: the trainer zeroes a row's
state at done and nothing else is needed.

| variant   | M          | P | K' | size             |
|-----------|------------|---|----|------------------|
| srmt      | H          | A | K  | H + A*H + K*H + 1 (memory='stored') |
| srmt      | H          | 0 | K  | H + K*H + 1 (memory='rebuilt' / 'learned') |
| rmt       | H          | 0 | K  | H + K*H + 1      |
| attention | 0          | 0 | K  | K*H + 1          |
| gru       | gru_hidden | 0 | 0  | gru_hidden + 1   |
| empty     | 0          | 0 | 0  | 1                |
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from srmt.config import ModelConfig


class StateLayout(NamedTuple):
    """Sizes of the parts of one state row."""

    memory: int
    """floats of the own memory / GRU hidden"""
    pool_agents: int
    """memories in the stored pool (A for srmt with memory='stored', else 0)"""
    history: int
    """history slots (K for transformer variants, else 0)"""
    width: int
    """floats per pool / history entry (H)"""

    @property
    def size(self) -> int:
        """Total floats of a row, steps_seen included."""
        return self.memory + (self.pool_agents + self.history) * self.width + 1


class StateView(NamedTuple):
    """Views into a state tensor [B, S] (no copies)."""

    memory: torch.Tensor
    """(B, M) own memory or GRU hidden"""
    pool: torch.Tensor
    """(B, P, H) shared pool, agent order; (E, A, H) per environment is accepted by pack_state"""
    history: torch.Tensor
    """(B, K', H) past encoder outputs, oldest first"""
    steps_seen: torch.Tensor
    """(B,) steps already taken in this episode"""


def state_layout(cfg: ModelConfig, num_agents: int) -> StateLayout:
    """Part sizes of a state row for `cfg` with `num_agents` agents per environment."""
    if num_agents < 1:
        raise ValueError(f"num_agents={num_agents} must be >= 1")
    memory = cfg.hidden if cfg.uses_memory else cfg.gru_hidden if cfg.variant == "gru" else 0
    return StateLayout(
        memory=memory,
        pool_agents=num_agents if cfg.stores_pool else 0,
        history=cfg.history if cfg.uses_attention else 0,
        width=cfg.hidden,
    )


def state_size(cfg: ModelConfig, num_agents: int) -> int:
    """Floats per row of the recurrent state."""
    return state_layout(cfg, num_agents).size


def initial_state(cfg: ModelConfig, num_agents: int, batch_size: int,
                  device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """All-zero state [batch_size, S]: every row at episode start."""
    return torch.zeros(batch_size, state_size(cfg, num_agents), device=device, dtype=dtype)


def unpack_state(state: torch.Tensor, cfg: ModelConfig, num_agents: int) -> StateView:
    """Split a state [B, S] into views of its parts (no copies)."""
    layout = state_layout(cfg, num_agents)
    if state.dim() != 2 or state.shape[1] != layout.size:
        raise ValueError(f"state shape {tuple(state.shape)} must be (B, {layout.size}) for "
                         f"variant={cfg.variant!r}, num_agents={num_agents}")
    h = layout.width
    memory, pool, history, steps = state.split(
        [layout.memory, layout.pool_agents * h, layout.history * h, 1], dim=1)
    return StateView(
        memory=memory,  # (B, M)
        pool=pool.unflatten(1, (layout.pool_agents, h)),  # (B, P, H)
        history=history.unflatten(1, (layout.history, h)),  # (B, K', H)
        steps_seen=steps.squeeze(1),  # (B,)
    )


def pack_state(view: StateView) -> torch.Tensor:
    """Concatenate parts into a state [B, S]; inverse of `unpack_state`.

    The pool may be per row (B, P, H) or per environment (E, A, H) with B = E*A;
    an environment's pool is then written into each of its A rows without
    first materialising a (B, A, H) copy.
    """
    memory, pool, history, steps = view
    rows = steps.shape[0]
    groups, agents, h = pool.shape
    if groups != rows and groups * agents != rows:
        raise ValueError(f"pool shape {tuple(pool.shape)} must be (B={rows}, P, H) per row "
                         f"or (E, A, H) with E*A = B per environment")
    pool = pool.reshape(groups, 1, agents * h)  # (B or E, 1, P*H)
    if groups != rows:  # per environment: every row of env e gets pool[e]
        pool = pool.expand(groups, agents, agents * h)  # (E, A, A*H), a view
    parts = [memory, pool, history.flatten(1), steps.unsqueeze(1)]
    widths = [memory.shape[1], agents * h, history.shape[1] * history.shape[2], 1]
    out = steps.new_empty(rows, sum(widths))  # (B, S)
    start = 0
    for part, width in zip(parts, widths):
        # Slice right before writing: autograd rejects in-place writes into views
        # taken before an earlier write gave `out` a gradient history.
        target = out[:, start:start + width]  # (B, width)
        target.view(part.shape).copy_(part)
        start += width
    return out
