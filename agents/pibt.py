"""The planners as agents (`--algo pibt`, `--algo guided-pibt`): centralised planners on the true state of every env.

The planners live in planners/ (PIBT, Okumura et al.: planners/pibt.py); `PlannerAgent` gives one the
episode's random streams (tie-breakers, tie-breaking), so an episode's result depends only on its task.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from agents.base import BatchedEnvView, EpisodeStreams
from planners.pibt import PIBTPlanner


class PlannerAgent(EpisodeStreams):
    """A centralised planner with full observability: `planner` has reset / new_episodes / actions
    (planners.pibt.PIBTPlanner's interface)."""

    def __init__(self, planner: Any, seed: int = 0, name: str = "planner"):
        super().__init__(seed)
        self.name, self.obs_radius = name, None
        self.planner = planner

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self.planner.reset(num_envs, num_agents, self.rngs)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        self.planner.new_episodes(envs, self.rngs)

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        return torch.from_numpy(self.planner.actions(env, self.rngs))


class PIBTAgent(PlannerAgent):
    """Centralised PIBT baseline with full observability (planners.pibt.PIBTPlanner)."""

    def __init__(self, seed: int = 0, name: str = "PIBT"):
        super().__init__(PIBTPlanner(), seed, name)
