"""pogema 1.4.0's moves and collision systems as batched tensor operations.

All functions work on E environments x A agents at once. Cells are flat indices
into one canvas per environment (`cell = row * stride + col`, every map
surrounded by at least one ring of obstacles, so a move never leaves the
canvas). Each returns `moved` (E, A): which agents end this step on their
target cell; every other agent stays where it is.

How each system of `pogema.envs.Pogema.move_agents` reduces to closed form
(derivations in docs/torch_backend.md, checked against pogema by
tests/test_torch_backend_equivalence.py):

block_both  A move succeeds iff its target is free of obstacles, is no active
            agent's current cell, and no other active agent targets it (pogema
            marks every current cell and every cell wanted twice as blocked).
priority    Agents move one after another in index order (`Grid.move`). Agent i
            enters cell X iff X is free when its turn comes: X's occupant k (if
            any) has a lower index and moved away, and i is the lowest-index
            agent among those that want X and could take it at their turn
            (index above k's, target not an obstacle). So
            moved_i = s_i & moved_k, a chain towards strictly lower indices.
soft        Vertex conflicts go to the lowest index wanting a cell (the
            reverse-order pass reverts every later claimant while the first is
            still listed); a swap (two agents trading cells) reverts both (the
            edge pass reverts the lower index, whose return then reverts the
            other); a revert cascades back through everybody who wanted the
            reverted agent's cell (`_revert_action`). Cycles of three or more
            agents all move. So moved_i = s_i & moved_k, k = occupant of i's
            target, taking the greatest solution (cycles stay True).

Both chain rules are solved by pointer jumping: ceil(log2 A) rounds of
`val &= val[next]; next = next[next]`, a fixed number of tensor ops, no data-
dependent loop and no loop over agents.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

STAY = 0


class _Cells:
    """Who is where and who wants what, per env: on a dense (E, cells) canvas, or from all
    (A x A) agent pairs when that is cheaper (few agents). Same answers either way."""

    def __init__(self, cell: Tensor, target: Tensor, active: Tensor, size: int, pairwise: bool):
        self.cell, self.target, self.active, self.size, self.pairwise = cell, target, active, size, pairwise
        num_envs, num_agents = cell.shape
        self.agent = torch.arange(num_agents, device=cell.device).expand(num_envs, -1)
        if pairwise:                                    # pairs as (i, j, E): envs innermost vectorise
            self._target_t, self._active_t = target.T.contiguous(), active.T.contiguous()      # (A, E)
            self._wanted = self._target_t[:, None] == self._target_t[None]                     # (i, j, E)
            self._index = torch.arange(num_agents, device=cell.device)[None, :, None]          # (1, j, 1)

    def occupant(self) -> Tensor:
        """(E, A) index of the active agent standing on each agent's target, -1 if none."""
        if self.pairwise:
            there = (self._target_t[:, None] == self.cell.T[None]) & self._active_t[None]      # (i, j, E)
            return ((there * (self._index + 1)).sum(dim=1) - 1).T                           # at most one j
        occ = torch.full((self.cell.shape[0], self.size + 1), -1, dtype=torch.long, device=self.cell.device)
        occ.scatter_(1, torch.where(self.active, self.cell, self.size), self.agent)
        occ[:, self.size] = -1
        return occ.gather(1, self.target)

    def first_claimant(self, eligible: Tensor) -> Tensor:
        """(E, A) lowest index among the `eligible` agents that want the same cell as each agent."""
        num_agents = self.cell.shape[1]
        if self.pairwise:
            mine = self._wanted & eligible.T[None]
            return torch.where(mine, self._index, num_agents).amin(dim=1).T
        first = torch.full((self.cell.shape[0], self.size + 1), num_agents, dtype=torch.long, device=self.cell.device)
        first.scatter_reduce_(1, torch.where(eligible, self.target, self.size), self.agent, reduce="amin")
        return first.gather(1, self.target)

    def claims(self) -> Tensor:
        """(E, A) number of active agents that want each agent's target."""
        if self.pairwise:
            return (self._wanted & self._active_t[None]).sum(dim=1).T
        count = torch.zeros((self.cell.shape[0], self.size + 1), dtype=torch.long, device=self.cell.device)
        count.scatter_add_(1, torch.where(self.active, self.target, self.size), self.active.long())
        return count.gather(1, self.target)


def _and_along_chain(value: Tensor, nxt: Tensor, agent: Tensor) -> Tensor:
    """AND of `value` over each agent's chain i -> nxt[i] -> ... (nxt[i] = i ends it), per env.
    `agent`: (E, A) each agent's own index. On the CPU the rounds stop once every chain is
    followed to its end (usually after a few); all-True cycles keep them going to the bound."""
    rounds = max(1, math.ceil(math.log2(max(value.shape[1], 2))))
    nxt = torch.where(value, nxt, agent)                      # a False ends the chain: its AND is False
    for r in range(rounds):
        value = value & value.gather(1, nxt)
        if r + 1 == rounds:
            break
        after = nxt.gather(1, nxt)
        if value.device.type == "cpu" and torch.equal(after, nxt):
            break
        nxt = after
    return value


def resolve_moves(system: str, cell: Tensor, target: Tensor, active: Tensor, actions: Tensor,
                  blocked: Tensor, size: int, pairwise: bool = False) -> Tensor:
    """Which agents move this step.

    Args:
        system: 'block_both', 'priority' or 'soft'.
        cell, target: (E, A) long current and wanted cells (flat, < size).
        active: (E, A) bool agents on the grid (others neither move nor block).
        actions: (E, A) long; 0 is stay.
        blocked: (E, A) bool the target is an obstacle.
        size: cells per environment canvas.
        pairwise: find conflicts from agent pairs instead of a canvas (faster for few agents).
    Returns:
        moved: (E, A) bool.
    """
    cells = _Cells(cell, target, active, size, pairwise)
    agent = cells.agent
    wants = active & (actions != STAY) & ~blocked
    occupant = cells.occupant()                                               # (E, A) -1: free
    if system == "block_both":
        return wants & (occupant < 0) & (cells.claims() == 1)
    if system == "priority":
        eligible = wants & (occupant < agent)                                 # -1 < agent: free cell
        ok = eligible & (cells.first_claimant(eligible) == agent)
    elif system == "soft":
        swap = (occupant >= 0) & (target.gather(1, occupant.clamp(min=0)) == cell)
        ok = wants & ~swap & (cells.first_claimant(active) == agent)
    else:
        raise ValueError(f"collision_system={system!r} is not one of ['block_both', 'priority', 'soft']")
    nxt = torch.where(occupant >= 0, occupant, agent)
    return _and_along_chain(ok, nxt, agent)
