"""The SRMT paper's observations (three channels per agent) for E environments x A agents, in torch.

Channels of the (2r+1)x(2r+1) window centred on each agent:
  0. obstacles as -1, plus the guidance (`EnvConfig.guidance`, below);
  1. active agents (the agent itself at the centre);
  2. goals of the *other* active agents.
Rows of agents that are not active (arrived in `finish` mode) are all zeros.

Cells outside the map look as in pogema 1.4: a one-cell ring of obstacles
around the map, free cells beyond it. The path follows the BFS distance field
of the goal: from the agent, step to the first neighbour (order up, down,
left, right, pogema's action order) whose distance is one less, until the
goal is reached or the path leaves the window.

Guidance (what channel 0 adds to the obstacles):
  path             +1 on the cells of that path inside the window (the agent's
                   own cell excluded, the goal included): the paper's channel.
  cost-to-go       every free cell reachable from the goal carries
                   (d_max - d) / (d_max - d_min), d its BFS distance to the goal
                   and d_min, d_max the least and largest such distance in the
                   window (agent's own cell included): 1 on the window's cells
                   nearest the goal (the goal itself when it is in view), 0 on the
                   farthest, and 1 where the window shows one distance only; free
                   cells that cannot reach the goal (and cells off the map) carry
                   0 (`cost_to_go`). A CostTracer-style input (MATS-LP).
  congestion-path  +1 on a path walked as above, except that among the
                   neighbours one step closer the first one (same order) that no
                   active agent stands on now is taken, and the first closer one
                   when every closer one is taken (`walk_path` with `occupied`): the
                   path bends around agents in its way whenever an equally short
                   way exists, at the cost of one distance lookup per step.
The next path cell (the `directional` reward's target) is the first cell of the
walked path: the plain path's for path and cost-to-go, the bent one's for
congestion-path.

The pogema backend calls `Observer.observe`; the torch backend's
`TableObserver` computes the same windows from precomputed tables, and
tests/test_torch_backend_observe.py and tests/test_guidance.py check that the
two agree. Tests check `Observer` itself against an independent BFS.
"""
from __future__ import annotations

from typing import get_args

import numpy as np
import torch
from torch import Tensor

from common.actions import ACTION_STEPS
from envs.config import PathGuidance
from envs.errors import EnvConfigError
from planners.pathfinding import DistanceStore

MOVES = torch.tensor(ACTION_STEPS)
"""pogema's actions (common/actions.py) as a (5, 2) tensor of (d_row, d_col)."""


def pad_like_pogema(obstacles: np.ndarray, pad: int) -> np.ndarray:
    """Map padded by `pad` cells: an obstacle ring right around it, free cells beyond."""
    rows, cols = obstacles.shape
    out = np.zeros((rows + 2 * pad, cols + 2 * pad), dtype=np.float32)
    out[pad - 1: pad + rows + 1, pad - 1: pad + cols + 1] = 1.0
    out[pad: pad + rows, pad: pad + cols] = obstacles
    return out


def window_index(base: Tensor, stride: Tensor, rows: Tensor, cols: Tensor, radius: int) -> Tensor:
    """Flat indices [N, w, w] of the windows of `radius` around (rows, cols) of fields at `base`."""
    span = torch.arange(-radius, radius + 1, device=base.device)
    r = (rows[:, None] + span)[:, :, None]                             # (N, w, 1)
    c = (cols[:, None] + span)[:, None, :]                             # (N, 1, w)
    return base[:, None, None] + r * stride[:, None, None] + c        # (N, w, w)


def check_guidance(guidance: str) -> None:
    """EnvConfigError unless `guidance` is one of `PathGuidance`."""
    if guidance not in get_args(PathGuidance):
        raise EnvConfigError(f"guidance={guidance!r} is not one of {list(get_args(PathGuidance))}")


class Observer:
    """Builds observations and next path cells for E envs x A agents on a fixed set of maps, channel 0
    with the `guidance` of the module docstring."""

    def __init__(self, maps: list[np.ndarray], radius: int, num_envs: int, num_agents: int,
                 device: torch.device | str = "cpu", guidance: str = "path"):
        check_guidance(guidance)
        self.guidance = guidance
        self.radius, self.pad = radius, radius + 1
        self.num_envs, self.num_agents = num_envs, num_agents
        self.device = torch.device(device)
        padded = [pad_like_pogema(m, self.pad) for m in maps]
        sizes = [p.size for p in padded]
        self._map_base = torch.tensor(np.cumsum([0] + sizes[:-1]), device=self.device)
        self._map_stride = torch.tensor([p.shape[1] for p in padded], device=self.device)
        self._obstacles = torch.from_numpy(np.concatenate([p.ravel() for p in padded])).to(self.device)
        self._cells_per_env = max(sizes)
        self.distances = DistanceStore(maps, self.pad)
        self._dist_device: Tensor | None = None
        rows = num_envs * num_agents
        self._env_of_row = torch.arange(num_envs, device=self.device).repeat_interleave(num_agents)
        self._map_of_env = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._field_offset = np.zeros(rows, dtype=np.int64)

    def set_map(self, env: int, map_index: int) -> None:
        self._map_of_env[env] = map_index

    def set_goals(self, env: int, goals: np.ndarray) -> None:
        """Goals (A, 2) of env `env` in map coordinates; computes missing distance fields."""
        m = int(self._map_of_env[env])
        start = env * self.num_agents
        for a, goal in enumerate(goals):
            self._field_offset[start + a] = self.distances.offset(m, (int(goal[0]), int(goal[1])))

    def _distance_buffer(self) -> Tensor:
        buffer = self.distances.buffer
        if self.device.type == "cpu":
            return torch.from_numpy(buffer)
        if self._dist_device is None or self._dist_device.numel() != buffer.size:
            self._dist_device = torch.from_numpy(buffer).to(self.device)
        return self._dist_device

    def observe(self, positions: Tensor, goals: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        """Observations for all rows and each agent's next cell on its shortest path.

        Args:
            positions, goals: (E, A, 2) long, map coordinates (row, col).
            active: (E, A) bool, agents still on the grid.
        Returns:
            obs: (E*A, 3, w, w) float32, row e*A + a.
            next_cell: (E, A, 2) long, the first cell of the path (-1 where there is none).
        """
        E, A, r, p = self.num_envs, self.num_agents, self.radius, self.pad
        pos = positions.reshape(-1, 2) + p                                   # (N, 2) padded coords
        goal = goals.reshape(-1, 2) + p
        act = active.reshape(-1)
        m = self._map_of_env[self._env_of_row]
        stride = self._map_stride[m]
        obstacle_win = self._obstacles[window_index(self._map_base[m], stride, pos[:, 0], pos[:, 1], r)]

        env_base = self._env_of_row * self._cells_per_env
        cell = env_base + pos[:, 0] * stride + pos[:, 1]
        goal_cell = env_base + goal[:, 0] * stride + goal[:, 1]
        occupancy = torch.zeros(E * self._cells_per_env, device=self.device)
        occupancy[cell[act]] = 1.0
        goal_count = torch.zeros_like(occupancy)
        goal_count.index_add_(0, goal_cell[act], torch.ones_like(goal_cell[act], dtype=torch.float32))
        local = window_index(env_base, stride, pos[:, 0], pos[:, 1], r)
        agents_win = occupancy[local]
        own_goal = (local == goal_cell[:, None, None]).float()
        others_goals = (goal_count[local] - own_goal).clamp_(0.0, 1.0)

        field = torch.from_numpy(self._field_offset).to(self.device)
        dist = self._distance_buffer()[window_index(field, stride, pos[:, 0], pos[:, 1], r + 1)]
        occupied = None
        if self.guidance == "congestion-path":
            occupied = occupancy[window_index(env_base, stride, pos[:, 0], pos[:, 1], r + 1)] > 0
        path, first = walk_path(dist, r, occupied)
        guide = cost_to_go(dist[:, 1:-1, 1:-1]) if self.guidance == "cost-to-go" else path.float()

        obs = torch.stack([guide - obstacle_win, agents_win, others_goals], dim=1)
        obs *= act[:, None, None, None]
        next_cell = torch.where(first[:, :1] >= 0, first + pos - p - (r + 1), torch.full_like(first, -1))
        return obs, next_cell.reshape(E, A, 2)


def cost_to_go(dist: Tensor) -> Tensor:
    """The cost-to-go guidance of windows of distances (N, w, w) int (-1 unreachable): (N, w, w) float32,
    (s - (d - d_min)) / s with s = max(d_max - d_min, 1) on cells with d >= 0 (d_min, d_max over those of
    the window), 0 elsewhere: (d_max - d) / (d_max - d_min), or 1 where the window shows one distance only.

    >>> cost_to_go(torch.tensor([[[2, 3], [-1, 4]], [[-1, 7], [-1, -1]]])).tolist()
    [[[1.0, 0.5], [0.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]]
    """
    flat = dist.reshape(dist.shape[0], -1)                                  # (N, w*w): one-dim reductions are fast
    d_min = (flat & torch.iinfo(flat.dtype).max).amin(dim=1, keepdim=True)  # (N, 1); -1 & max = max: never least
    d_max = flat.amax(dim=1, keepdim=True)                                  # -1 only where no cell counts
    span = (d_max - d_min).clamp(min=1)
    return ((span + d_min - flat) * (flat >= 0)).float().div_(span.float()).view(dist.shape)


def walk_path(dist: Tensor, radius: int, occupied: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Follow a distance field from the centre of each window.

    Args:
        dist: (N, w+2, w+2) int distances to the goal (-1 unreachable), window of radius r+1.
        occupied: None (the path rule: the first neighbour one step closer), or (N, w+2, w+2) bool cells an
            agent stands on (congestion-path: the first closer neighbour not occupied, else the first closer).
    Returns:
        path: (N, w, w) bool cells of the path inside the radius-r window.
        first: (N, 2) window coordinates of the first path cell, -1 if the agent is
            on its goal or cannot reach it.
    """
    n, size = dist.shape[0], dist.shape[1]
    rows = torch.arange(n, device=dist.device)
    centre = radius + 1
    cur = torch.full((n, 2), centre, dtype=torch.long, device=dist.device)
    d = dist[:, centre, centre]
    alive = d > 0
    path = torch.zeros(n, size, size, dtype=torch.bool, device=dist.device)
    steps = MOVES[1:].to(dist.device)                                       # (4, 2) up, down, left, right
    first = torch.full((n, 2), -1, dtype=torch.long, device=dist.device)
    for step in range((2 * radius + 1) ** 2):
        nb = (cur[:, None, :] + steps).clamp_(0, size - 1)                  # (N, 4, 2)
        nb_dist = dist[rows[:, None], nb[..., 0], nb[..., 1]]               # (N, 4)
        closer = nb_dist == (d - 1)[:, None]                                # (N, 4)
        if occupied is None:
            choice = closer.float().argmax(dim=1)                           # first neighbour one step closer
        else:                                                               # first free closer, else first closer
            free = ~occupied[rows[:, None], nb[..., 0], nb[..., 1]]
            choice = (closer.float() + (closer & free).float()).argmax(dim=1)
        cur = nb[rows, choice]
        if step == 0:
            first = torch.where(alive[:, None], cur, first)
        alive = alive & (cur >= 1).all(dim=1) & (cur <= size - 2).all(dim=1)
        path[rows[alive], cur[alive, 0], cur[alive, 1]] = True
        d = d - 1
        alive = alive & (d > 0)
        if not bool(alive.any()):
            break
    return path[:, 1:-1, 1:-1], first
