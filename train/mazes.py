"""Seeded training maps for the lifelong presets, written as one map collection (YAML).

The lifelong presets train on maps this module generates, never on the
evaluation suites. Three families, each with its own seed range (the POGEMA
benchmark maps come from other generators with seeds 0-127, so the sets are
disjoint by construction):

- `train-maze-NNN` (`lifelong`, seeds 1,000,000+): a randomised depth-first
  maze over a grid of 2x2 rooms separated by 1-cell walls, a fraction of the
  remaining walls knocked out so that agents can pass each other (loops);
- `train-wallmaze-NNN` and `train-random-NNN` (`lifelong-cpu`, 128 each,
  seeds 2,000,000+ and 2,500,000+): benchmark-style wall mazes and random
  maps from maps/lifelong.py, whose seeds 4,000,000+ make the held-out
  `validation` suite of eval/.

No map has an outer border (pogema treats the outside as obstacles).

>>> rows = maze_grid(seed=1_000_000, rooms=6).splitlines()
>>> len(rows), len(rows[0])
(17, 17)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.config import EnvConfig
from maps.files import collection_yaml
from maps.lifelong import TRAIN_SEED_OFFSET, lifelong_maps

SEED_OFFSET = 1_000_000
"""Seed of training maze 0."""
NAME_PREFIX = "train-maze-"
GENERATED_MAP_PREFIX = "train-"
"""Map patterns starting with this name maps that the training commands generate (`with_training_maps`)."""
ROOM = 2
"""Side of a room (corridor width)."""


def maze_grid(seed: int, rooms: int, loop_fraction: float = 0.25) -> str:
    """A maze of `rooms` x `rooms` rooms as a pogema grid string ('.' free, '#' wall).

    Args:
        seed: RNG seed; the same seed always gives the same maze.
        rooms: rooms per side; the map side is 3 * rooms - 1.
        loop_fraction: fraction of the walls left by the maze that are removed.
    """
    if rooms < 2:
        raise ValueError(f"rooms={rooms} must be >= 2")
    rng = np.random.default_rng(seed)
    side = (ROOM + 1) * rooms - 1
    wall = np.ones((side, side), dtype=bool)
    for r in range(rooms):
        for c in range(rooms):
            wall[r * 3:r * 3 + ROOM, c * 3:c * 3 + ROOM] = False

    def open_between(a: tuple[int, int], b: tuple[int, int]) -> None:
        (r0, c0), (r1, c1) = a, b
        if r0 == r1:  # horizontal neighbours: the wall column between them
            col = max(c0, c1) * 3 - 1
            wall[r0 * 3:r0 * 3 + ROOM, col] = False
        else:
            row = max(r0, r1) * 3 - 1
            wall[row, c0 * 3:c0 * 3 + ROOM] = False

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


def training_mazes(count: int = 40, min_rooms: int = 6, max_rooms: int = 11) -> dict[str, str]:
    """`count` mazes named train-maze-000..., sides from 3*min_rooms-1 to 3*max_rooms-1 (17..32)."""
    mazes = {}
    for i in range(count):
        seed = SEED_OFFSET + i
        rooms = min_rooms + i % (max_rooms - min_rooms + 1)
        mazes[f"{NAME_PREFIX}{i:03d}"] = maze_grid(seed, rooms)
    return mazes


def training_maps() -> dict[str, str]:
    """Every generated training map: the `lifelong` mazes and the `lifelong-cpu` wall mazes and
    random maps (128 of each family)."""
    return {**training_mazes(), **lifelong_maps("train", TRAIN_SEED_OFFSET, 256)}


def with_training_maps(env: EnvConfig, maps_dir: Path) -> EnvConfig:
    """`env` reading its maps from `maps_dir`, with the training maps written there, when its map
    pattern names generated maps (and it names no other maps directory); else `env` unchanged."""
    if not (env.map_pattern or "").startswith(GENERATED_MAP_PREFIX) or env.maps_dir not in (None, str(maps_dir)):
        return env
    write_training_mazes(maps_dir)
    return env.replace(maps_dir=str(maps_dir))


def write_training_mazes(maps_dir: Path) -> Path:
    """Write every training map as `maps_dir/train-mazes.yaml` (same content on every call)."""
    maps_dir.mkdir(parents=True, exist_ok=True)
    path = maps_dir / "train-mazes.yaml"
    header = ("# training maps of the lifelong presets, generated by train/mazes.py; "
              "not an evaluation suite.\n")
    text = header + collection_yaml(training_maps())
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path
