"""Seeded synthetic maps (pogema text format: '.' free, '#' obstacle): room mazes, random grids, warehouses.

`maze_grid` makes the `lifelong` preset's training mazes (train/mazes.py, 2-cell corridors) and the
one-cell-corridor mazes of the env benchmark and tests; `random_grid` the plain random grids of the
equivalence tests; `warehouse_grid` shelf blocks between aisles, used with maps/lifelong.py's random
maps by the large `scale` collection (`scale_maps`: 128x128 and 256x256, eval's `scale` suite,
docs/scale.md). The benchmark-style lifelong maps are in maps/lifelong.py, the Bottleneck corridors
in maps/bottleneck.py.

>>> rows = maze_grid(seed=1_000_000, rooms=6).splitlines()
>>> len(rows), len(rows[0])
(17, 17)
>>> len(maze_grid(seed=0, rooms=11, room=1).splitlines())
21
"""
from __future__ import annotations

import numpy as np

from maps.lifelong import random_map_grid

SCALE_PREFIX = "scale"
SCALE_SEED = 6_000_000
"""Seed of the first scale map (map i: SCALE_SEED + i)."""
SCALE_SIDES = (128, 256)
SCALE_RANDOM_DENSITY = 0.2


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


def warehouse_grid(seed: int, rows: int, cols: int, margin: int = 4, shelf_rows: int = 2, aisle: int = 2,
                   shelf_length: tuple[int, int] = (6, 12), skip_fraction: float = 0.1) -> str:
    """A warehouse: a free `margin` all round, inside it rows of shelves (`shelf_rows` high, lengths drawn
    from `shelf_length`, inclusive) with `aisle`-wide aisles between shelf rows and between shelves;
    each shelf left out with probability `skip_fraction`. Every free cell reaches every other (shelves
    are rectangles surrounded by aisles).

    >>> rows = warehouse_grid(seed=0, rows=20, cols=30).splitlines()
    >>> len(rows), len(rows[0]), rows[4][:12]
    (20, 30, '....########')
    """
    if min(margin, shelf_rows, aisle) < 1 or not 1 <= shelf_length[0] <= shelf_length[1]:
        raise ValueError(f"margin={margin}, shelf_rows={shelf_rows}, aisle={aisle} must be >= 1 and "
                         f"shelf_length={shelf_length} a (low, high) pair with 1 <= low <= high")
    rng = np.random.default_rng(seed)
    wall = np.zeros((rows, cols), dtype=bool)
    for top in range(margin, rows - margin - shelf_rows + 1, shelf_rows + aisle):
        left = margin
        while True:
            length = int(rng.integers(shelf_length[0], shelf_length[1] + 1))
            if left + length > cols - margin:
                break
            if rng.random() >= skip_fraction:
                wall[top:top + shelf_rows, left:left + length] = True
            left += length + aisle
    return "\n".join("".join("#" if cell else "." for cell in row) for row in wall)


def scale_map_names() -> tuple[str, ...]:
    """Names of `scale_maps()`, in its order, without generating them: `scale-warehouse-128`, ..."""
    return tuple(f"{SCALE_PREFIX}-{kind}-{side}" for side in SCALE_SIDES for kind in ("warehouse", "random"))


def scale_maps() -> dict[str, str]:
    """The large lifelong maps (eval's `scale` suite, `srmt bench scaling`): per side in SCALE_SIDES a
    warehouse and a random map (density SCALE_RANDOM_DENSITY, cut-off cells filled); map i from seed
    SCALE_SEED + i."""
    maps = {}
    for i, name in enumerate(scale_map_names()):
        side, seed = int(name.rsplit("-", 1)[1]), SCALE_SEED + i
        maps[name] = (warehouse_grid(seed, side, side) if "-warehouse-" in name
                      else random_map_grid(seed, side, SCALE_RANDOM_DENSITY))
    return maps
