"""The PIBT baseline (`--algo pibt`): a centralised planner on the true state of every env.

PIBT itself (Okumura et al.) lives in planners/pibt.py; this agent gives it the
episode's random streams (tie-breakers, tie-breaking), so an episode's result
depends only on its task.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from agents.base import BatchedEnvView, EpisodeStreams
from planners.pibt import PIBTPlanner


class PIBTAgent(EpisodeStreams):
    """Centralised PIBT baseline with full observability (planners.pibt.PIBTPlanner)."""

    def __init__(self, seed: int = 0, name: str = "PIBT"):
        super().__init__(seed)
        self.name, self.obs_radius = name, None
        self._planner = PIBTPlanner()

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self._planner.reset(num_envs, num_agents, self.rngs)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        self._planner.new_episodes(envs, self.rngs)

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        return torch.from_numpy(self._planner.actions(env, self.rngs))
