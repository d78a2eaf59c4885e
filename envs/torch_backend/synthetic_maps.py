"""Seeded map generators for benchmarks and equivalence tests (pogema text format: '.' free, '#' obstacle)."""
from __future__ import annotations

import numpy as np


def random_grid(seed: int, rows: int, cols: int, density: float = 0.3) -> str:
    """Each cell an obstacle with probability `density`."""
    cells = np.random.default_rng(seed).random((rows, cols)) < density
    return "\n".join("".join("#" if c else "." for c in row) for row in cells)


def maze_grid(seed: int, size: int, extra_openings: float = 0.1) -> str:
    """A `size` x `size` maze: depth-first corridors one cell wide on even rows/cols, plus
    a fraction `extra_openings` of the remaining walls removed so that it has cycles."""
    rng = np.random.default_rng(seed)
    wall = np.ones((size, size), dtype=bool)
    rooms = [(r, c) for r in range(0, size, 2) for c in range(0, size, 2)]
    stack = [rooms[rng.integers(len(rooms))]]
    wall[stack[0]] = False
    while stack:
        r, c = stack[-1]
        options = [(r + dr, c + dc) for dr, dc in ((-2, 0), (2, 0), (0, -2), (0, 2))
                   if 0 <= r + dr < size and 0 <= c + dc < size and wall[r + dr, c + dc]]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        wall[(r + nr) // 2, (c + nc) // 2] = wall[nr, nc] = False
        stack.append((nr, nc))
    walls = np.argwhere(wall)
    for r, c in walls[rng.random(len(walls)) < extra_openings]:
        wall[r, c] = False
    return "\n".join("".join("#" if c else "." for c in row) for row in wall)
