"""Shortest-path distances on a static map, shared by both backends.

`bfs_distances` gives the 4-connected BFS distance of every cell to one goal.
`DistanceStore` keeps such fields for many (map, goal) pairs in one flat,
padded buffer so that windows of them can be gathered for a whole batch of
agents with one indexing operation (see envs.observation).

`bfs_distances_many` computes many goals' fields at once (PIBT); `successor_codes`
turns fields into the path rule itself (which neighbour the path takes from
each cell) and `follow_codes` walks it (the renderer). `packed_successor_codes`
is the torch backend's fast path to the same rule, several steps packed per
cell (envs/torch_backend/successors.py), straight from one BFS without
distances (`canvas_fields` keeps them too, for the cost-to-go and
congestion-path observations). Both many-goal functions run `_frontier_bfs`: O(goals x free cells)
(docs/scale.md has the reset times it gives on 256x256 maps). `FieldSlots` is
the memory policy of many such fields under a byte budget (the torch backend's
path fields, PIBT's distance tables).
"""
from __future__ import annotations

import numpy as np

from common.actions import STEP_ORDER

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


# --------------------------------------------------------------------------- batched fields
def neighbour_table(obstacles: np.ndarray) -> np.ndarray:
    """(rows*cols, 4) flat index of the free up/down/left/right neighbour of each cell, -1 if none."""
    rows, cols = obstacles.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    table = np.full((rows * cols, 4), -1, dtype=np.int64)
    for k, (dr, dc) in enumerate(STEP_ORDER):
        nr, nc = r + dr, c + dc
        inside = (0 <= nr) & (nr < rows) & (0 <= nc) & (nc < cols)
        flat = np.where(inside, nr * cols + nc, 0)
        table[:, k] = np.where(inside & ~obstacles.reshape(-1)[flat], flat, -1)
    return table


def _frontier_bfs(free: np.ndarray, starts: np.ndarray, steps: int, distances: bool
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """BFS from each of G start cells over the `free` cells of one grid, as flat frontiers.

    Args:
        free: (H, W) bool, True = passable; its border rows and columns must not be free (so a
            neighbour of a free cell is always the cell +- 1 or +- W of the same grid).
        starts: (G,) flat start cells (the goals); a start that is not free reaches nothing.
        steps: path steps packed per cell (base 5, at most 6: an int16); 0: none (distances only).
        distances: also return the distances.

    Returns:
        packed (G, H*W) int16: digit k (base 5) is the successor code met after k steps along the
        path rule (1 + index in STEP_ORDER of the first neighbour one step closer; 0 on the goal,
        on cells that cannot reach it and past the goal), None if steps is 0; dist (G, H*W) int32 or None.

    A cell is claimed in the round of its distance by the first direction k of STEP_ORDER whose
    neighbour lies in the previous frontier, i.e. exactly the path rule's first closer neighbour,
    and its packed code is that code followed by the neighbour's (already final) packed code.
    """
    h, w = free.shape
    size, g = h * w, len(starts)
    if free[0].any() or free[-1].any() or free[:, 0].any() or free[:, -1].any():
        raise ValueError("_frontier_bfs needs a grid whose border cells are not free (pad it by one)")
    offsets = [dr * w + dc for dr, dc in STEP_ORDER]
    keep = np.int16(5 ** max(steps - 1, 0))
    unvisited = np.tile(free.reshape(-1), g)                                    # (G*H*W,) bool
    frontier = np.arange(g) * size + np.asarray(starts, dtype=np.intp)
    frontier = frontier[unvisited[frontier]]
    unvisited[frontier] = False
    packed = np.zeros(g * size, dtype=np.int16) if steps else None
    dist = np.full(g * size, UNREACHABLE, dtype=np.int32) if distances else None
    if dist is not None:
        dist[frontier] = 0
    step = 0
    while frontier.size:
        step += 1
        claimed = []
        for k, offset in enumerate(offsets):                       # cell + offset is in the frontier
            cells = frontier - offset
            cells = cells[unvisited[cells]]
            unvisited[cells] = False
            if packed is not None:
                packed[cells] = packed[cells + offset] % keep * 5 + (k + 1)
            if dist is not None:
                dist[cells] = step
            claimed.append(cells)
        frontier = np.concatenate(claimed)
    return (None if packed is None else packed.reshape(g, size)), (None if dist is None else dist.reshape(g, size))


def bfs_distances_many(obstacles: np.ndarray, goals: np.ndarray, chunk: int = 256) -> np.ndarray:
    """`bfs_distances` for many goals at once: (G, rows, cols) int32.

    A frontier BFS over (goal, cell) pairs (`_frontier_bfs`), `chunk` goals at a time: every pair
    is expanded once, so the cost is O(G * free cells) whatever the map's diameter.
    """
    rows, cols = obstacles.shape
    goals = np.asarray(goals, dtype=np.int64).reshape(-1, 2)
    free = np.zeros((rows + 2, cols + 2), dtype=bool)
    free[1:-1, 1:-1] = ~obstacles
    starts = (goals[:, 0] + 1) * (cols + 2) + goals[:, 1] + 1
    out = np.empty((len(goals), rows, cols), dtype=np.int32)
    for i in range(0, len(goals), chunk):
        dist = _frontier_bfs(free, starts[i:i + chunk], 0, distances=True)[1]
        out[i:i + chunk] = dist.reshape(-1, rows + 2, cols + 2)[:, 1:-1, 1:-1]
    return out


def packed_successor_codes(obstacles: np.ndarray, goals: np.ndarray, steps: int, pad: int,
                           shape: tuple[int, int]) -> np.ndarray:
    """The path rule of goals (G, 2) on a map placed at (pad, pad) of a `shape` canvas (pad >= 1,
    nothing free outside the map): (G, shape[0] * shape[1]) int16, `steps` successor codes per
    cell packed in base 5 (digit k: the code after k steps; see `successor_codes`)."""
    return canvas_fields(obstacles, goals, steps, pad, shape, distances=False)[0]


def canvas_fields(obstacles: np.ndarray, goals: np.ndarray, steps: int, pad: int, shape: tuple[int, int],
                  distances: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """`packed_successor_codes` and, if `distances`, the BFS distances (G, shape[0] * shape[1]) int32
    (UNREACHABLE outside the map, on obstacles and on cut-off cells) from the same one BFS."""
    if pad < 1:
        raise ValueError(f"pad={pad} must be >= 1 (the canvas needs a ring of non-free cells)")
    rows, cols = obstacles.shape
    goals = np.asarray(goals, dtype=np.int64).reshape(-1, 2)
    free = np.zeros(shape, dtype=bool)
    free[pad:pad + rows, pad:pad + cols] = ~obstacles
    return _frontier_bfs(free, (goals[:, 0] + pad) * shape[1] + goals[:, 1] + pad, steps, distances)


def successor_codes(obstacles: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """The path rule as a table: (G, rows, cols) int8, 1 + index in STEP_ORDER of the first
    neighbour one step closer to the goal, 0 on the goal and on cells that cannot reach it."""
    g, rows, cols = dist.shape
    nb = neighbour_table(obstacles)
    flat = np.concatenate([dist.reshape(g, -1), np.full((g, 1), UNREACHABLE, np.int32)], axis=1)
    d = flat[:, :-1]
    code = np.zeros((g, rows * cols), dtype=np.int8)
    for k in range(4):
        closer = (flat[:, nb[:, k]] == d - 1) & (d > 0) & (code == 0)   # nb -1 reads the UNREACHABLE column
        code[closer] = k + 1
    return code.reshape(g, rows, cols)


def follow_codes(codes: np.ndarray, start: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells of the path from `start` to the goal of one successor-code table (rows, cols), start
    excluded: the path rule as the observations draw it."""
    r, c = int(start[0]), int(start[1])
    cells = []
    while codes[r, c]:
        dr, dc = STEP_ORDER[codes[r, c] - 1]
        r, c = r + dr, c + dc
        cells.append((r, c))
    return cells


# --------------------------------------------------------------------------- bounded field stores
class FieldBudgetError(ValueError):
    """More distance or path fields are needed at once than a store's byte budget holds; the message
    says how many, how big, and what to change."""


class FieldSlots:
    """Which slot of a store of equal-sized fields holds which key (a (map, goal) pair), within a
    capacity: the memory policy of the torch backend's path fields and of PIBT's distance tables.

    `assign(keys)` is called with the keys in use now; it marks them used and gives slots to the
    missing ones: new slots while the capacity allows (None: always), else the slots of the least
    recently used keys that this call does not need, which are evicted (their fields are computed
    again if they come back). More keys at once than the capacity: FieldBudgetError.
    """

    def __init__(self, num_keys: int, capacity: int | None, field_bytes: int, owner: str):
        """`field_bytes` and `owner` (what to change to raise the budget) go into the error message."""
        self.capacity, self.field_bytes, self.owner = capacity, field_bytes, owner
        self.slot_of = np.full(num_keys, -1, dtype=np.int64)
        self._key_of = np.zeros(0, dtype=np.int64)
        self._last_use = np.zeros(0, dtype=np.int64)
        self.used = 0
        """slots handed out so far (evicted slots are reused)"""
        self._calls = 0

    def assign(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mark unique `keys` in use; return (missing keys, their slots, keys evicted to make room)."""
        self._calls += 1
        slots = self.slot_of[keys]
        self._last_use[slots[slots >= 0]] = self._calls
        missing = keys[slots < 0]
        top = self.used + len(missing)
        if self.capacity is not None:
            top = min(top, self.capacity)
        fresh = np.arange(self.used, top)
        evicted = np.zeros(0, dtype=np.int64)
        short = len(missing) - len(fresh)
        if short > 0:
            idle = np.flatnonzero(self._last_use[: self.used] < self._calls)
            if len(idle) < short:
                raise FieldBudgetError(
                    f"{len(keys)} fields are needed at once ({len(keys)} x {self.field_bytes:,} bytes = "
                    f"{len(keys) * self.field_bytes / 2**30:.2f} GiB), more than the budget holds ({self.capacity} "
                    f"fields, {self.capacity * self.field_bytes / 2**30:.2f} GiB); {self.owner}")
            gone = idle[np.argsort(self._last_use[idle], kind="stable")[:short]]
            evicted = self._key_of[gone]
            self.slot_of[evicted] = -1
            fresh = np.concatenate([fresh, gone])
        if top > len(self._key_of):
            grow = max(top, 2 * len(self._key_of)) - len(self._key_of)
            self._key_of = np.concatenate([self._key_of, np.full(grow, -1, dtype=np.int64)])
            self._last_use = np.concatenate([self._last_use, np.zeros(grow, dtype=np.int64)])
        self.used = max(self.used, top)
        self._key_of[fresh] = missing
        self.slot_of[missing] = fresh
        self._last_use[fresh] = self._calls
        return missing, fresh, evicted
