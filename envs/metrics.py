"""Episode metrics for a batch of environments, computed from agent states.

finish:  CSR (all agents arrived), ISR (fraction arrived), SoC (true sum of
         costs: arrival step per agent, the episode length for agents that never
         arrived; pogema 1.4 reports num_agents x makespan instead), makespan,
         ep_length.
nothing: CSR/ISR on the last step, SoC/makespan with the step each agent last
         stepped onto its goal and stayed (pogema's definition), ep_length.
restart: avg_throughput = goals reached by all agents / episode length.

Evaluation adds avg_agents_density to restart episodes (`agents_density`), as the
POGEMA benchmark's lifelong records carry it.
"""
from __future__ import annotations

import torch
from torch import Tensor
from envs.config import is_lifelong

METRICS = {
    "finish": ("CSR", "ISR", "SoC", "makespan", "ep_length"),
    "nothing": ("CSR", "ISR", "SoC", "makespan", "ep_length"),
    "restart": ("avg_throughput", "ep_length"),
}


class EpisodeMetrics:
    """Accumulates per-agent arrival steps / goal counts for E envs x A agents."""

    def __init__(self, on_target: str, max_episode_steps: int, num_envs: int, num_agents: int,
                 device: torch.device | str = "cpu"):
        self.on_target, self.max_steps = on_target, max_episode_steps
        self.arrival = torch.zeros(num_envs, num_agents, dtype=torch.long, device=device)
        self.goals_reached = torch.zeros(num_envs, dtype=torch.long, device=device)

    def reset(self, envs: Tensor) -> None:
        """Forget the episodes of `envs` (bool mask (E,) or indices)."""
        self.arrival[envs] = 0
        self.goals_reached[envs] = 0

    def record(self, step: Tensor, reached: Tensor, on_goal: Tensor) -> None:
        """After a step. step: (E,) steps taken so far; reached: (E, A) agents that got a goal
        this step; on_goal: (E, A) agents standing on their goal now."""
        if self.on_target == "nothing":
            keep = on_goal & (self.arrival > 0)
            self.arrival = torch.where(keep, self.arrival, torch.where(on_goal, step[:, None], 0))
        else:
            self.arrival = torch.where(reached & (self.arrival == 0), step[:, None], self.arrival)
        self.goals_reached += reached.sum(dim=1)

    def summary(self, step: Tensor) -> dict[str, Tensor]:
        """Metrics (E,) float of each env as if its episode ended after `step` steps."""
        length = step.float()
        if is_lifelong(self.on_target):
            return {"avg_throughput": self.goals_reached.float() / self.max_steps, "ep_length": length}
        arrived = self.arrival > 0
        cost = torch.where(arrived, self.arrival.float(), length[:, None])
        return {
            "CSR": arrived.all(dim=1).float(),
            "ISR": arrived.float().mean(dim=1),
            "SoC": cost.sum(dim=1),
            "makespan": cost.max(dim=1).values,
            "ep_length": length,
        }


class AgentsDensity:
    """Mean agents density seen in the agents' windows over an episode, per env (pogema-toolbox's
    ``avg_agents_density``): each observation (reset and every step) contributes the mean over
    agents of (agents in the window, self included) / (cells of the window that are not obstacles),
    with pogema's padding (an obstacle ring around the map, free cells beyond)."""

    NAME = "avg_agents_density"
    """Its key in an episode's metrics, after the backend's (METRICS)."""

    def __init__(self, num_envs: int, num_agents: int):
        self.num_agents = num_agents
        self.total = torch.zeros(num_envs, dtype=torch.float64)
        self.count = torch.zeros(num_envs, dtype=torch.long)

    def add(self, obs: Tensor, envs: list[int]) -> None:
        """Count the observation (E*A, channels, w, w) of `envs` (channel 0: obstacles < 0, 1: agents)."""
        if not envs:
            return
        per_agent = obs.reshape(-1, self.num_agents, *obs.shape[1:])[envs]
        agents = (per_agent[:, :, 1] != 0).sum(dim=(2, 3))
        free = (per_agent[:, :, 0] >= 0).sum(dim=(2, 3))
        self.total[envs] += (agents.double() / free.double()).mean(dim=1).cpu()
        self.count[envs] += 1

    def pop(self, e: int) -> float:
        """The mean of env `e`'s episode so far; forgets it."""
        value = float(self.total[e] / self.count[e])
        self.total[e], self.count[e] = 0.0, 0
        return value


def agents_density(on_target: str, num_envs: int, num_agents: int) -> AgentsDensity | None:
    """The density tracker of an evaluation of `on_target` episodes: restart (lifelong) only, None otherwise."""
    return AgentsDensity(num_envs, num_agents) if is_lifelong(on_target) else None
