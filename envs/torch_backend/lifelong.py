"""Starts, goals and lifelong goal sequences exactly as pogema 1.4.0 draws them, on the CPU.

Resets are rare next to steps, so the torch backend builds each episode's
cells here with numpy and copies them to the device once.

Placement (no explicit cells), as `pogema.grid.Grid`:
* maps with '@'/'$'/'!' markers: `generate_from_possible_positions`: one
  `default_rng(seed)` shuffles the possible starts ('.' and '@', row-major), then
  the possible goals ('.' and '$'); agents take the first A of each;
* other maps: `generate_positions_and_targets_fast`, split in two: pogema's
  component labelling (`pogema.generator.bfs`, pure Python) is cached per map,
  the seeded shuffle and `pogema.generator.placing` run per episode.

Lifelong goals (`on_target='restart'`): `PogemaLifeLong` gives agent i its own
`default_rng(seeds[i])`, `seeds = default_rng(seed).integers(int32 max, size=A)`,
and on arrival draws `rng.choice(cells, 1)` again until the draw differs from
the agent's position, which is the goal just reached. `cells` is the agent's
connected component (row-major), or on marker maps the shuffled possible goals;
there pogema compares the draw (map coordinates) with the position in
bordered coordinates, i.e. it redraws when the draw equals goal + (r, r), and
that quirk is kept. So agent i's sequence depends only on its own RNG and its
previous goal, and is drawn ahead: `choice(cells, 1)` is `integers(0, n,
size=1)`, and numpy's bounded integers give the same stream in one call of size
k as in k calls of size 1 (tests check both facts).

How far ahead: goal k cannot be reached before step |start - g0|_1 + sum of
|g_j - g_j+1|_1, so goals are drawn until that bound exceeds the episode
length; the first goal beyond it is kept (it can be assigned on the last step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pogema import GridConfig
from pogema.generator import bfs, placing

from envs.config import MapSpec
from envs.errors import EnvConfigError
from envs.task import Task

_INT32_MAX = np.iinfo(np.int32).max


@dataclass
class _MapCache:
    """What pogema derives from one map, once."""

    labels: np.ndarray                 # (H, W) pogema's bfs labels: obstacle 1, components from 2
    sizes: list                        # component sizes by label (pogema's `components`)
    order: list                        # free cells (row, col), row-major
    members: dict                      # label -> (n, 2) cells of the component, row-major
    possible: tuple | None             # (starts, goals) lists of (row, col) on marker maps, else None
    mean_step: float                   # typical Manhattan distance between two goals (chunk size only)


def _map_cache(spec: MapSpec) -> _MapCache:
    c = GridConfig()
    grid = spec.obstacles.astype(np.int64)
    start_id = max(c.FREE, c.OBSTACLE) + 1
    sizes = bfs(grid, tuple(c.MOVES), start_id, free_cell=c.FREE)
    cols = grid.shape[1]
    order = [(x, y) for x in range(grid.shape[0]) for y in range(cols) if grid[x, y] >= start_id]
    flat = grid.reshape(-1)
    members = {int(i): np.stack(np.divmod(np.flatnonzero(flat == i), cols), axis=1)
               for i in np.unique(flat[flat >= start_id])}
    _, _, _, starts, goals = GridConfig.str_map_to_list(spec.text, c.FREE, c.OBSTACLE)
    possible = (starts, goals) if starts and goals else None
    cells = np.asarray(goals) if possible else max(members.values(), key=len)
    if len(cells) <= 1500:
        mean_step = float(np.abs(cells[:, None] - cells[None]).sum(axis=2).mean())
    else:  # E|X - Y| of two independent draws is about 1.13 standard deviations
        mean_step = float(1.13 * cells.std(axis=0).sum())
    return _MapCache(grid, sizes, order, members, possible, max(mean_step, 1.0))


class TaskCells:
    """Turns `Task`s into start/goal cells (and goal sequences) the way pogema would."""

    def __init__(self, maps: tuple[MapSpec, ...], num_agents: int, max_episode_steps: int, obs_radius: int):
        self._maps = maps
        self._cache: dict[int, _MapCache] = {}
        self.num_agents, self.max_steps, self.radius = num_agents, max_episode_steps, obs_radius
        self._shuffled_goals: dict[tuple[int, int], np.ndarray] = {}

    def _of(self, map_index: int) -> _MapCache:
        if map_index not in self._cache:
            self._cache[map_index] = _map_cache(self._maps[map_index])
        return self._cache[map_index]

    def starts_goals(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        """(A, 2) start and first goal cells (row, col) of `task`."""
        a = self.num_agents
        if task.starts is not None:
            return np.asarray(task.starts, dtype=np.int64), np.asarray(task.goals, dtype=np.int64)
        cache = self._of(task.map_index)
        rng = np.random.default_rng(task.seed)
        if cache.possible is not None:
            starts, goals = list(cache.possible[0]), list(cache.possible[1])
            rng.shuffle(starts)
            rng.shuffle(goals)
            if min(len(starts), len(goals)) < a:
                raise EnvConfigError(f"map {self._maps[task.map_index].name!r} marks {len(starts)} possible starts "
                                     f"and {len(goals)} possible goals ('@'/'$'), fewer than num_agents={a}")
            self._shuffled_goals[task.map_index, task.seed] = np.asarray(goals, dtype=np.int64)
            return np.asarray(starts[:a], dtype=np.int64), np.asarray(goals[:a], dtype=np.int64)
        order = list(cache.order)
        rng.shuffle(order)
        starts, goals = placing(order=order, components=list(cache.sizes), grid=cache.labels.copy(),
                                start_id=2, num_agents=a)
        if len(starts) != a or (-1, -1) in goals:
            raise EnvConfigError(f"pogema cannot place {a} agents with goals on map "
                                 f"{self._maps[task.map_index].name!r} (seed {task.seed}): too few cells in "
                                 "connected regions of two or more; use fewer agents or another map")
        return np.asarray(starts, dtype=np.int64), np.asarray(goals, dtype=np.int64)

    def goal_sequences(self, task: Task, starts: np.ndarray, goals: np.ndarray) -> list[np.ndarray]:
        """Per agent, the (k, 2) goals it may get in one episode of on_target='restart', first goal first.
        Call after `starts_goals(task)` (marker maps draw from the order that call shuffled)."""
        cache = self._of(task.map_index)
        seeds = np.random.default_rng(task.seed).integers(_INT32_MAX, size=self.num_agents).tolist()
        budgets = (self.max_steps - np.abs(starts - goals).sum(axis=1)).tolist()
        if cache.possible is not None:
            shuffled = self._shuffled_goals.pop((task.map_index, task.seed))
            pools, shift = [shuffled] * self.num_agents, self.radius
        else:
            pools, shift = [cache.members[label] for label in cache.labels[goals[:, 0], goals[:, 1]].tolist()], 0
        return [_draw(np.random.default_rng(seed), pool, first, budget, cache.mean_step, shift)
                for seed, pool, first, budget in zip(seeds, pools, goals.tolist(), budgets)]


def _draw(rng: np.random.Generator, cells: np.ndarray, first: list, budget: int, mean_step: float,
          shift: int) -> np.ndarray:
    """Goals [first, g1, g2, ...] drawn from `cells` (n, 2), up to the first whose cumulative Manhattan
    cost exceeds `budget`; a draw equal to the previous goal + (shift, shift) is drawn again."""
    goals, (pr, pc), spent = [first], first, 0
    chunk = int(1.5 * max(budget, 0) / mean_step) + 8
    while budget >= 0:
        for r, c in cells[rng.integers(0, len(cells), size=chunk)].tolist():
            if r == pr + shift and c == pc + shift:
                continue
            spent += abs(r - pr) + abs(c - pc)
            goals.append([r, c])
            pr, pc = r, c
            if spent > budget:
                break
        else:
            chunk *= 2
            continue
        break
    return np.array(goals, dtype=np.int64)
