"""Seeded lifelong maps: wall mazes and random maps in the style of the POGEMA benchmark.

Two families, drawn with seeds disjoint from the benchmark's (0-127):

- `PREFIX-wallmaze-NNN`: straight wall segments of 3-7 cells from random
  points of the odd lattice of a 17-24 square, one-cell corridors between
  them (the style of the benchmark's Mazes);
- `PREFIX-random-NNN`: obstacles drawn independently with a density of
  5-30 % (the style of the benchmark's Random).

Cells cut off from the largest free region are filled, so every free cell
reaches every other and every generated goal is reachable. Training uses
seeds from `TRAIN_SEED_OFFSET` (train/mazes.py), the shipped held-out
`validation` collection (maps/data/lifelong-validation.yaml, eval's
`validation` suite) seeds from `VALIDATION_SEED_OFFSET`.

>>> grid = wall_maze_grid(seed=2_000_000, side=17, wall_fraction=0.3)
>>> len(grid.splitlines()), len(grid.splitlines()[0])
(17, 17)
"""
from __future__ import annotations

import numpy as np

from maps.grid import free_regions, grid_to_text

TRAIN_SEED_OFFSET = 2_000_000
"""Seed of training wall maze 0 (random map 0: + RANDOM_SEED_SHIFT)."""
VALIDATION_SEED_OFFSET = 4_000_000
"""Seed of validation wall maze 0 (random map 0: + RANDOM_SEED_SHIFT); never trained on."""
RANDOM_SEED_SHIFT = 500_000
VALIDATION_PREFIX = "lifelong-validation"
VALIDATION_MAPS = 32
"""Maps in the validation collection (half wall mazes, half random maps)."""


def keep_largest_region(obstacles: np.ndarray) -> np.ndarray:
    """`obstacles` with every free cell outside the largest 4-connected free region made an obstacle."""
    label, sizes = free_regions(obstacles)
    if not sizes:
        return obstacles.copy()
    return label != int(np.argmax(sizes))


def wall_maze_grid(seed: int, side: int, wall_fraction: float = 0.3) -> str:
    """Wall segments from random odd-lattice points until `wall_fraction` of a `side` x `side`
    square is wall, redrawn until the largest free region holds 90 % of the free cells (the
    rest is filled)."""
    rng = np.random.default_rng(seed)
    posts = np.arange(1, side - 1, 2)
    while True:
        wall = np.zeros((side, side), dtype=bool)
        while wall.mean() < wall_fraction:
            r, c = int(rng.choice(posts)), int(rng.choice(posts))
            length = 2 * int(rng.integers(1, 4)) + 1
            dr, dc = ((0, 1), (1, 0), (0, -1), (-1, 0))[int(rng.integers(4))]
            for k in range(length):
                if 0 <= r + k * dr < side and 0 <= c + k * dc < side:
                    wall[r + k * dr, c + k * dc] = True
        kept = keep_largest_region(wall)
        if (~kept).sum() >= 0.9 * (~wall).sum():
            return grid_to_text(kept)


def random_map_grid(seed: int, side: int, density: float) -> str:
    """A `side` x `side` square, each cell an obstacle with probability `density`; cut-off cells filled."""
    wall = np.random.default_rng(seed).random((side, side)) < density
    return grid_to_text(keep_largest_region(wall))


def lifelong_map_names(prefix: str, count: int) -> tuple[str, ...]:
    """Names of `lifelong_maps(prefix, ..., count)`, in its order, without generating them."""
    return (tuple(f"{prefix}-wallmaze-{i:03d}" for i in range(count - count // 2))
            + tuple(f"{prefix}-random-{i:03d}" for i in range(count // 2)))


def lifelong_maps(prefix: str, seed_offset: int, count: int) -> dict[str, str]:
    """`count` maps (wall mazes first, then random maps, half each), sides 17-24; map i's size,
    wall fraction or density and layout all come from seed `seed_offset + i`
    (random maps: `seed_offset + RANDOM_SEED_SHIFT + i`)."""
    names, maps = lifelong_map_names(prefix, count), {}
    for i in range(count - count // 2):
        seed = seed_offset + i
        rng = np.random.default_rng(seed)
        side, fraction = int(rng.integers(17, 25)), float(rng.uniform(0.2, 0.35))
        maps[names[i]] = wall_maze_grid(seed, side, fraction)
    for i in range(count // 2):
        seed = seed_offset + RANDOM_SEED_SHIFT + i
        rng = np.random.default_rng(seed)
        side, density = int(rng.integers(17, 25)), float(rng.uniform(0.05, 0.3))
        maps[names[count - count // 2 + i]] = random_map_grid(seed, side, density)
    return maps


def validation_maps() -> dict[str, str]:
    """The held-out validation collection (eval's `validation` suite)."""
    return lifelong_maps(VALIDATION_PREFIX, VALIDATION_SEED_OFFSET, VALIDATION_MAPS)
