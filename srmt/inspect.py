"""The attention-recording hook: who reads whose memory, and which tokens an agent attends to.

`record_attention(model)` sets `SRMTCore.record` for the duration of a `with`
block; every core call inside it appends a `CoreCall` with the weights of
every block, computed by the same attention code (srmt.blocks.attend written
out instead of fused SDPA; outputs equal up to float rounding). Outside the
block the hook is None and costs one `if` per call.

>>> import torch
>>> from srmt import ModelConfig, SRMTPolicy
>>> policy = SRMTPolicy(ModelConfig.preset("bottleneck")).eval()
>>> obs, state = torch.zeros(2, 3, 5, 5), policy.initial_state(2, 2)
>>> with record_attention(policy) as record, torch.no_grad():
...     _, _, state = policy(obs, state, num_agents=2)
...     _, _, state = policy(obs, state, num_agents=2)
>>> step = record.step()
>>> tuple(step.pool.shape), step.pool.sum(dim=-1).tolist()  # (E, A, A), rows sum to 1
((1, 2, 2), [[1.0, 1.0]])
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, NamedTuple

import torch
from torch import nn

if TYPE_CHECKING:
    from srmt.blocks import BlockWeights


class CoreCall(NamedTuple):
    """What one SRMTCore call attended to."""

    num_agents: int
    """A, agents per environment"""
    cross_attended: torch.Tensor
    """(B,) bool: rows that read the pool (rows at an episode start do not)"""
    token_valid: torch.Tensor
    """(B, T) bool: tokens that existed for the current-observation token"""
    blocks: list[BlockWeights]
    """per transformer block, its self- and cross-attention weights"""
    neighbours: torch.Tensor | None
    """(B, K) rows of the local pool, None for the global pool"""


@dataclass(frozen=True)
class StepAttention:
    """The last block's attention of one step, heads averaged, at the current-observation token."""

    pool: torch.Tensor | None
    """(E, A, A) row i = reading agent, column j = agent whose memory it reads; rows sum to 1,
    or are zero for an agent that did not cross-attend; None for a core without a pool"""
    tokens: torch.Tensor
    """(B, T) weights over the tokens [memory ; history oldest..newest ; current]"""
    token_valid: torch.Tensor
    """(B, T) bool: the tokens that existed"""


@dataclass
class AttentionRecord:
    """The core calls made while recording (srmt.core.SRMTCore.record)."""

    calls: list[CoreCall] = field(default_factory=list)

    def step(self, call: int = -1) -> StepAttention:
        """The StepAttention of one recorded call (default: the last)."""
        if not self.calls:
            raise ValueError("nothing recorded: call the model inside `with record_attention(model)`")
        recorded = self.calls[call]
        last = recorded.blocks[-1]
        tokens = last.self_attention[:, :, -1].mean(dim=1)  # (B, T)
        pool = None if last.cross_attention is None else pool_matrix(recorded)
        return StepAttention(pool, tokens, recorded.token_valid)


def pool_matrix(call: CoreCall) -> torch.Tensor:
    """(E, A, A) weights an agent gives each agent's memory in a recorded call (last block,
    current-observation token, heads averaged); zero rows where the agent did not cross-attend."""
    weights = call.blocks[-1].cross_attention  # (G, nh, R*T', keys)
    rows, agents = call.cross_attended.shape[0], call.num_agents
    groups, keys = weights.shape[0], weights.shape[-1]
    per_row = weights.view(groups, weights.shape[1], rows // groups, -1, keys)[:, :, :, -1]  # (G, nh, R, keys)
    per_row = per_row.mean(dim=1).reshape(rows, keys)  # (B, keys)
    if call.neighbours is not None:
        columns = call.neighbours % agents  # (B, K) agent index inside the environment
    elif keys == agents:
        columns = torch.arange(agents, device=weights.device).expand(rows, agents)
    elif keys == 1:  # each row read its own memory only
        columns = (torch.arange(rows, device=weights.device) % agents)[:, None]
    else:
        raise ValueError(f"cannot map {keys} pool keys onto {agents} agents")
    dense = torch.zeros(rows, agents, dtype=weights.dtype, device=weights.device)
    dense.scatter_add_(1, columns, per_row)
    dense = dense * call.cross_attended[:, None]
    return dense.view(-1, agents, agents)


@contextmanager
def record_attention(model: nn.Module) -> Iterator[AttentionRecord]:
    """Record every call of the model's SRMT core inside the block (an SRMTPolicy or the core)."""
    core = getattr(model, "core", model)
    if not hasattr(core, "record"):
        raise ValueError(f"{type(core).__name__} has no attention to record: only the transformer variants "
                         "(srmt, rmt, attention) do")
    record = AttentionRecord()
    core.record = record
    try:
        yield record
    finally:
        core.record = None
