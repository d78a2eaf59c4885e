"""The local shared pool's selection: each agent's K nearest agents of its environment.

An agent reads its own memory and those of the nearest other agents within a
square window of `radius` cells (Chebyshev distance), nearest first, at most
K in all. Ties are broken by the cell's offset (a fixed order of the window),
never by the agents' indices, so relabelling the agents relabels the selection
(permutation equivariance). The search is a lookup in an occupancy grid, one
gather of (2*radius+1)^2 cells per agent: O(A * radius^2) time and memory per
step, linear in the number of agents. Two agents on one cell (possible only
after arrival in `finish` mode) are seen by others as one: the lower row.

>>> import torch
>>> positions = torch.tensor([[[0, 0], [0, 1], [5, 5]]])  # 1 env, 3 agents (row, col)
>>> index, valid = local_neighbours(positions, neighbours=2, radius=2)
>>> index.tolist(), valid.tolist()
([[0, 1], [1, 0], [2, 2]], [[True, True], [True, True], [True, False]])
"""
from __future__ import annotations

import torch


def window_offsets(radius: int) -> torch.Tensor:
    """(W, 2) cell offsets (d_row, d_col) of the window, nearest first: by Chebyshev, then
    Manhattan distance, then row and column offset; (0, 0) first."""
    span = torch.arange(-radius, radius + 1)
    offsets = torch.cartesian_prod(span, span)  # (W, 2)
    chebyshev = offsets.abs().amax(dim=1)
    manhattan = offsets.abs().sum(dim=1)
    side = 2 * radius + 1
    key = (chebyshev * (2 * side) + manhattan) * side * side + (offsets[:, 0] + radius) * side + offsets[:, 1] + radius
    return offsets[key.argsort()]


def local_neighbours(positions: torch.Tensor, neighbours: int,
                     radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows each agent reads in a local pool.

    Args:
        positions: (E, A, 2) long map cells (row, col) of every agent, environment-major.
        neighbours: K, memories read per agent, its own included (K >= 1).
        radius: Chebyshev radius of the search window.

    Returns:
        index (E*A, K') long rows (e*A + a) read by each row, its own first, then nearest first,
        K' = min(K, A); valid (E*A, K') bool, False where fewer than K' agents are within the
        radius (those entries point at the row itself and must be masked).
    """
    if positions.dim() != 3 or positions.shape[-1] != 2:
        raise ValueError(f"positions shape {tuple(positions.shape)} must be (E, A, 2) map cells")
    envs, agents = positions.shape[:2]
    rows = envs * agents
    device = positions.device
    own = torch.arange(rows, device=device)  # (B,)
    others = min(neighbours - 1, agents - 1)
    if others <= 0:
        return own[:, None], torch.ones(rows, 1, dtype=torch.bool, device=device)
    shifted = positions.long() - positions.amin(dim=(0, 1)) + radius  # (E, A, 2), >= radius
    height, width = (shifted.amax(dim=(0, 1)) + radius + 1).tolist()
    cell = (torch.arange(envs, device=device)[:, None] * height + shifted[..., 0]) * width + shifted[..., 1]
    empty = rows  # no agent there
    grid = torch.full((envs * height * width,), empty, dtype=torch.long, device=device)
    grid.scatter_reduce_(0, cell.flatten(), own, reduce="amin")  # lowest row per occupied cell
    offsets = window_offsets(radius).to(device)  # (W, 2)
    shift = offsets[:, 0] * width + offsets[:, 1]  # (W,) flat offsets, inside the padded grid
    seen = grid[cell.flatten()[:, None] + shift]  # (B, W) occupant row of each window cell
    present = (seen != empty) & (seen != own[:, None])  # (B, W)
    order = torch.arange(seen.shape[1], device=device)
    rank = torch.where(present, order, seen.shape[1])  # (B, W): absent cells sort last
    first = rank.topk(min(others, seen.shape[1]), dim=1, largest=False).values  # (B, K-1) sorted
    found = first < seen.shape[1]  # (B, K-1)
    picked = seen.gather(1, first.clamp(max=seen.shape[1] - 1))  # (B, K-1)
    picked = torch.where(found, picked, own[:, None])
    index = torch.cat([own[:, None], picked], dim=1)  # (B, K')
    valid = torch.cat([torch.ones_like(found[:, :1]), found], dim=1)  # (B, K')
    return index, valid
