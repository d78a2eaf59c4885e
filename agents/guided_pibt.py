"""The guided PIBT baseline (`--algo guided-pibt`): a centralised lifelong planner on the true state of every env.

The planner (PIBT with congestion-aware guidance and a search-based escape from livelocks) lives in
planners/guided_pibt.py; this agent gives it the episode's random streams, so an episode's result depends
only on its task. The switches exist for the ablation (docs/planners.md); `--algo guided-pibt` has both on.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from agents.base import BatchedEnvView, EpisodeStreams
from planners.guided_pibt import GuidedPIBTPlanner


def variant_name(guidance: bool, escape: bool) -> str:
    """The algorithm name in result records: GuidedPIBT with both switches on, else which one is on."""
    if guidance and escape:
        return "GuidedPIBT"
    return "GuidedPIBT-" + ("guidance" if guidance else "escape" if escape else "off")


class GuidedPIBTAgent(EpisodeStreams):
    """Centralised guided PIBT with full observability (planners.guided_pibt.GuidedPIBTPlanner)."""

    def __init__(self, seed: int = 0, guidance: bool = True, escape: bool = True):
        super().__init__(seed)
        self.name, self.obs_radius = variant_name(guidance, escape), None
        self.planner = GuidedPIBTPlanner(guidance=guidance, escape=escape)

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self.planner.reset(num_envs, num_agents, self.rngs)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        self.planner.new_episodes(envs, self.rngs)

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        return torch.from_numpy(self.planner.actions(env, self.rngs))
