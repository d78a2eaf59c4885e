"""Episode tasks: which map, where agents start, where their goals are, which seed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.config import ResolvedEnv, is_lifelong
from envs.relay import bottleneck_cells
from maps.bottleneck import parse_bottleneck_length

Cell = tuple[int, int]


@dataclass(frozen=True)
class Task:
    """One episode's setup. `starts`/`goals` None: pogema places agents from `seed`."""

    map_index: int
    seed: int
    starts: tuple[Cell, ...] | None = None
    goals: tuple[Cell, ...] | None = None


def task_for_seed(resolved: ResolvedEnv, map_index: int, seed: int) -> Task:
    """The task of `seed` on a map: explicit cells, the Bottleneck sampler (maps/bottleneck.py), or pogema's."""
    cfg = resolved.config
    if cfg.starts is not None:
        return Task(map_index, seed, cfg.starts, cfg.goals)
    length = parse_bottleneck_length(resolved.maps[map_index].name)
    if length is not None and cfg.num_agents == 2 and not is_lifelong(cfg.on_target):
        starts, goals = bottleneck_cells(cfg.task, length, seed)
        return Task(map_index, seed, tuple(map(tuple, starts)), tuple(map(tuple, goals)))
    return Task(map_index, seed)


class TaskSampler:
    """Draws the tasks of one environment slot: a map (uniform) and a fresh seed per episode."""

    def __init__(self, resolved: ResolvedEnv, seed: int, slot: int):
        self.resolved = resolved
        self.reseed(seed, slot)

    def reseed(self, seed: int, slot: int) -> None:
        self._rng = np.random.default_rng([seed, slot])
        self._first_seed = seed + slot

    def __call__(self) -> Task:
        if self._first_seed is not None:
            # The first episode of slot s uses seed config.seed + s, so a single env is reproducible by its seed.
            seed, self._first_seed = self._first_seed, None
        else:
            seed = int(self._rng.integers(2**31 - 1))
        map_index = int(self._rng.integers(len(self.resolved.maps)))
        return task_for_seed(self.resolved, map_index, seed)
