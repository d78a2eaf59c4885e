"""`TableObserver`: the observations of `envs.observation.Observer`, from tensor ops only.

`Observer` (envs/observation.py) is the definition, used by the pogema backend;
this is the torch backend's fast path to the same tensors (the equivalence
tests compare them step by step, bit for bit). What makes it fast:

* Canvas: every map sits at (r, r) of one common canvas with pogema's border
  (obstacle ring, free beyond); a position is one flat canvas cell, and the
  offset between two cells says where one lies in the other's window.
* Row codes: a window row of a grid is one int32, so a window costs w = 2r+1
  gathers, not w*w. Agents and goals are row bits (2^col); channel 0 is a
  ternary code (3^col digits: 0 free, 1 path, 2 obstacle), the sum of the
  static obstacle rows of the map and the path rows of the observer, since a
  path cell is never an obstacle. For w > 13 the two stay apart as row bits.
* Agents and goals, many agents: bits scattered per step on per-env canvases;
  each goal cell is written once, and the observer's own goal cell is cleared
  again unless a second active agent has the same goal. Few agents (A*A <=
  canvas cells): from all agent pairs of an env, as flat output positions
  where a 1 is written after channel 0 (a shared goal is written twice).
* Path channel: packed successor codes (`envs.torch_backend.successors.SuccessorTable`, S
  steps per lookup) walked by all rows at once; a table over (window cell, code)
  gives the next window cell, the row codes of the cells it marks and the canvas
  move, and stops a walk at the goal or where it first leaves the window. The
  loop ends when every walk has stopped (at most w*w/S rounds); stopped rows
  are dropped on the way. Where it fits (small maps, r <= 5) every (goal,
  cell)'s window is walked once, when the goal's field is made, and stored: a
  step then reads it.
* Floats: one lookup table turns row codes into float rows (-1/0/+1 for
  channel 0, 0/+1 for bits), written straight into the output. Inactive rows
  read empty blocks, so they come out all zero without masking.
* Other guidance (envs/observation.py): the table keeps each field's BFS
  distances beside its codes. 'cost-to-go' gathers the distance window and
  adds `cost_to_go` of it to channel 0 (no path walk: its next cell is the
  packed code's first step); 'congestion-path' walks `walk_path`'s rule on the
  canvas (four neighbours' distances and a per-env occupancy canvas per round,
  finished walks dropped) and adds each path cell to the row codes.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from envs.observation import MOVES, check_guidance, cost_to_go, pad_like_pogema
from envs.torch_backend.successors import FIELD_BUDGET_BYTES, SuccessorTable

MAX_RADIUS = 15
"""A window row (w = 2r+1 <= 31 cells) is one int32 of bits (of ternary digits up to w = 13)."""
WINDOW_TABLE_CELLS = 2_000_000
"""Path windows are stored (walked once per (goal, cell) when the goal's field is made, then read
each step) when free cells x canvas cells, summed over maps, is at most this (at most 88 MB of
row codes for r = 5, a few seconds of walking on one CPU core); otherwise walked every step."""


WALK_TABLE_BYTES = 32 << 20
"""Budget of the walk's (window cell, code) tables: S, the path steps per lookup, is the largest
(at most 5) whose mark table fits."""


def walk_steps(width: int) -> int:
    """Path steps per walk round for windows of `width` cells (see WALK_TABLE_BYTES)."""
    return max(s for s in range(1, 6) if s == 1 or (width * width + 1) * 5 ** s * width * 4 <= WALK_TABLE_BYTES)


def take(table: Tensor, index: Tensor) -> Tensor:
    """table[index] for a 1-D (or row) table: `index_select`, several times faster than
    advanced indexing on CPU at these sizes."""
    if index.dim() == 1:
        return table.index_select(0, index)
    return table.index_select(0, index.reshape(-1)).view(*index.shape, *table.shape[1:])


def row_codes(grid: Tensor, weights: Tensor) -> Tensor:
    """Row codes of a (..., H, W) 0/1 grid: out[..., y, x] = sum of weights[k] over the set cells
    grid[..., y, x + k], k < len(weights) (weights 2^k: row bits)."""
    out = torch.zeros(grid.shape, dtype=torch.int32, device=grid.device)
    for k, weight in enumerate(weights.tolist()):
        out[..., : grid.shape[-1] - k] += grid[..., k:].int() * weight
    return out


class TableObserver:
    """Observations (and next path cells) of E envs x A agents, as `Observer.observe` computes them."""

    def __init__(self, maps: list[np.ndarray], radius: int, num_envs: int, num_agents: int,
                 device: torch.device | str = "cpu", path_windows: bool | None = None,
                 field_budget_bytes: int = FIELD_BUDGET_BYTES, guidance: str = "path"):
        """`path_windows`: store every path window (see WINDOW_TABLE_CELLS) instead of walking each
        step; default: when r <= 5, it fits and `guidance` is 'path' (the only one that draws the plain
        path). The observations are the same either way.
        `field_budget_bytes`: the path fields' memory budget (`SuccessorTable`).
        `guidance`: what channel 0 carries (envs/observation.py)."""
        if not 1 <= radius <= MAX_RADIUS:
            raise ValueError(f"obs_radius={radius} is not supported by the torch backend (1..{MAX_RADIUS}); "
                             "use the pogema backend for wider windows")
        check_guidance(guidance)
        if path_windows and guidance != "path":
            raise ValueError(f"path_windows stores plain path windows; guidance={guidance!r} does not draw them "
                             "(leave path_windows unset)")
        self.guidance = guidance
        self.radius, self.width = r, w = radius, 2 * radius + 1
        self.num_envs, self.num_agents = num_envs, num_agents
        self.device = dev = torch.device(device)
        self.table = SuccessorTable(maps, radius, dev, steps=walk_steps(w), budget_bytes=field_budget_bytes,
                                    distances=guidance != "path")
        hc, wc = self.table.canvas_shape
        self.stride, self.canvas_size = wc, hc * wc
        self.pairwise = num_agents * num_agents <= self.canvas_size
        # a block of empty rows after each row-code table: inactive rows read their windows there
        self._zero_block = (w + 1) * wc
        self._zero_centre = r * wc + r
        self._map_base = torch.zeros(num_envs * num_agents, dtype=torch.long, device=dev)
        self._k = torch.arange(w, device=dev)
        self._bit = (1 << self._k).int()                                               # (w,) int32
        self._build_float_table()
        canvas = np.zeros((len(maps), hc, wc), dtype=np.float32)
        for i, m in enumerate(maps):
            padded = pad_like_pogema(m, radius)
            canvas[i, : padded.shape[0], : padded.shape[1]] = padded
        canvas = torch.from_numpy(canvas).to(dev)
        self._obstacle_cell = canvas.reshape(-1).bool()
        rows = row_codes(canvas, self._path_digit * (2 if self._lut is not None else 1)).reshape(-1)
        self._obstacle_rows = torch.cat([rows, rows.new_zeros(self._zero_block)]) + self._ch0
        self._row = torch.arange(num_envs * num_agents, device=dev)
        self._env_base = torch.arange(num_envs, device=dev).repeat_interleave(num_agents) * self.canvas_size
        self._window_rows = (self._k - r) * wc - r                                     # (w,) row starts
        self.moves = MOVES.to(dev)
        self.step_flat = torch.tensor([0, -wc, wc, -1, 1], device=dev)
        free = sum(int((~m).sum()) for m in maps)
        self._path_windows = None                  # row 1 + field + cell: path row codes; row 0: zeros
        if path_windows is None:
            path_windows = (r <= 5 and free * self.canvas_size <= WINDOW_TABLE_CELLS and not self.table.bounded
                            and guidance == "path")
        if path_windows and self.table.bounded:
            raise ValueError("path_windows needs every path field kept, but they exceed the field budget "
                             f"({field_budget_bytes:,} bytes); raise field_budget_bytes or walk (path_windows=False)")
        if path_windows:
            self._path_windows = torch.zeros((1, w), dtype=torch.int32, device=dev)
        self._build_offset_tables()
        self._build_walk_tables()

    def _build_offset_tables(self) -> None:
        """Canvas offset d = other - observer -> window row (w: outside) and bit, and window cell
        (row * w + col; huge outside), at index d + canvas_size."""
        r, w, wc = self.radius, self.width, self.stride
        d = torch.arange(-self.canvas_size, self.canvas_size + 1, device=self.device)
        dr = torch.div(d + r, wc, rounding_mode="floor")                                # unique while |dc| < wc - r
        dc = d - dr * wc
        inside = (dr.abs() <= r) & (dc.abs() <= r)
        self._offset_row = torch.where(inside, dr + r, w)
        self._offset_bit = torch.where(inside, 1 << (dc + r).clamp(0, w - 1), 0).int()
        self._offset_cell = torch.where(inside, (dr + r) * w + dc + r, 1 << 62)
        a = self.num_agents
        if not self.pairwise:
            return
        # pair layout of `_pair_cells`: (i, j, E) masks; (i, 2, 1, E) obs offsets of (env, observer, channel 1|2)
        self._not_self = ~torch.eye(a, dtype=torch.bool, device=self.device)[..., None]
        channel = torch.arange(self.num_envs * a * 3, device=self.device).view(-1, a, 3)[..., 1:] * (w * w)
        self._pair_slot = channel.permute(1, 2, 0)[:, :, None].contiguous()

    def _build_float_table(self) -> None:
        """Row codes -> float rows. For w <= 13 a table: rows [0, 2^w) turn row bits (agents, goals)
        into 0/+1, the next 3^w rows, from `_ch0` on, turn channel 0's ternary row code (digit 3^c:
        0 free, 1 path, 2 obstacle) into 0/+1/-1 (obstacle rows carry the `_ch0` offset). For
        w > 13 shifts unpack row bits instead (path and obstacles apart, `_ch0` = 0).
        `_path_digit[c]`: weight of a path cell in column c of a row code."""
        w, dev = self.width, self.device
        self._lut, self._ch0 = None, 0
        if w > 13:
            self._path_digit = self._bit
            return
        self._path_digit = (3 ** self._k).int()
        digits = torch.arange(3 ** w, device=dev)[:, None] // self._path_digit % 3
        ternary = torch.tensor([0.0, 1.0, -1.0], device=dev)[digits]
        bits = ((torch.arange(1 << w, device=dev)[:, None] >> self._k) & 1).float()       # (2^w, w)
        self._lut, self._ch0 = torch.cat([bits, ternary]), len(bits)

    def _build_walk_tables(self) -> None:
        """Walk state q: a window cell, or w*w once the walk stopped. One round reads a packed code
        (S moves in base 5) and looks up, by key = q * 5^S + code: the next q (stored times 5^S),
        the row codes (`_path_digit`) of the <= S window cells it marks and the canvas offset it moves by."""
        w, dev, steps = self.width, self.device, self.table.steps
        sink, radix = w * w, 5 ** steps
        q = torch.arange(sink + 1, device=dev)[:, None].expand(-1, radix)              # (w*w+1, 5^S)
        code = torch.arange(radix, device=dev)[None, :].expand(sink + 1, -1)
        r, c, alive = q // w, q % w, q < sink
        marks, flat = torch.zeros((sink + 1, radix, w), dtype=torch.int32, device=dev), torch.zeros_like(code)
        for k in range(steps):
            digit = code // 5 ** k % 5
            alive = alive & (digit > 0)
            r, c = r + self.moves[digit, 0] * alive, c + self.moves[digit, 1] * alive
            flat = flat + self.step_flat[digit]
            alive = alive & (r >= 0) & (r < w) & (c >= 0) & (c < w)
            marks.scatter_add_(2, r.clamp(0, w - 1)[..., None], (take(self._path_digit, c.clamp(0, w - 1))
                                                                  * alive)[..., None])
        self._q_sink, self._q_centre = sink * radix, (self.radius * w + self.radius) * radix
        self._q_next = (torch.where(alive, r * w + c, sink) * radix).reshape(-1)
        self._marks = marks.view(-1, w)                                                 # (keys, w)
        self._key_move = flat.reshape(-1)                                               # (keys,)

    # ------------------------------------------------------------------ state
    def set_maps(self, envs: Tensor, map_index: Tensor) -> None:
        """Env `envs[i]` now plays map `map_index[i]`."""
        rows = (envs[:, None] * self.num_agents + torch.arange(self.num_agents, device=self.device)).reshape(-1)
        self._map_base[rows] = (map_index * self.canvas_size).repeat_interleave(self.num_agents)

    def ensure_goals(self, map_index: np.ndarray, goals: np.ndarray) -> None:
        """Make the path fields of goals (G, 2) on maps (G,) available (CPU arrays)."""
        before = self.table.num_fields
        self.table.ensure(map_index, goals)
        if self._path_windows is not None and self.table.num_fields > before:
            self._store_path_windows(before)

    def _store_path_windows(self, first_field: int, rows_per_chunk: int = 16384) -> None:
        """Walk every cell of fields [first_field, num_fields) once; append their path row codes."""
        size, w, dev = self.canvas_size, self.width, self.device
        per_chunk = max(1, rows_per_chunk // size)
        parts = [self._path_windows]
        for f in range(first_field, self.table.num_fields, per_chunk):
            count = min(per_chunk, self.table.num_fields - f)
            fields = (torch.arange(f, f + count, device=dev) * size).repeat_interleave(size)
            cells = torch.arange(size, device=dev).repeat(count)
            parts.append(self._walk(fields, cells, torch.ones_like(cells, dtype=torch.bool))[0])
        self._path_windows = torch.cat(parts)

    def field_offsets(self, map_index: Tensor, goals: Tensor) -> Tensor:
        """Start of each goal's field; map_index (...,), goals (..., 2); fields ensured."""
        return self.table.offsets(map_index, goals)

    def obstacle(self, cells: Tensor) -> Tensor:
        """(E, A) bool: canvas cell `cells[e, a]` is an obstacle (pogema's border included) of env e's map."""
        return take(self._obstacle_cell, self._map_base.view(cells.shape) + cells)

    def cells(self, coords: Tensor) -> Tensor:
        """Canvas cells (...,) of map coordinates (..., 2)."""
        return (coords[..., 0] + self.radius) * self.stride + coords[..., 1] + self.radius

    # ------------------------------------------------------------------ observe
    def new_obs(self) -> tuple[Tensor, Tensor]:
        """An unfilled observation tensor (N, 3, w, w) and the flat buffer it views (one spare float
        at the end), for `observe(..., out=buffer)`."""
        w = self.width
        buffer = torch.empty(self.num_envs * self.num_agents * 3 * w * w + 1, device=self.device)
        return buffer[:-1].view(-1, 3, w, w), buffer

    def observe(self, cells: Tensor, goal_cells: Tensor, active: Tensor, fields: Tensor,
                out: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """`Observer.observe` of agents at canvas `cells` (E, A) (see `cells()`) with goals at
        `goal_cells` (E, A), `active` (E, A), goal path fields `fields` (N,) (`field_offsets`).

        Returns obs (N, 3, w, w) float32 (written into `out`, a `new_obs` buffer, if given) and
        each agent's next path cell (E, A) as a canvas cell (`cells`), -1 where it has no path
        (on its goal, or cut off)."""
        cell, gcell, act = cells.reshape(-1), goal_cells.reshape(-1), active.reshape(-1)
        base = torch.where(act, self._map_base + cell, self._obstacle_rows.numel() - self._zero_block
                           + self._zero_centre)
        obstacles = take(self._obstacle_rows, base[:, None] + self._window_rows)
        cost = None
        if self.guidance == "congestion-path":
            path, next_cell = self._congestion_path(fields, cell, act)
        else:
            if self.guidance == "cost-to-go":
                path = torch.zeros((cell.shape[0], self.width), dtype=torch.int32, device=self.device)
                first = take(self.table.codes, fields + cell).long() % 5
                cost = self._cost_to_go(fields, cell, act)
            elif self._path_windows is None:
                path, first = self._walk(fields, cell, act)
            else:
                here = fields + cell
                path = take(self._path_windows, torch.where(act, here + 1, 0))
                first = take(self.table.codes, here).long() % 5
            next_cell = torch.where(first > 0, cell + take(self.step_flat, first), -1)
        w = self.width
        buffer = self.new_obs()[1] if out is None else out
        obs = buffer[:-1].view(-1, 3, w, w)
        if self.pairwise:
            self._to_floats(obs, obstacles, path)
            buffer.index_put_((self._pair_cells(cell, gcell, act),), torch.ones((), device=self.device))
        else:
            self._to_floats(obs, obstacles, path, *self._grid_bits(cell, gcell, act))
        if cost is not None:
            obs[:, 0] += cost
        return obs, next_cell.view(cells.shape)

    def _cost_to_go(self, fields: Tensor, cell: Tensor, act: Tensor) -> Tensor:
        """`cost_to_go` of each row's distance window (N, w, w), zero on inactive rows."""
        w, dist = self.width, self.table.distances
        rows = dist.as_strided((dist.numel() - w + 1, w), (1, 1))                      # every w-cell run
        window = take(rows, (fields + cell)[:, None] + self._window_rows)              # (N, w, w)
        return cost_to_go(window).mul_(act[:, None, None])

    def _congestion_path(self, fields: Tensor, cell: Tensor, act: Tensor) -> tuple[Tensor, Tensor]:
        """Congestion-path row codes (N, w) (zero on inactive rows) and next canvas cells (N,) (-1: none).

        `walk_path`'s rule with `occupied`, walked on the canvas: each round reads the four neighbours'
        distances and whether an active agent stands there, for the walks still going (every row whose
        agent is off its goal and can reach it, inactive ones too: their next cell is returned as
        `Observer` returns it), and drops the walks that reached the goal or left the window."""
        n, w, size, dev = cell.shape[0], self.width, self.canvas_size, self.device
        dist, cells = self.table.distances, w * w
        here = self._env_base + cell
        occupied = torch.zeros(self.num_envs * size, dtype=torch.bool, device=dev)
        occupied[here[act]] = True
        path = torch.zeros(n * w, dtype=torch.int32, device=dev)
        first = torch.full((n,), -1, dtype=torch.long, device=dev)
        d = take(dist, fields + cell)
        rows = (d > 0).nonzero().squeeze(1)                                            # walks still going
        cur, d, field, base, centre = (take(x, rows) for x in (cell, d, fields, self._env_base, cell))
        around = self.step_flat[1:]                                                    # up, down, left, right
        for step in range(cells):
            if rows.numel() == 0:
                break
            nb = cur[:, None] + around                                                 # (L, 4) canvas cells
            closer = take(dist, field[:, None] + nb) == (d - 1)[:, None]
            free = ~take(occupied, base[:, None] + nb)
            choice = (closer.int() + (closer & free).int()).argmax(dim=1)             # first free closer, else first closer
            cur = nb.gather(1, choice[:, None]).squeeze(1)
            if step == 0:
                first[rows] = cur
            at = take(self._offset_cell, cur - centre + size)                          # window cell, huge outside
            inside = at < cells
            mark = at.clamp(max=cells - 1)
            path.index_add_(0, rows * w + mark // w, take(self._path_digit, mark % w) * inside)
            d = d - 1
            keep = (inside & (d > 0)).nonzero().squeeze(1)
            if keep.numel() < rows.numel():
                rows, cur, d, field, base, centre = (take(x, keep) for x in (rows, cur, d, field, base, centre))
        return path.view(n, w) * act[:, None], first

    def _grid_bits(self, cell: Tensor, gcell: Tensor, act: Tensor) -> tuple[Tensor, Tensor]:
        """Agents' and other agents' goals' row bits (N, w) int32, scattered on per-env canvases."""
        size, dev, k, w = self.num_envs * self.canvas_size, self.device, self._k, self.width
        here, there = self._env_base + cell, torch.where(act, self._env_base + gcell, size)
        window = torch.where(act, here, size + self._zero_centre)[:, None] + self._window_rows      # (N, w)
        grid = torch.zeros(size + self._zero_block, dtype=torch.int32, device=dev)
        bits = self._bit[:, None]                                                      # scatters laid out (w, N)
        grid.scatter_add_(0, (here - k[:, None]).view(-1), (bits * act).view(-1))     # cells distinct
        agents = take(grid, window)
        row = self._row
        owner = torch.empty(size + 1, dtype=torch.long, device=dev)
        owner.scatter_(0, there, row)                                                  # one writer per goal cell
        first = (take(owner, there) == row) & act
        grid = torch.zeros(size + self._zero_block, dtype=torch.int32, device=dev)
        grid.scatter_add_(0, (there.clamp(max=size - 1) - k[:, None]).view(-1), (bits * first).view(-1))
        goals = take(grid, window)
        count = torch.zeros(size + 1, dtype=torch.int32, device=dev)
        count.scatter_add_(0, there, act.int())
        d = (gcell - cell) + self.canvas_size                                          # own goal in the window
        own_row = take(self._offset_row, d)
        alone = act & (take(count, there) == 1) & (own_row < w)
        goals.view(-1).scatter_add_(0, row * w + own_row.clamp(max=w - 1), -take(self._offset_bit, d) * alone)
        return agents, goals

    def _pair_cells(self, cell: Tensor, gcell: Tensor, act: Tensor) -> Tensor:
        """For few agents, from all (observer i, agent j) pairs of each env: the flat obs indices of
        agents (channel 1) and other agents' goals (channel 2) inside windows, where a 1 goes (a
        goal that several agents share is just written twice). Pairs outside a window or with an
        inactive agent point past the end (dropped). Laid out (i, ..., j, E), envs innermost."""
        a = self.num_agents
        c, g, on = (x.view(-1, a).T.contiguous() for x in (cell, gcell, act))            # (A, E)
        both = on[:, None] & on[None]                                                   # (i, j, E) both active
        keep = torch.stack([both, both & self._not_self], dim=1)                        # (i, 2, j, E)
        d = torch.stack([c, g])[None] - (c - self.canvas_size)[:, None, None]           # (i, 2, j, E)
        flat = self._pair_slot + take(self._offset_cell, d)
        spare = self._pair_slot.numel() // 2 * 3 * self.width ** 2                      # the buffer's spare float
        return torch.where(keep, flat, spare).clamp_(max=spare).view(-1)

    def _walk(self, fields: Tensor, cell: Tensor, act: Tensor) -> tuple[Tensor, Tensor]:
        """Path row codes (N, w) int32 of each active row's window (zero for inactive rows) and
        every row's first successor code (N,) (0: no path)."""
        n, codes = cell.shape[0], self.table.codes
        at = fields + cell                                                              # position in `codes`
        code = take(codes, at)
        first = code.long() % 5
        key = torch.where(act, self._q_centre, self._q_sink) + code
        path = torch.zeros((n, self.width), dtype=torch.int32, device=self.device)
        rows = None                                                                     # None: all rows
        for step in range(-(-self.width * self.width // self.table.steps)):
            if step > 1 and (self.device.type == "cpu" or step % 2 == 1):             # syncs are dear on GPUs
                live = (key < self._q_sink).nonzero().squeeze(1)                   # (a code 0 ends it next round)
                if live.numel() == 0:
                    break
                if 4 * live.numel() < 3 * key.numel():                                 # drop stopped walks
                    key, at = take(key, live), take(at, live)
                    rows = live if rows is None else take(rows, live)
            if rows is None:                                                            # path cells are distinct:
                path += take(self._marks, key)                                         # sums of digits are codes
            else:
                path.index_add_(0, rows, take(self._marks, key))
            at = at + take(self._key_move, key)
            key = take(self._q_next, key) + take(codes, at)
        return path, first

    def _to_floats(self, obs: Tensor, obstacles: Tensor, path: Tensor, agents: Tensor | None = None,
                   goals: Tensor | None = None) -> None:
        """Fill obs (N, 3, w, w) from row codes (N, w): channel 0 = path - obstacles, channels 1, 2 =
        agents, goals (zeros when not given)."""
        w = self.width
        if self._lut is None:                                                           # w > 13: unpack bits
            rows = [obstacles, path] + ([] if agents is None else [agents, goals])
            planes = ((torch.stack(rows, dim=1)[..., None] >> self._k) & 1).float()   # (N, 2 | 4, w, w)
            torch.sub(planes[:, 1], planes[:, 0], out=obs[:, 0])
            obs[:, 1:] = 0 if agents is None else planes[:, 2:]
        elif agents is None:
            obs[:, 0] = take(self._lut, path + obstacles)
            obs[:, 1:] = 0
        else:
            codes = torch.stack([path + obstacles, agents, goals], dim=1)                 # (N, 3, w)
            torch.index_select(self._lut, 0, codes.view(-1), out=obs.view(-1, w))
