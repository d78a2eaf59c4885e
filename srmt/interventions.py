"""Test-time memory interventions: what an agent's cross-attention reads instead of the pool.

For a trained policy, without retraining, the shared pool an agent reads is
replaced by:

- zero-pool: zeros in place of every memory (the keys and values of a zero memory remain);
- own-only: the agent's own memory only (no other agent is read);
- shuffle-envs: the memories of another environment's agents (environment e reads
  environment e+1 of the same forward pass, cyclically; alone in a pass, zeros);
- freeze: the memories as they were after the episode's first step, kept for the rest of it.

Only what is read changes: each agent's own memory token and its new memory
are computed as usual. `SRMTCore.intervention` holds one (None: off).

>>> import torch
>>> memories = torch.arange(4.0).view(2, 2, 1)  # 2 envs x 2 agents x H=1
>>> shuffled, _ = make_intervention("shuffle-envs")(memories, None, torch.ones(2, 2))
>>> shuffled.flatten().tolist()
[2.0, 3.0, 0.0, 1.0]
"""
from __future__ import annotations

from typing import Literal, Sequence, get_args

import torch

Intervention = Literal["none", "zero-pool", "own-only", "shuffle-envs", "freeze"]
INTERVENTIONS: tuple[str, ...] = get_args(Intervention)


class MemoryIntervention:
    """Base: the pool unchanged. Subclasses replace `__call__` (or set `own_only`)."""

    name = "none"
    own_only = False
    """True: each row reads its own memory only (the core builds that pool itself)"""

    def __call__(self, memories: torch.Tensor, valid: torch.Tensor | None,
                 steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """memories (E, A, H), valid (E, A) bool or None, steps (E, A) steps_seen -> (memories, valid)."""
        return memories, valid

    def select(self, envs: Sequence[int]) -> None:
        """The caller's environment ids of the E environments in the next call (default 0..E-1)."""


class ZeroPool(MemoryIntervention):
    name = "zero-pool"

    def __call__(self, memories, valid, steps):
        return torch.zeros_like(memories), valid


class OwnOnly(MemoryIntervention):
    name = "own-only"
    own_only = True


class ShuffleEnvs(MemoryIntervention):
    name = "shuffle-envs"

    def __call__(self, memories, valid, steps):
        if memories.shape[0] < 2:
            return torch.zeros_like(memories), valid
        donor = memories.roll(-1, dims=0)  # env e reads env e+1
        return donor, None if valid is None else valid.roll(-1, dims=0)


class Freeze(MemoryIntervention):
    """Keeps, per environment id, the memories after its episode's first step."""

    name = "freeze"

    def __init__(self) -> None:
        self.frozen: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.envs: list[int] | None = None

    def select(self, envs: Sequence[int]) -> None:
        self.envs = list(envs)

    def __call__(self, memories, valid, steps):
        envs = self.envs if self.envs is not None else list(range(memories.shape[0]))
        if len(envs) != memories.shape[0]:
            raise ValueError(f"freeze was told {len(envs)} environment ids for {memories.shape[0]} environments")
        first = steps.amax(dim=1) <= 1  # (E,) the pool of the episode's first step, or none yet
        out, out_valid = memories.clone(), None if valid is None else valid.clone()
        for i, env in enumerate(envs):
            if bool(first[i]):
                self.frozen[env] = (memories[i].clone(), None if valid is None else valid[i].clone())
            elif env in self.frozen:
                out[i] = self.frozen[env][0]
                if out_valid is not None:
                    out_valid[i] = self.frozen[env][1]
        self.envs = None
        return out, out_valid


def make_intervention(name: str) -> MemoryIntervention | None:
    """The intervention called `name` (None for 'none')."""
    kinds = {cls.name: cls for cls in (ZeroPool, OwnOnly, ShuffleEnvs, Freeze)}
    if name == "none":
        return None
    if name not in kinds:
        raise ValueError(f"memory intervention {name!r} is not one of {INTERVENTIONS}")
    return kinds[name]()
