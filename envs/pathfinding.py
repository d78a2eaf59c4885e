"""Shortest-path distances on a static map, shared by both backends.

`bfs_distances` gives the 4-connected BFS distance of every cell to one goal.
`DistanceStore` keeps such fields for many (map, goal) pairs in one flat,
padded buffer so that windows of them can be gathered for a whole batch of
agents with one indexing operation (see envs.observation).

`bfs_distances_many` computes many goals' fields at once (PIBT, the torch
backend); `successor_codes` turns fields into the path rule itself (which
neighbour the path takes from each cell) and `follow_codes` walks it (the
renderer). The torch backend packs those codes for its device in
envs/torch_backend/successors.py.
"""
from __future__ import annotations

import numpy as np

from envs.actions import STEP_ORDER

UNREACHABLE = -1


def bfs_distances(obstacles: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """Steps from every cell to `goal` (int32, UNREACHABLE for walls and cut-off cells).

    Example:
        >>> bfs_distances(np.array([[False, False, True]]), (0, 0)).tolist()
        [[0, 1, -1]]
    """
    free = ~obstacles
    dist = np.full(obstacles.shape, UNREACHABLE, dtype=np.int32)
    if not free[goal]:
        return dist
    frontier = np.zeros(obstacles.shape, dtype=bool)
    frontier[goal] = True
    dist[goal] = 0
    step = 0
    while frontier.any():
        step += 1
        grown = np.zeros_like(frontier)
        grown[1:] |= frontier[:-1]
        grown[:-1] |= frontier[1:]
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        frontier = grown & free & (dist == UNREACHABLE)
        dist[frontier] = step
    return dist


class DistanceStore:
    """Distance fields of (map, goal) pairs, padded by `pad` cells, in one growing flat buffer.

    Field k of map m occupies `buffer[offset : offset + rows_m * cols_m]` with row
    stride `cols_m` (padded sizes). Fields are computed on first use and kept.
    """

    def __init__(self, obstacle_maps: list[np.ndarray], pad: int):
        self.pad = pad
        self.shapes = [(o.shape[0] + 2 * pad, o.shape[1] + 2 * pad) for o in obstacle_maps]
        self._maps = obstacle_maps
        self._offsets: dict[tuple[int, int, int], int] = {}
        self._buffer = np.empty(1024, dtype=np.int32)
        self._used = 0

    @property
    def buffer(self) -> np.ndarray:
        """The filled part of the flat buffer (a view; valid until the next `offset` call)."""
        return self._buffer[: self._used]

    def offset(self, map_index: int, goal: tuple[int, int]) -> int:
        """Start of the padded field of `goal` (unpadded row, col) on map `map_index`."""
        key = (map_index, int(goal[0]), int(goal[1]))
        found = self._offsets.get(key)
        if found is not None:
            return found
        rows, cols = self.shapes[map_index]
        padded = np.full((rows, cols), UNREACHABLE, dtype=np.int32)
        p = self.pad
        padded[p:rows - p, p:cols - p] = bfs_distances(self._maps[map_index], key[1:])
        size = rows * cols
        if self._used + size > len(self._buffer):
            grown = np.empty(max(2 * len(self._buffer), self._used + size), dtype=np.int32)
            grown[: self._used] = self._buffer[: self._used]
            self._buffer = grown
        self._buffer[self._used: self._used + size] = padded.ravel()
        self._offsets[key] = self._used
        self._used += size
        return self._offsets[key]


# --------------------------------------------------------------------------- batched fields
def neighbour_table(obstacles: np.ndarray) -> np.ndarray:
    """(rows*cols, 4) flat index of the free up/down/left/right neighbour of each cell, -1 if none."""
    rows, cols = obstacles.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    table = np.full((rows * cols, 4), -1, dtype=np.int64)
    for k, (dr, dc) in enumerate(STEP_ORDER):
        nr, nc = r + dr, c + dc
        inside = (0 <= nr) & (nr < rows) & (0 <= nc) & (nc < cols)
        flat = np.where(inside, nr * cols + nc, 0)
        table[:, k] = np.where(inside & ~obstacles.reshape(-1)[flat], flat, -1)
    return table


def bfs_distances_many(obstacles: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """`bfs_distances` for many goals at once: (G, rows, cols) int32.

    A frontier BFS over (goal, cell) pairs: every pair is expanded once, so the
    cost is O(G * free cells) whatever the map's diameter.
    """
    rows, cols = obstacles.shape
    size, goals = rows * cols, np.asarray(goals, dtype=np.int64).reshape(-1, 2)
    nb = neighbour_table(obstacles)
    dist = np.full(len(goals) * size, UNREACHABLE, dtype=np.int32)
    start = goals[:, 0] * cols + goals[:, 1]
    ok = ~obstacles.reshape(-1)[start]
    frontier = (np.arange(len(goals)) * size + start)[ok]
    dist[frontier] = 0
    claim = np.zeros(len(dist), dtype=np.int64)
    step = 0
    while frontier.size:
        step += 1
        goal_base = frontier - frontier % size
        cand = nb[frontier % size]                                   # (K, 4)
        flat = (goal_base[:, None] + cand)[cand >= 0]
        flat = flat[dist[flat] == UNREACHABLE]
        dist[flat] = step
        claim[flat] = np.arange(len(flat))                           # keep one copy of each new cell
        frontier = flat[claim[flat] == np.arange(len(flat))]
    return dist.reshape(len(goals), rows, cols)


def successor_codes(obstacles: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """The path rule as a table: (G, rows, cols) int8, 1 + index in STEP_ORDER of the first
    neighbour one step closer to the goal, 0 on the goal and on cells that cannot reach it."""
    g, rows, cols = dist.shape
    nb = neighbour_table(obstacles)
    flat = np.concatenate([dist.reshape(g, -1), np.full((g, 1), UNREACHABLE, np.int32)], axis=1)
    d = flat[:, :-1]
    code = np.zeros((g, rows * cols), dtype=np.int8)
    for k in range(4):
        closer = (flat[:, nb[:, k]] == d - 1) & (d > 0) & (code == 0)   # nb -1 reads the UNREACHABLE column
        code[closer] = k + 1
    return code.reshape(g, rows, cols)


def follow_codes(codes: np.ndarray, start: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells of the path from `start` to the goal of one successor-code table (rows, cols), start
    excluded: the path rule as the observations draw it."""
    r, c = int(start[0]), int(start[1])
    cells = []
    while codes[r, c]:
        dr, dc = STEP_ORDER[codes[r, c] - 1]
        r, c = r + dr, c + dc
        cells.append((r, c))
    return cells
