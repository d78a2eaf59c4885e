"""PIBT's per-step planning compiled with numba: the fast path behind planners/pibt.py.

Two kernels on flat int arrays, each choosing exactly what its plain reference in planners/pibt.py chooses
(tests/test_planner_jit.py checks them move for move):

- `distance_ranking`: every agent's candidate actions ranked by the distance of their cells to its goal,
  read straight from DistanceCache's store (the reference: `candidate_cells` + `DistanceCache.at` +
  `rank_by_distance`, the same tie-break keys);
- `plan_moves`: priority inheritance with backtracking over given preference orders (the reference:
  `shielded_actions_reference`'s recursion), here an explicit stack of (agent, parent's cell, next
  candidate) frames; the planning order, numpy's stable descending argsort, by a radix sort (`_descending`).

The occupancy and reservation grids (R*C cells) are kept between calls per grid size and only the cells a
call touched are cleared after it, so a step costs O(A), not O(R*C). Kernels hold the GIL (numba's
default), so threads never share a grid mid-call. Compiled code is cached beside this file
(`__pycache__/`), so only the first process after a change pays the compile (a few seconds).
"""
from __future__ import annotations

import numba
import numpy as np

from common.actions import ACTION_STEPS, STAY

STEPS = np.array(ACTION_STEPS, dtype=np.int64)
"""(d_row, d_col) of action codes 0..4 (common/actions.py)."""
UNPLANNED = -1
"""An agent's action before it plans."""
BLOCK = 256
"""Agents whose distances the ranking gathers in one plain loop before sorting them: loads that do not wait
on each other overlap (at 16,384 agents each agent reads another table of a 2 GB store: a page walk and a
cache miss each)."""

_grids: dict[int, tuple[np.ndarray, np.ndarray]] = {}
"""cells -> (occupant (int32, -1: none), reserved (uint8, 0)), both all clear between calls."""


def _scratch(cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The clear occupancy and reservation grids of a map of `cells` cells."""
    if cells not in _grids:
        _grids[cells] = (np.full(cells, -1, dtype=np.int32), np.zeros(cells, dtype=np.uint8))
    return _grids[cells]


def _check_lengths(positions: np.ndarray, **per_agent: np.ndarray) -> None:
    """ValueError unless every per-agent array has a row per position (a kernel would read past one)."""
    wrong = {name: len(rows) for name, rows in per_agent.items() if len(rows) != len(positions)}
    if wrong:
        raise ValueError(f"{len(positions)} positions but {wrong} rows; pass one row per agent")


def _bad_input(obstacles: np.ndarray, positions: np.ndarray, preferences: np.ndarray) -> ValueError:
    """What a kernel refused (it returns an empty array rather than read outside its arrays)."""
    if len(positions) and (positions.min() < 0 or (positions >= np.array(obstacles.shape)).any()):
        return ValueError(f"positions must lie on the {obstacles.shape[0]}x{obstacles.shape[1]} grid, got rows "
                          f"{positions[:, 0].min()}..{positions[:, 0].max()} and columns "
                          f"{positions[:, 1].min()}..{positions[:, 1].max()}; pass (row, col) cells of the map")
    return ValueError(f"preferences must be action codes 0..{len(STEPS) - 1}, got values {preferences.min()}.."
                      f"{preferences.max()}; rank the actions of common/actions.py")


def plan_moves(obstacles: np.ndarray, positions: np.ndarray, preferences: np.ndarray, priorities: np.ndarray,
               layers: np.ndarray | None = None) -> np.ndarray:
    """(A,) int64 conflict-free actions: agents plan in decreasing `priorities` (stable among equals), each over
    its `preferences` row (A, K) of action codes 0..4; planners.pibt.shielded_actions' arguments. `layers`
    (A,) int >= 0: agents of several envs on the same map, planned at once; agents of different layers never
    meet (None: one env)."""
    positions = np.ascontiguousarray(positions, dtype=np.int64).reshape(-1, 2)
    preferences = np.ascontiguousarray(preferences, dtype=np.int64)
    layers = np.zeros(len(positions), dtype=np.int64) if layers is None else np.ascontiguousarray(layers, np.int64)
    _check_lengths(positions, preferences=preferences, priorities=priorities, layers=layers)
    if len(layers) and layers.min() < 0:
        raise ValueError(f"layers must be >= 0, got {layers.min()}; number the envs from 0")
    occupant, reserved = _scratch(obstacles.size * (int(layers.max()) + 1 if len(layers) else 1))
    actions = _plan(np.ascontiguousarray(obstacles, dtype=bool).reshape(-1), obstacles.shape[0], obstacles.shape[1],
                    positions, layers, preferences, np.ascontiguousarray(priorities, dtype=np.float64), STEPS,
                    occupant, reserved)
    if len(actions) != len(positions):
        raise _bad_input(obstacles, positions, preferences)
    return actions


def distance_ranking(obstacles: np.ndarray, positions: np.ndarray, candidates: np.ndarray, store: np.ndarray,
                     offsets: np.ndarray, unreachable: int, ties: np.ndarray) -> np.ndarray:
    """(A, K) action codes: `candidates` (K,) ranked per agent by distance to its goal (ascending), then by
    `ties` (A, K), then in `candidates` order; the last candidate is the agent's own cell (its key when the
    goal is out of reach: cells - 1, before unreachable moves at cells).

    Args:
        obstacles: (R, C) bool, True = obstacle.
        positions: (A, 2) int (row, col) on the grid.
        candidates: (K,) action codes 0..4; a candidate cell off the grid reads the distance of cell (0, 0).
        store: flat distance tables; agent i's distance to cell f is store[offsets[i] + f].
        unreachable: the stored value of an unreachable cell.
        ties: (A, K) float, the second key.
    """
    positions = np.ascontiguousarray(positions, dtype=np.int64).reshape(-1, 2)
    candidates = np.ascontiguousarray(candidates, dtype=np.int64)
    _check_lengths(positions, offsets=offsets, ties=ties)
    if np.shape(ties)[1:] != candidates.shape:
        raise ValueError(f"ties {np.shape(ties)} for {len(candidates)} candidates; pass (A, {len(candidates)})")
    ranked = _rank(obstacles.shape[0], obstacles.shape[1], positions, STEPS, candidates, store,
                   np.ascontiguousarray(offsets, dtype=np.int64), unreachable, np.ascontiguousarray(ties, dtype=float))
    if len(ranked) != len(positions):
        raise _bad_input(obstacles, positions, candidates)
    return ranked


@numba.njit(cache=True)
def _valid(rows, cols, positions, codes, actions):  # pragma: no cover (compiled)
    """Every position on the grid and every code in 0..actions - 1."""
    for i in range(len(positions)):
        if not (0 <= positions[i, 0] < rows and 0 <= positions[i, 1] < cols):
            return False
    for i in range(codes.shape[0]):
        for j in range(codes.shape[1]):
            if not 0 <= codes[i, j] < actions:
                return False
    return True


@numba.njit(cache=True)
def _descending(priorities):  # pragma: no cover (compiled)
    """np.argsort(-priorities, kind="stable") as an LSD radix sort (stable by construction) of the bits of
    -priorities mapped to unsigned keys in float order: -0.0 as 0.0, NaN last, as numpy sorts them."""
    n = len(priorities)
    keys = np.empty(n, dtype=np.uint64)
    flip, top = np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(1) << np.uint64(63)
    bits = np.empty(1, dtype=np.float64)
    for i in range(n):
        x = -priorities[i]
        if x != x:
            keys[i] = flip
            continue
        bits[0] = x + 0.0                            # -0.0 -> 0.0
        b = bits.view(np.uint64)[0]
        keys[i] = b ^ flip if b & top else b | top
    order = np.arange(n)
    spare = np.empty(n, dtype=np.int64)
    count = np.empty(257, dtype=np.int64)
    for shift in range(0, 64, 8):
        count[:] = 0
        for i in range(n):
            count[((keys[order[i]] >> np.uint64(shift)) & np.uint64(255)) + 1] += 1
        if count.max() == n:                         # one digit for all: this pass keeps the order
            continue
        for d in range(1, 257):
            count[d] += count[d - 1]
        for i in range(n):
            d = (keys[order[i]] >> np.uint64(shift)) & np.uint64(255)
            spare[count[d]] = order[i]
            count[d] += 1
        order, spare = spare, order
    return order


@numba.njit(cache=True)
def _rank(rows, cols, positions, steps, codes, store, offsets, unreachable, ties):  # pragma: no cover (compiled)
    """distance_ranking's kernel: per agent, key each candidate and insertion-sort (stable) by (key, tie);
    an empty array when a position lies off the grid or a code is not an action."""
    n, k = len(positions), len(codes)
    if not _valid(rows, cols, positions, codes.reshape(1, -1), len(steps)):
        return np.empty((0, k), dtype=np.int64)
    cells = rows * cols
    out = np.empty((n, k), dtype=np.int64)
    at = np.empty(BLOCK * k, dtype=np.int64)         # a block's candidate cells in the store, then their distances
    raw = np.empty(BLOCK * k, dtype=np.int64)
    key = np.empty(k, dtype=np.int64)                # the agent's candidates sorted so far: key, tie, index
    tie = np.empty(k, dtype=np.float64)
    index = np.empty(k, dtype=np.int64)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        t = 0
        for i in range(start, stop):
            row, col, base = positions[i, 0], positions[i, 1], offsets[i]
            for j in range(k):
                r, c = row + steps[codes[j], 0], col + steps[codes[j], 1]
                inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
                at[t] = base + (r * cols + c) * inside
                t += 1
        for u in range(t):                           # a plain gather: the loads overlap
            raw[u] = store[at[u]]
        for i in range(start, stop):
            for j in range(k):
                d = raw[(i - start) * k + j]
                if d == unreachable or d < 0:        # the reference's d < 0 after _as_distances
                    d = cells - 1 if j == k - 1 else cells
                draw = ties[i, j]
                m = j                                # insert j after every candidate that does not sort after it
                while m > 0 and (key[m - 1] > d or (key[m - 1] == d and tie[m - 1] > draw)):
                    key[m], tie[m], index[m] = key[m - 1], tie[m - 1], index[m - 1]
                    m -= 1
                key[m], tie[m], index[m] = d, draw, j
            for j in range(k):
                out[i, j] = codes[index[j]]
    return out


@numba.njit(cache=True)
def _plan(blocked, rows, cols, positions, layers, preferences, priorities, steps, occupant,
          reserved):  # pragma: no cover (compiled)
    """plan_moves' kernel: `occupant` and `reserved` come in clear and are left clear; an empty array when a
    position lies off the grid or a preference is not an action."""
    n, width = preferences.shape
    if not _valid(rows, cols, positions, preferences, len(steps)):
        return np.empty(0, dtype=np.int64)
    here = np.empty(n, dtype=np.int64)
    cand = np.empty((n, width), dtype=np.int64)      # usable candidate cells in preference order
    code = np.empty((n, width), dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        layer = layers[i] * rows * cols              # an env's cells in the grids: its layer
        here[i] = layer + positions[i, 0] * cols + positions[i, 1]
        occupant[here[i]] = i                        # shared cells: the last agent, as a dict would keep
        for j in range(width):
            a = preferences[i, j]
            r, c = positions[i, 0] + steps[a, 0], positions[i, 1] + steps[a, 1]
            if 0 <= r < rows and 0 <= c < cols and not blocked[r * cols + c]:
                cand[i, count[i]] = layer + r * cols + c
                code[i, count[i]] = a
                count[i] += 1
    action = np.full(n, UNPLANNED, dtype=np.int64)
    order = _descending(priorities)
    agent = np.empty(n, dtype=np.int64)              # the stack: inheritance chains are at most n deep
    parent = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    for root in order:
        if action[root] != UNPLANNED:
            continue
        top = 0
        agent[0], parent[0], nxt[0] = root, -1, 0
        while top >= 0:                              # each pass: the top frame tries its next candidates
            i = agent[top]
            pushed = False
            done = False
            while nxt[top] < count[i]:
                cell = cand[i, nxt[top]]
                a = code[i, nxt[top]]
                nxt[top] += 1
                if reserved[cell] or cell == parent[top]:
                    continue
                reserved[cell] = 1
                action[i] = a
                k = occupant[cell]
                if k >= 0 and action[k] == UNPLANNED:  # k must make room: it plans now, i as its parent
                    top += 1
                    agent[top], parent[top], nxt[top] = k, here[i], 0
                    pushed = True
                else:
                    done = True
                break
            if pushed:
                continue
            if done:                                  # a success is the whole chain's success
                break
            reserved[here[i]] = 1                     # every candidate failed: stay (the cell stays taken),
            action[i] = STAY                          # and the parent tries its next candidate
            top -= 1
    for i in range(n):                                # clear what this call touched
        occupant[here[i]] = -1
        reserved[here[i]] = 0
        for j in range(count[i]):
            reserved[cand[i, j]] = 0
    return action


def from_cache() -> bool:
    """Whether this process loaded every kernel it ran from the on-disk cache instead of compiling it."""
    return all(not kernel.stats.cache_misses for kernel in (_plan, _rank))
