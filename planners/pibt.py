"""PIBT: Priority Inheritance with Backtracking (Okumura, Machida, Défago and Tamura, 2019/2022).

A one-step-ahead, centralised MAPF planner. Every agent has a priority; each
step the agents pick their next cell in decreasing priority order:

- an agent ranks its candidate cells (its free neighbours and its own cell) by
  distance to its goal and takes the first one that nobody has reserved for the
  next step and that is not its parent's current cell (no swaps);
- if an agent that has not planned yet stands on that cell, it *inherits* the
  planner's priority and plans right away, with the planner as its parent: it
  has to make room;
- if that agent cannot move anywhere it stays (so the cell stays taken) and the
  planner *backtracks* to its next candidate; an agent whose candidates all fail
  stays and reports failure to its parent.

An agent planned from the top level never fails (its own cell is always free to
it), so every step yields moves without vertex or swap conflicts; agents may
follow each other into cells vacated in the same step, and cycles of three or
more agents may rotate. Priorities grow by one each step an agent is not at its
goal and drop to a unique tie-breaker in [0, 1) when it arrives, so every agent
eventually becomes the most urgent one and reaches its goal. That completeness
needs a connected graph: an agent whose goal cannot be reached from its cell
waits there and only moves to make room for others. The env config refuses
explicit tasks with shared or unreachable cells (envs/config.py), and pogema
draws every goal in its agent's region, so this happens only on hand-made
tasks.

`pibt_actions` is one step of the algorithm on plain arrays; `PIBTPlanner` runs
it on every environment of a batched env (true positions and goals, distance
tables cached per map and goal). `agents.pibt.PIBTAgent` is the evaluation
baseline built on it, `train/imitation.py` the expert it plays for imitation.

The planning runs compiled (planners/pibt_jit.py: `shielded_actions`, and
`PIBTPlanner`'s ranking straight from the distance tables); the plain Python
functions here (`shielded_actions_reference`, `candidate_cells` +
`DistanceCache.at` + `rank_by_distance`) are their specification, and
tests/test_planner_jit.py checks that both choose identical moves.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from common.actions import ACTION_STEPS, STAY
from planners.pathfinding import UNREACHABLE, FieldSlots, bfs_distances_many
from planners.pibt_jit import distance_ranking, plan_moves

UINT16_MAX = int(np.iinfo(np.uint16).max)
"""An unreachable cell in a uint16 table."""
CANDIDATE_ACTIONS = np.array([1, 2, 3, 4, STAY])
"""The candidate actions in their tie-break order: up, down, left, right, stay."""
CANDIDATE_STEPS = np.array(ACTION_STEPS)[CANDIDATE_ACTIONS]
"""(d_row, d_col) of each candidate (common/actions.py)."""
CANDIDATE_SLOT = np.argsort(CANDIDATE_ACTIONS)
"""action code -> its index in CANDIDATE_ACTIONS."""
CACHE_BYTES = 4 << 30
"""DistanceCache's budget per map: 4 GiB of distance tables (uint16 where they fit: 32,768 tables of a
256x256 map), beyond which the least recently used tables not needed now are evicted."""
CHUNK = 256
"""Goals per BFS batch (bounds the BFS's working memory)."""
BATCH_AGENTS = 4096
"""PIBTPlanner plans the envs on one map together, in batches of at most this many agents (and at most the
tables the cache holds at once), so the cost per call is paid once per batch, not once per env."""
BATCH_CELLS = 1 << 22
"""... and at most this many cells of their grids in all (the kernel's occupancy and reservation grids)."""


def distance_preferences(obstacles: np.ndarray, positions: np.ndarray, dist: np.ndarray,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """PIBT's own preference order: (A, 5) action codes, nearest to the goal first.

    Args:
        obstacles: (R, C) bool, True = obstacle; cells outside the grid count as obstacles.
        positions: (A, 2) int (row, col).
        dist: (A, R, C) int, dist[i, r, c] = steps from (r, c) to agent i's goal, negative if unreachable.
        rng: breaks ties between equally distant cells at random; None: up, down, left, right, stay.
    """
    r, c, _ = candidate_cells(obstacles, positions)
    return rank_by_distance(dist[np.arange(len(positions))[:, None], r, c], obstacles.size, rng)


def rank_by_distance(d: np.ndarray, cells: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """`distance_preferences` from the distances d (A, 5) of each agent's CANDIDATE_ACTIONS cells (negative:
    unreachable) on a map of `cells` cells."""
    d = np.asarray(d, dtype=np.int64)
    key = np.where(d >= 0, d, cells)                                                 # unreachable: last
    key[:, 4] = np.where(d[:, 4] >= 0, key[:, 4], cells - 1)        # goal out of reach: wait unless pushed
    return CANDIDATE_ACTIONS[np.lexsort((tie_keys(len(d), rng), key))]


def tie_keys(agents: int, rng: np.random.Generator | None) -> np.ndarray:
    """The second key of the ranking, (agents, 5): uniform draws from `rng`, or the candidates' order."""
    shape = (agents, len(CANDIDATE_ACTIONS))
    return rng.random(shape) if rng is not None else np.broadcast_to(np.arange(shape[1], dtype=float), shape)


def candidate_cells(obstacles: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, free) of each agent's CANDIDATE_ACTIONS cells, (A, 5) each; off-grid cells: (0, 0), not free."""
    rows, cols = obstacles.shape
    cells = np.asarray(positions, dtype=np.int64)[:, None, :] + CANDIDATE_STEPS      # (A, 5, 2)
    inside = (cells >= 0).all(-1) & (cells[..., 0] < rows) & (cells[..., 1] < cols)
    r, c = np.where(inside, cells[..., 0], 0), np.where(inside, cells[..., 1], 0)
    return r, c, inside & ~obstacles[r, c]


def shielded_actions(obstacles: np.ndarray, positions: np.ndarray, preferences: np.ndarray,
                     priorities: np.ndarray) -> np.ndarray:
    """PIBT's priority inheritance and backtracking over given preference orders: (A,) int64 actions
    free of vertex and swap conflicts (module docstring), compiled (planners.pibt_jit.plan_moves).

    Args:
        obstacles: (R, C) bool, True = obstacle.
        positions: (A, 2) int (row, col), distinct free cells.
        preferences: (A, 5) action codes 0..4, each row a permutation, most preferred first
            (distance_preferences: PIBT itself; a policy's action ranking: the collision shield).
        priorities: (A,) float, higher plans first (stable order among equals).
    """
    return plan_moves(obstacles, positions, preferences, priorities)


def shielded_actions_reference(obstacles: np.ndarray, positions: np.ndarray, preferences: np.ndarray,
                               priorities: np.ndarray) -> np.ndarray:
    """`shielded_actions` in plain Python, a recursion per agent: its specification (same arguments)."""
    cols = obstacles.shape[1]
    n = len(positions)
    r, c, free = candidate_cells(obstacles, positions)
    slot = CANDIDATE_SLOT[np.asarray(preferences, dtype=np.int64)]                    # (A, 5) candidate index
    flat = np.take_along_axis(r * cols + c, slot, 1).tolist()
    usable = np.take_along_axis(free, slot, 1).tolist()
    candidates = [[(f, a) for f, a, ok in zip(*agent) if ok]
                  for agent in zip(flat, np.asarray(preferences).tolist(), usable)]

    here = (r[:, 4] * cols + c[:, 4]).tolist()
    occupant = dict(zip(here, range(n)))
    reserved: set[int] = set()                  # cells taken for the next step
    action: list[int | None] = [None] * n       # None: not planned yet

    def plan(i: int, parent_cell: int) -> bool:
        for cell, code in candidates[i]:
            if cell in reserved or cell == parent_cell:
                continue
            reserved.add(cell)
            action[i] = code
            k = occupant.get(cell)
            if k is not None and action[k] is None and not plan(k, here[i]):
                continue                        # k stays on `cell`, which therefore remains reserved
            return True
        reserved.add(here[i])                   # stay; only the parent may have reserved this cell
        action[i] = 0
        return False

    sys.setrecursionlimit(max(sys.getrecursionlimit(), n + 100))  # inheritance chains are at most n deep
    for i in np.argsort(-np.asarray(priorities), kind="stable").tolist():
        if action[i] is None:
            plan(i, -1)
    return np.array(action, dtype=np.int64)


def pibt_actions(obstacles: np.ndarray, positions: np.ndarray, dist: np.ndarray, priorities: np.ndarray,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """One PIBT step: (A,) int64 actions for agents at `positions` (module docstring); arguments as
    distance_preferences and shielded_actions."""
    return shielded_actions(obstacles, positions, distance_preferences(obstacles, positions, dist, rng), priorities)


def put_first(order: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each row of `order` (A, 5), a permutation of the action codes, with `first[i]` moved to its front and
    the other four in their order.

    >>> put_first(np.array([[1, 2, 3, 4, 0]]), np.array([3]))
    array([[3, 1, 2, 4, 0]])
    """
    order = np.asarray(order)
    first = np.asarray(first, dtype=order.dtype)
    rest = order[order != first[:, None]].reshape(len(order), order.shape[1] - 1)
    return np.concatenate([first[:, None], rest], axis=1)


def tie_breakers(rng: np.random.Generator, num_agents: int) -> np.ndarray:
    """An episode's unique tie-breakers in [0, 1) (also PIBT's first priorities), drawn from `rng`."""
    return rng.permutation(num_agents) / num_agents


def update_priorities(priorities: np.ndarray, at_goal: np.ndarray, tie_breakers: np.ndarray) -> np.ndarray:
    """PIBT's dynamic priorities: +1 for agents not at their goal, the agent's tie-breaker for those at it."""
    return np.where(at_goal, tie_breakers, np.asarray(priorities) + 1.0)


class DistanceCache:
    """Distance tables to goal cells, per map, computed on first use; at most CACHE_BYTES per map
    (planners.pathfinding.FieldSlots: the least recently used tables not asked for now are evicted)."""

    def __init__(self, budget_bytes: int = CACHE_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._maps: dict[tuple, tuple[FieldSlots, np.ndarray]] = {}      # map -> slots, store (capacity, cells)

    def _fields(self, obstacles: np.ndarray, goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The store of `obstacles`' tables and the slot of each goal (G, 2), computing missing ones."""
        key = (obstacles.shape, obstacles.tobytes())
        if key not in self._maps:
            dtype = np.uint16 if (~obstacles).sum() < UINT16_MAX else np.int32   # max: unreachable
            item = np.dtype(dtype).itemsize
            capacity = self.capacity(obstacles)                                # a table per cell at most
            self._maps[key] = (FieldSlots(obstacles.size, capacity, obstacles.size * item,
                                          "raise planners.pibt.CACHE_BYTES or use fewer agents"),
                               np.zeros((capacity, obstacles.size), dtype=dtype))    # calloc: memory once written
        slots, store = self._maps[key]
        flat = goals[:, 0] * obstacles.shape[1] + goals[:, 1]
        missing, where, _ = slots.assign(np.unique(flat))
        if missing.size:
            goal_cells = np.stack(np.divmod(missing, obstacles.shape[1]), axis=1)
            for i in range(0, len(missing), CHUNK):                  # UNREACHABLE (-1) -> the dtype's max
                dist = bfs_distances_many(obstacles, goal_cells[i:i + CHUNK])
                store[where[i:i + CHUNK]] = dist.reshape(len(dist), -1).astype(store.dtype)
        return store, slots.slot_of[flat]

    def tables(self, obstacles: np.ndarray, goals: list[tuple[int, int]]) -> np.ndarray:
        """(G, R, C) int32 distance tables to `goals` (UNREACHABLE: -1)."""
        store, slot = self._fields(obstacles, np.array(goals, dtype=np.int64).reshape(-1, 2))
        return _as_distances(store[slot]).reshape(len(slot), *obstacles.shape)

    def build(self, obstacles: np.ndarray, goals: np.ndarray) -> None:
        """Compute the missing tables of `goals` (G, 2) now (what an episode's first step does)."""
        self._fields(obstacles, np.asarray(goals, dtype=np.int64).reshape(-1, 2))

    def ranking(self, obstacles: np.ndarray, positions: np.ndarray, goals: np.ndarray,
                ties: np.ndarray) -> np.ndarray:
        """`distance_preferences` of agents at `positions` (A, 2) heading to `goals` (A, 2), compiled, read
        from the stored tables: the order `rank_by_distance` gives `at`'s distances with the same `ties`
        (A, 5) (`tie_keys`)."""
        store, slot = self._fields(obstacles, np.asarray(goals, dtype=np.int64).reshape(-1, 2))
        unreachable = UINT16_MAX if store.dtype == np.uint16 else UNREACHABLE
        return distance_ranking(obstacles, positions, CANDIDATE_ACTIONS, store.reshape(-1), slot * obstacles.size,
                                unreachable, ties)

    def capacity(self, obstacles: np.ndarray) -> int:
        """How many tables of `obstacles` the cache holds at once."""
        item = 2 if (~obstacles).sum() < UINT16_MAX else 4
        return min(self.budget_bytes // (obstacles.size * item), obstacles.size)

    def at(self, obstacles: np.ndarray, goals: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distances (A, K) int32 from cells (rows, cols) (A, K) to each agent's goal (A, 2) (-1: unreachable),
        without stacking whole tables."""
        store, slot = self._fields(obstacles, np.asarray(goals, dtype=np.int64).reshape(-1, 2))
        return _as_distances(store.reshape(-1)[(slot * obstacles.size)[:, None] + rows * obstacles.shape[1] + cols])


def _as_distances(stored: np.ndarray) -> np.ndarray:
    """Stored distances as int32 with UNREACHABLE for the dtype's maximum (uint16 stores)."""
    out = stored.astype(np.int32)
    if stored.dtype == np.uint16:
        out[stored == UINT16_MAX] = UNREACHABLE
    return out


class PIBTPlanner:
    """PIBT for all environments of a batched env (envs.pogema_backend / envs.torch_backend): dynamic
    priorities per environment, tie-breakers and tie-breaking from the caller's per-env streams.

    `reference=True` plans with the plain Python reference (the same moves, tens of times slower)."""

    def __init__(self, reference: bool = False) -> None:
        self.reference = reference
        self.distances = DistanceCache()
        self._ties = np.zeros((0, 0))                        # (E, A) unique tie-breakers in [0, 1)
        self._priorities = np.zeros((0, 0))                  # (E, A)
        self._last_goals = np.zeros((0, 0, 2), np.int64)     # (E, A, 2) goals at the last step, -1: none yet

    def reset(self, num_envs: int, num_agents: int, rngs: Sequence[np.random.Generator]) -> None:
        """Every env starts an episode."""
        self._ties = np.zeros((num_envs, num_agents))
        self._priorities = np.zeros((num_envs, num_agents))
        self._last_goals = np.full((num_envs, num_agents, 2), -1, dtype=np.int64)
        self.new_episodes(range(num_envs), rngs)

    def new_episodes(self, envs: Sequence[int], rngs: Sequence[np.random.Generator]) -> None:
        """Envs `envs` start an episode: fresh tie-breakers drawn from `rngs[e]`."""
        for e in envs:
            self._ties[e] = self._priorities[e] = tie_breakers(rngs[e], self._ties.shape[1])
            self._last_goals[e] = -1

    def actions(self, env: Any, rngs: Sequence[np.random.Generator],
                preferences: np.ndarray | None = None, first: np.ndarray | None = None) -> np.ndarray:
        """(E*A,) int64 actions for the current state of `env` (0 for frozen envs and inactive agents).

        `preferences`: (E*A, 5) action codes per row, most preferred first (a policy's ranking: the
        collision shield); None: PIBT's own distance order (distance tables, ties from `rngs`), with
        `first` (E*A,) action codes, if given, moved to the front (the shield inside the env: each agent's
        chosen action first, envs/shielded.py).
        """
        num_envs, num_agents = self._ties.shape
        actions = np.zeros(num_envs * num_agents, dtype=np.int64)
        positions, goals, active = env.positions.cpu().numpy(), env.goals.cpu().numpy(), env.active.cpu().numpy()
        running = ~env.frozen.cpu().numpy()
        # In lifelong mode the env hands out a new goal on arrival: a changed goal is an arrival too.
        at_goal = (positions == goals).all(-1) | (goals != self._last_goals).any(-1)
        self._priorities[running] = update_priorities(self._priorities, at_goal, self._ties)[running]
        self._last_goals[running] = goals[running]
        live = active & running[:, None]
        for batch in self._batches(env, live):
            agents = [np.flatnonzero(live[e]) for e in batch]
            rows = np.concatenate([e * num_agents + a for e, a in zip(batch, agents)])
            pick = (lambda values: None if values is None else values[rows])
            actions[rows] = self.plan_envs(env.resolved.maps[env.tasks[batch[0]].map_index].obstacles,
                                           positions.reshape(-1, 2)[rows], goals.reshape(-1, 2)[rows],
                                           self._priorities.reshape(-1)[rows], [rngs[e] for e in batch],
                                           [len(a) for a in agents], pick(preferences), pick(first))
        return actions

    def _batches(self, env: Any, live: np.ndarray) -> list[list[int]]:
        """The envs with live agents, in order, grouped by map into batches planned together (BATCH_AGENTS,
        BATCH_CELLS, the cache's capacity); one env per batch for the reference."""
        open_batches: dict[int, list[int]] = {}                 # map index -> the batch being filled
        limits: dict[int, int] = {}
        batches = []
        for e in np.flatnonzero(live.any(1)).tolist():
            index = env.tasks[e].map_index
            obstacles = env.resolved.maps[index].obstacles
            if index not in limits:
                limits[index] = min(BATCH_AGENTS, self.distances.capacity(obstacles))
            batch = open_batches.get(index)
            if (batch is None or self.reference or live[batch + [e]].sum() > limits[index]
                    or (len(batch) + 1) * obstacles.size > BATCH_CELLS):
                batch = open_batches[index] = []
                batches.append(batch)
            batch.append(e)
        return batches

    def plan(self, obstacles: np.ndarray, positions: np.ndarray, goals: np.ndarray, priorities: np.ndarray,
             rng: np.random.Generator | None, preferences: np.ndarray | None = None,
             first: np.ndarray | None = None) -> np.ndarray:
        """One env's step on plain arrays: (A,) int64 actions of agents at `positions` (A, 2) heading to `goals`
        (A, 2) with `priorities` (A,); `preferences` (A, 5) or None: PIBT's own distance order from the cached
        tables, ties drawn from `rng` (None: candidate order), with `first` (A,) moved to the front if given
        (`actions`). The fast path, or the reference's functions."""
        return self.plan_envs(obstacles, positions, goals, priorities, [rng], [len(positions)], preferences, first)

    def plan_envs(self, obstacles: np.ndarray, positions: np.ndarray, goals: np.ndarray, priorities: np.ndarray,
                  rngs: Sequence[np.random.Generator | None], counts: Sequence[int],
                  preferences: np.ndarray | None = None, first: np.ndarray | None = None) -> np.ndarray:
        """`plan` for several envs on one map at once: their agents one after the other, `counts[k]` of env k,
        whose ties come from `rngs[k]`; the same actions as `plan` env by env (no agent meets another env's)."""
        if self.reference:
            bounds = np.cumsum(counts)[:-1]
            split = (lambda rows: [None] * len(counts) if rows is None else np.split(rows, bounds))
            return np.concatenate([self._plan_reference(obstacles, *env) for env in zip(
                split(positions), split(goals), split(priorities), split(preferences), split(first), rngs)])
        if preferences is None:
            ties = np.concatenate([tie_keys(n, rng) for n, rng in zip(counts, rngs)])
            preferences = self.distances.ranking(obstacles, positions, goals, ties)
        if first is not None:
            preferences = put_first(preferences, first)
        return plan_moves(obstacles, positions, preferences, priorities, np.repeat(np.arange(len(counts)), counts))

    def _plan_reference(self, obstacles: np.ndarray, positions: np.ndarray, goals: np.ndarray,
                        priorities: np.ndarray, preferences: np.ndarray | None, first: np.ndarray | None,
                        rng: np.random.Generator | None) -> np.ndarray:
        """`plan` by the plain Python reference."""
        if preferences is None:
            r, c, _ = candidate_cells(obstacles, positions)
            preferences = rank_by_distance(self.distances.at(obstacles, goals, r, c), obstacles.size, rng)
        if first is not None:
            preferences = put_first(preferences, first)
        return shielded_actions_reference(obstacles, positions, preferences, priorities)
