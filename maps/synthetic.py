"""Seeded synthetic maps (pogema text format: '.' free, '#' obstacle): room mazes and random grids.

`maze_grid` makes the `lifelong` preset's training mazes (train/mazes.py, 2-cell corridors) and the
one-cell-corridor mazes of the env benchmark and tests; `random_grid` the plain random grids of the
equivalence tests. The benchmark-style lifelong maps are in maps/lifelong.py, the Bottleneck corridors
in maps/bottleneck.py.

>>> rows = maze_grid(seed=1_000_000, rooms=6).splitlines()
>>> len(rows), len(rows[0])
(17, 17)
>>> len(maze_grid(seed=0, rooms=11, room=1).splitlines())
21
"""
from __future__ import annotations

import numpy as np


def random_grid(seed: int, rows: int, cols: int, density: float = 0.3) -> str:
    """Each cell an obstacle with probability `density`."""
    cells = np.random.default_rng(seed).random((rows, cols)) < density
    return "\n".join("".join("#" if c else "." for c in row) for row in cells)


def maze_grid(seed: int, rooms: int, loop_fraction: float = 0.25, room: int = 2) -> str:
    """A maze of `rooms` x `rooms` square rooms as a pogema grid string ('.' free, '#' wall): a randomised
    depth-first maze over the rooms (1-cell walls between them), then each wall the maze left between
    two neighbouring rooms knocked out with probability `loop_fraction`, so that agents can pass.

    Args:
        seed: RNG seed; the same seed always gives the same maze.
        rooms: rooms per side; the map side is (room + 1) * rooms - 1.
        loop_fraction: chance that a closed wall between neighbouring rooms is opened.
        room: side of a room, the corridor width (2: the `lifelong` training mazes; 1: one-cell corridors).
    """
    if rooms < 2 or room < 1:
        raise ValueError(f"rooms={rooms} must be >= 2 and room={room} >= 1")
    rng = np.random.default_rng(seed)
    pitch = room + 1
    side = pitch * rooms - 1
    wall = np.ones((side, side), dtype=bool)
    for r in range(rooms):
        for c in range(rooms):
            wall[r * pitch:r * pitch + room, c * pitch:c * pitch + room] = False

    def open_between(a: tuple[int, int], b: tuple[int, int]) -> None:
        (r0, c0), (r1, c1) = a, b
        if r0 == r1:  # horizontal neighbours: the wall column between them
            col = max(c0, c1) * pitch - 1
            wall[r0 * pitch:r0 * pitch + room, col] = False
        else:
            row = max(r0, r1) * pitch - 1
            wall[row, c0 * pitch:c0 * pitch + room] = False

    visited = np.zeros((rooms, rooms), dtype=bool)
    stack = [(int(rng.integers(rooms)), int(rng.integers(rooms)))]
    visited[stack[0]] = True
    closed = []
    while stack:
        r, c = stack[-1]
        neighbours = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                      if 0 <= r + dr < rooms and 0 <= c + dc < rooms and not visited[r + dr, c + dc]]
        if not neighbours:
            stack.pop()
            continue
        nxt = neighbours[int(rng.integers(len(neighbours)))]
        open_between((r, c), nxt)
        visited[nxt] = True
        stack.append(nxt)
    for r in range(rooms):
        for c in range(rooms):
            for nxt in ((r + 1, c), (r, c + 1)):
                if nxt[0] < rooms and nxt[1] < rooms:
                    closed.append(((r, c), nxt))
    for a, b in closed:
        if rng.random() < loop_fraction:
            open_between(a, b)
    return "\n".join("".join("#" if cell else "." for cell in row) for row in wall)
