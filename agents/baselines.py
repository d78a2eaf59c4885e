"""Baseline agents behind the same interface as SRMTAgent (agents.base).

- RandomAgent: uniform random actions, one seeded stream per episode.
- GreedyAgent: every agent steps along its shortest path on the static map
  (the first cell of the observation's path channel), ignoring other agents;
  an agent that did not move on its last step and is not on its goal takes a
  random action instead (pogema's A* rule, which breaks head-on deadlocks).
  Fully batched: a few tensor operations for all rows.
- AStarAgent: pogema 1.4's own `pogema.a_star_policy.AStarAgent`, one per
  agent, fed with what it would see in POMAPF mode (its position, goal and the
  obstacle window). It plans on the obstacles it has *seen so far* (unknown
  cells count as free) and uses the same stuck rule. A Python loop over
  agents: the reference baseline, not a fast one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from pogema.a_star_policy import AStarAgent as PogemaAStar
from torch import Tensor

from agents.base import BatchedEnvView, EpisodeStreams
from common.actions import NUM_ACTIONS


class RandomAgent(EpisodeStreams):
    """Uniform random actions; deterministic given (seed, episode seeds)."""

    def __init__(self, seed: int = 0, name: str = "Random"):
        super().__init__(seed)
        self.name, self.obs_radius = name, None

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        A = self.num_agents
        actions = np.zeros(self.num_envs * A, dtype=np.int64)
        for e in (~env.frozen).nonzero().flatten().tolist():
            actions[e * A:(e + 1) * A] = self.rngs[e].integers(NUM_ACTIONS, size=A)
        return torch.from_numpy(actions)


class GreedyAgent(EpisodeStreams):
    """Shortest-path step for every agent at once, random action when stuck (module docstring)."""

    def __init__(self, seed: int = 0, name: str = "Greedy"):
        super().__init__(seed)
        self.name, self.obs_radius = name, None
        self._last: Tensor | None = None  # (E, A, 2) positions when the agents last acted

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self._last = torch.full((num_envs, num_agents, 2), -1, dtype=torch.long)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        self._last[list(envs)] = -1

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        r = obs.shape[-1] // 2
        path = obs[:, 0].cpu()  # (N, w, w): -1 obstacle, +1 path cell
        # Neighbours of the centre in action order up, down, left, right: the only
        # path cell among them is the first cell of the shortest path.
        around = torch.stack([path[:, r - 1, r], path[:, r + 1, r], path[:, r, r - 1], path[:, r, r + 1]], 1)
        on_path = around > 0.5  # (N, 4)
        actions = torch.where(on_path.any(1), on_path.float().argmax(1) + 1, 0)  # (N,)
        pos = env.positions.cpu()
        stuck = (pos == self._last).all(-1) & (pos != env.goals.cpu()).any(-1) & env.active.cpu()  # (E, A)
        stuck &= ~env.frozen.cpu()[:, None]
        A = self.num_agents
        for e, a in stuck.nonzero().tolist():
            actions[e * A + a] = int(self.rngs[e].integers(NUM_ACTIONS))
        self._last = pos.clone()
        actions[env.frozen.cpu().repeat_interleave(A)] = 0
        return actions


class AStarAgent(EpisodeStreams):
    """pogema 1.4's AStarAgent per agent, on POMAPF-style inputs (module docstring)."""

    def __init__(self, seed: int = 0, name: str = "AStar"):
        super().__init__(seed)
        self.name, self.obs_radius = name, None
        self._agents: list[list[PogemaAStar]] = []

    def _fresh(self, e: int) -> list[PogemaAStar]:
        # pogema's agent draws its stuck-rule actions from default_rng(seed): derive one per agent.
        seeds = self.rngs[e].integers(2**31 - 1, size=self.num_agents)
        return [PogemaAStar(seed=int(s)) for s in seeds]

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self._agents = [self._fresh(e) for e in range(self.num_envs)]

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        for e in envs:
            self._agents[int(e)] = self._fresh(int(e))

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        self.check(env)
        A = self.num_agents
        walls = (obs[:, 0] < 0).cpu().numpy().astype(np.float32)  # (N, w, w) obstacle window
        pos, goals, active = env.positions.tolist(), env.goals.tolist(), env.active.tolist()
        actions = np.zeros(self.num_envs * A, dtype=np.int64)
        for e in (~env.frozen).nonzero().flatten().tolist():
            for a in range(A):
                if not active[e][a]:
                    continue
                view = {"xy": tuple(pos[e][a]), "target_xy": tuple(goals[e][a]),
                        "obstacles": walls[e * A + a], "agents": None}
                actions[e * A + a] = int(self._agents[e][a].act(view))
        return torch.from_numpy(actions)
