"""Livelock escape: a breadth-first search over the joint configurations of a small group of agents.

One-step PIBT has no memory: in narrow passages two agents can push each other back and forth for ever
(or wait in front of each other), and PIBT's guarantee that the most urgent agent progresses needs a graph
where every pair of neighbouring cells lies on a cycle, which dead ends and one-cell corridors are not.
A search over whole configurations has no such blind spot: it is complete. `escape_plan` searches the
joint moves of a group of g agents (the others stand still as obstacles) breadth first, one layer of
configurations at a time with numpy (every combination of the agents' five moves without vertex or swap
conflicts), in a box around the group, until a configuration makes progress: some agent of the group on
its goal, or the stuck agent nearer its goal than it ever was since it got that goal. Of the configurations
of that layer that make progress it takes the one nearest the goals (sum of distances). Breadth first, the
plan found is a shortest one; within its horizon and budget the search finds a plan whenever one exists
(complete over that bounded horizon), and it returns None, never hangs, when the budget runs out first.

Cost: at most 5^g joint moves per configuration (built agent by agent, so conflicting ones are dropped
early), and at most `budget` configurations kept (g cells each), whatever the number of agents in the
environment.
"""
from __future__ import annotations

import numpy as np

from planners.pathfinding import neighbour_table

BUDGET = 20_000
"""Default budget of one search: configurations kept (bounds its memory and time)."""
HORIZON = 16
"""Default horizon: the longest plan searched for, in steps."""
MARGIN = 6
"""The search runs in the group's bounding box widened by this many cells (the rest of the map is a wall
to it): local, and its cells few enough to number a configuration of 4 agents with one int64."""


def escape_plan(obstacles: np.ndarray, positions: np.ndarray, goals: np.ndarray, dist: np.ndarray, stuck: int,
                best: int, budget: int = BUDGET, horizon: int = HORIZON) -> np.ndarray | None:
    """A shortest conflict-free plan of a group of agents that makes progress (module docstring).

    Args:
        obstacles: (R, C) bool, the map with every agent outside the group marked as an obstacle.
        positions: (g, 2) the group's cells, distinct and free; goals: (g, 2) their goals.
        dist: (g, R, C) int distances to each agent's goal (-1 unreachable).
        stuck: index in the group of the agent that must progress; best: its best distance so far.
        budget: configurations kept at most; horizon: steps at most.

    Returns:
        (T + 1, g, 2) int64, the group's cells from `positions` to the first configuration that makes
        progress (T >= 1), or None when there is none within the horizon, the budget and the box.
    """
    positions, goals = np.asarray(positions, dtype=np.int64), np.asarray(goals, dtype=np.int64)
    lo = np.maximum(positions.min(0) - MARGIN, 0)
    hi = np.minimum(positions.max(0) + MARGIN + 1, obstacles.shape)
    box = obstacles[lo[0]:hi[0], lo[1]:hi[1]]
    rows, cols = box.shape
    g = len(positions)
    if float(box.size) ** g >= 2.0 ** 62:
        raise ValueError(f"a group of {g} agents spread over a {rows}x{cols} box cannot be searched; "
                         f"use fewer agents or a smaller spread")
    free = ~box.reshape(-1)
    moves = np.column_stack([np.where(free, np.arange(box.size), -1), neighbour_table(box)])  # (cells, 5)
    inside = ((goals >= lo) & (goals < hi)).all(1)
    goal = np.where(inside, (goals - lo) @ [cols, 1], -1)
    near = dist[:, lo[0]:hi[0], lo[1]:hi[1]].reshape(g, -1).astype(np.int64)
    stuck_dist = near[stuck]
    dist_sum = np.where(near >= 0, near, box.size).T                         # (cells, g): ranks ends of a layer
    radix = box.size ** np.arange(g, dtype=np.int64)
    start = ((positions - lo) @ [cols, 1])[None]                               # (1, g) flat cells of the box
    layers, parents = [start], [np.zeros(1, dtype=np.int64)]
    agents = np.arange(g)
    seen = start @ radix
    for _ in range(horizon):
        configs, parent, seen = _expand(layers[-1], moves, radix, seen)
        if not len(configs):
            return None
        d = stuck_dist[configs[:, stuck]]
        progress = (configs == goal).any(1) | ((d >= 0) & (d < best))
        layers.append(configs)
        parents.append(parent)
        if progress.any():
            total = np.where(progress, dist_sum[configs, agents].sum(1), np.iinfo(np.int64).max)
            flat = _path(layers, parents, int(np.argmin(total)))
            return np.stack(np.divmod(flat, cols), axis=-1) + lo
        if len(seen) > budget:
            return None
    return None


def _expand(frontier: np.ndarray, moves: np.ndarray, radix: np.ndarray, seen: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The next layer: every configuration one conflict-free joint step from `frontier` (F, g) whose key
    (cells in base `radix`) is not in `seen` (sorted), the index in `frontier` of the configuration it came
    from, and `seen` with the new keys. Joint moves are built agent by agent, dropping a partial one as soon
    as it has a vertex or swap conflict."""
    origin = np.arange(len(frontier))
    nxt = np.zeros((len(frontier), 0), dtype=np.int64)
    for i in range(frontier.shape[1]):
        cand = moves[frontier[origin, i]]                                        # (K, 5) agent i's moves
        ok = cand >= 0
        for j in range(i):
            ok &= cand != nxt[:, j:j + 1]                                        # vertex
            ok &= ~((cand == frontier[origin, j:j + 1]) & (nxt[:, j:j + 1] == frontier[origin, i:i + 1]))  # swap
        k, a = ok.nonzero()
        origin, nxt = origin[k], np.column_stack([nxt[k], cand[k, a]])
    keys, first = np.unique(nxt @ radix, return_index=True)
    fresh = ~np.isin(keys, seen, assume_unique=True)
    return nxt[first[fresh]], origin[first[fresh]], np.union1d(seen, keys[fresh])


def _path(layers: list[np.ndarray], parents: list[np.ndarray], last: int) -> np.ndarray:
    """The configurations (flat cells) from the first layer to configuration `last` of the last one, (T + 1, g)."""
    path = []
    for configs, parent in zip(reversed(layers), reversed(parents)):
        path.append(configs[last])
        last = int(parent[last])
    return np.stack(path[::-1])
