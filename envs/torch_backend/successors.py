"""The torch backend's path rule on its device: successor codes (planners/pathfinding.py) of many
(map, goal) fields, several steps packed per entry, so that one lookup advances a walk several cells.

Memory policy: one field is a canvas of int16 (a 256x256 map with r = 5: 141 KB), plus one of
int32 distances where the observations need them (guidance 'cost-to-go', 'congestion-path'). While every
field of every free cell fits in the byte budget, fields are computed once and kept (the table
grows, offsets never move). Beyond it (large maps, e.g. 256x256 with 4,096 agents and more) the
table is *bounded*: at most `budget_bytes` of fields, the least recently used field that no
caller still needs is evicted when a new one does not fit, and recomputed if its goal comes back;
asking for more fields at once than the budget holds is a `FieldBudgetError`.
"""
from __future__ import annotations

import numpy as np
import torch

from common.actions import ACTION_STEPS
from planners.pathfinding import FieldBudgetError, FieldSlots, canvas_fields

FIELD_BUDGET_BYTES = 4 << 30
"""Default byte budget of a `SuccessorTable`'s fields (4 GiB: 30,000 fields of a 256x256 map, r = 5)."""


def pack_steps(codes: np.ndarray, stride: int, steps: int) -> np.ndarray:
    """Codes of `steps` successive path steps in base 5: (G, cells) int8 -> int16 (steps <= 6).

    The reference of what `planners.pathfinding.packed_successor_codes` computes in its BFS (tests compare them).
    codes: successor codes of G fields laid out with row stride `stride`; digit k of
    the result is the code met after k steps from the cell (0 once the goal is reached).
    """
    delta = np.array([dr * stride + dc for dr, dc in ACTION_STEPS], dtype=np.int64)  # code k: action k
    cur = np.broadcast_to(np.arange(codes.shape[1]), codes.shape)
    packed = np.zeros(codes.shape, dtype=np.int64)
    for k in range(steps):
        code = np.take_along_axis(codes, cur, axis=1).astype(np.int64)
        packed += code * 5 ** k
        cur = cur + delta[code]
    return packed.astype(np.int16)


class SuccessorTable:
    """Path fields of (map, goal) pairs on one device, filled in batches: `steps` successor codes
    per cell packed in base 5, so one lookup advances a walk `steps` cells.

    Every map sits at (pad, pad) of a common canvas of (max rows + 2*pad) x (max cols + 2*pad)
    cells (row stride `canvas_shape[1]`); the field of goal g on map m is one canvas-sized
    int16 block of `codes` starting at `offsets(m, g)` (0 outside the map). Fields are
    computed on the CPU the first time `ensure` sees their goal; the module docstring says
    how long they are kept (`bounded`). With `distances`, `distances` holds each field's BFS
    distances (int32, -1 unreachable) at the same offsets, and a field takes 6 bytes a cell.
    """

    def __init__(self, obstacle_maps: list[np.ndarray], pad: int, device: str | object = "cpu", steps: int = 4,
                 budget_bytes: int = FIELD_BUDGET_BYTES, distances: bool = False):
        if not 1 <= steps <= 6:
            raise ValueError(f"steps={steps} must be in 1..6 (base-5 digits in an int16)")
        self.pad, self.device, self.steps = pad, torch.device(device), steps
        self._maps = obstacle_maps
        self._max = (max(m.shape[0] for m in obstacle_maps), max(m.shape[1] for m in obstacle_maps))
        self.canvas_shape = (self._max[0] + 2 * pad, self._max[1] + 2 * pad)
        self.canvas_size = self.canvas_shape[0] * self.canvas_shape[1]
        self.field_bytes = (6 if distances else 2) * self.canvas_size
        self.capacity = budget_bytes // self.field_bytes
        """fields the budget holds"""
        self.bounded = sum(int((~m).sum()) for m in obstacle_maps) > self.capacity
        """True: not every field fits, so unused fields are evicted (least recently used first)"""
        keys = len(obstacle_maps) * self._max[0] * self._max[1]
        self._slots = FieldSlots(keys, self.capacity if self.bounded else None, self.field_bytes,
                                 "pass a larger field_budget_bytes to TorchBatchedEnv, or use fewer agents or envs")
        self._offset = torch.full((keys,), -1, dtype=torch.long, device=self.device)
        self.codes = torch.zeros(0, dtype=torch.int16, device=self.device)
        self.distances = torch.zeros(0, dtype=torch.int32, device=self.device) if distances else None
        """BFS distances of the fields at the offsets of `codes` (None unless asked for)"""

    @property
    def num_fields(self) -> int:
        """Slots filled so far (a bounded table reuses evicted slots)."""
        return self._slots.used

    def _keys(self, map_index, goals):
        return (map_index * self._max[0] + goals[..., 0]) * self._max[1] + goals[..., 1]

    def ensure(self, map_index: np.ndarray, goals: np.ndarray, chunk: int = 256) -> None:
        """Compute the fields of goals (G, 2) on maps (G,) (map coordinates) that are not there yet.

        These are the fields in use: on a bounded table none of them is evicted by this call."""
        map_index = np.asarray(map_index, dtype=np.int64).reshape(-1)
        goals = np.asarray(goals, dtype=np.int64).reshape(-1, 2)
        keys, slots, evicted = self._slots.assign(np.unique(self._keys(map_index, goals)))
        if evicted.size:
            self._offset[torch.from_numpy(evicted).to(self.device)] = -1
        if keys.size == 0:
            return
        self._grow(self._slots.used)
        rows, cols = self._max
        m_of, rest = np.divmod(keys, rows * cols)
        for m in np.unique(m_of):
            mine, where = keys[m_of == m], slots[m_of == m]
            cells = np.stack(np.divmod(rest[m_of == m], cols), axis=1)
            for i in range(0, len(cells), chunk):
                packed, dist = canvas_fields(self._maps[m], cells[i:i + chunk], self.steps, self.pad,
                                             self.canvas_shape, self.distances is not None)
                at = torch.from_numpy(where[i:i + chunk]).to(self.device)
                self.codes.view(-1, self.canvas_size).index_copy_(0, at, torch.from_numpy(packed).to(self.device))
                if dist is not None:
                    self.distances.view(-1, self.canvas_size).index_copy_(0, at, torch.from_numpy(dist).to(self.device))
                self._offset[torch.from_numpy(mine[i:i + chunk]).to(self.device)] = at * self.canvas_size

    def _grow(self, fields: int) -> None:
        """Room for `fields` fields in `codes` (and `distances`): doubling, or for a bounded table the whole
        budget at once (never copied; on the CPU its pages take memory only once written). Unused slots are
        never read."""
        size = self.canvas_size
        if fields * size <= self.codes.numel():
            return
        want = self.capacity if self.bounded else max(fields, 2 * (self.codes.numel() // size))
        self.codes = _grown(self.codes, want * size)
        if self.distances is not None:
            self.distances = _grown(self.distances, want * size)

    def offsets(self, map_index, goals):
        """Start of each goal's field in `codes` (-1 where `ensure` has not seen it, or evicted it);
        tensors on the device.

        Args: map_index (...,) long; goals (..., 2) long map coordinates."""
        return self._offset[self._keys(map_index, goals)]


def _grown(values: torch.Tensor, size: int) -> torch.Tensor:
    """`values` at the start of an uninitialised tensor of `size` elements."""
    grown = torch.empty(size, dtype=values.dtype, device=values.device)
    grown[: values.numel()] = values
    return grown
