"""The torch backend's path rule on its device: successor codes (envs/pathfinding.py) of many
(map, goal) fields, several steps packed per entry, so that one lookup advances a walk several cells."""
from __future__ import annotations

import numpy as np
import torch

from envs.actions import ACTION_STEPS
from envs.pathfinding import bfs_distances_many, successor_codes


def pack_steps(codes: np.ndarray, stride: int, steps: int) -> np.ndarray:
    """Codes of `steps` successive path steps in base 5: (G, cells) int8 -> int16 (steps <= 6).

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
    per cell packed in base 5 (`pack_steps`), so one lookup advances a walk `steps` cells.

    Every map sits at (pad, pad) of a common canvas of (max rows + 2*pad) x (max cols + 2*pad)
    cells (row stride `canvas_shape[1]`); the field of goal g on map m is one canvas-sized
    int16 block of `codes` starting at `offsets(m, g)` (0 outside the map). Fields are
    computed on the CPU the first time `ensure` sees their goal, then kept: memory grows
    with the number of distinct goals, up to (free cells x canvas cells x 2 bytes) per map.
    """

    def __init__(self, obstacle_maps: list[np.ndarray], pad: int, device: str | object = "cpu", steps: int = 4):
        if not 1 <= steps <= 6:
            raise ValueError(f"steps={steps} must be in 1..6 (base-5 digits in an int16)")
        self.pad, self.device, self.steps = pad, torch.device(device), steps
        self._maps = obstacle_maps
        self._max = (max(m.shape[0] for m in obstacle_maps), max(m.shape[1] for m in obstacle_maps))
        self.canvas_shape = (self._max[0] + 2 * pad, self._max[1] + 2 * pad)
        self.canvas_size = self.canvas_shape[0] * self.canvas_shape[1]
        keys = len(obstacle_maps) * self._max[0] * self._max[1]
        self._offset_cpu = np.full(keys, -1, dtype=np.int64)
        self._offset = torch.full((keys,), -1, dtype=torch.long, device=self.device)
        self.codes = torch.zeros(0, dtype=torch.int16, device=self.device)
        self.num_fields = 0

    def _keys(self, map_index, goals):
        return (map_index * self._max[0] + goals[..., 0]) * self._max[1] + goals[..., 1]

    def ensure(self, map_index: np.ndarray, goals: np.ndarray, chunk: int = 256) -> None:
        """Compute the fields of goals (G, 2) on maps (G,) (map coordinates) that are not there yet."""
        map_index = np.asarray(map_index, dtype=np.int64).reshape(-1)
        goals = np.asarray(goals, dtype=np.int64).reshape(-1, 2)
        keys = np.unique(self._keys(map_index, goals))
        keys = keys[self._offset_cpu[keys] < 0]
        if keys.size == 0:
            return
        rows, cols = self._max
        m_of, rest = np.divmod(keys, rows * cols)
        for m in np.unique(m_of):
            mine = keys[m_of == m]
            cells = np.stack(np.divmod(rest[m_of == m], cols), axis=1)
            obstacles, p = self._maps[m], self.pad
            for i in range(0, len(cells), chunk):
                codes = successor_codes(obstacles, bfs_distances_many(obstacles, cells[i:i + chunk]))
                canvas = np.zeros((len(codes), *self.canvas_shape), dtype=np.int8)
                canvas[:, p:p + obstacles.shape[0], p:p + obstacles.shape[1]] = codes
                packed = pack_steps(canvas.reshape(len(codes), -1), self.canvas_shape[1], self.steps)
                self._append(packed, mine[i:i + chunk])

    def _append(self, blocks: np.ndarray, keys: np.ndarray) -> None:
        size = self.canvas_size
        needed = (self.num_fields + len(blocks)) * size
        if needed > self.codes.numel():
            grown = torch.zeros(max(needed, 2 * self.codes.numel()), dtype=torch.int16, device=self.device)
            grown[: self.num_fields * size] = self.codes[: self.num_fields * size]
            self.codes = grown
        start = self.num_fields * size
        self.codes[start: start + blocks.size] = torch.from_numpy(blocks.reshape(-1)).to(self.device)
        offsets = start + size * np.arange(len(keys), dtype=np.int64)
        self._offset_cpu[keys] = offsets
        self._offset[torch.from_numpy(keys).to(self.device)] = torch.from_numpy(offsets).to(self.device)
        self.num_fields += len(blocks)

    def offsets(self, map_index, goals):
        """Start of each goal's field in `codes` (-1 where `ensure` has not seen it); tensors on the device.

        Args: map_index (...,) long; goals (..., 2) long map coordinates."""
        return self._offset[self._keys(map_index, goals)]
