"""Shortest-path distances on a static map, shared by both backends.

`bfs_distances` gives the 4-connected BFS distance of every cell to one goal.
`DistanceStore` keeps such fields for many (map, goal) pairs in one flat,
padded buffer so that windows of them can be gathered for a whole batch of
agents with one indexing operation (see envs.observation).
"""
from __future__ import annotations

import numpy as np

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
