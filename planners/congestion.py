"""Congestion-aware guidance: PIBT's preference order with a cost for the traffic other agents will bring.

PIBT ranks an agent's candidate cells by distance to its goal alone, so every agent heads down its own
shortest path and the busiest corridors get busier. Here every agent's shortest path is projected
`horizon` steps ahead (the path rule: the first closer neighbour in up, down, left, right order), the
projections are counted per cell and per directed edge, and each candidate is ranked by

    distance to the goal + squash(contraflow x agents planning to cross the same edge the other way
                                 + crowding x other agents planning to pass through the cell
                                 + occupied x (another agent stands on the cell now))

(the flow idea of traffic-flow guidance for lifelong MAPF, Chen et al., AAAI 2024, reduced to one
vectorised step). The squash, TIE_SHARE x c / (1 + c), keeps the cost below one step: among cells equally
near the goal (two shortest directions, two side steps) the less busy comes first, and a step nearer the
goal always beats waiting. Costs of a step or more were tried first and were much worse: two streams
facing each other each preferred to wait for the other (docs/planners.md). The ranking feeds
`planners.pibt.shielded_actions` unchanged, so moves stay free of conflicts whatever the weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planners.pibt import DistanceCache, candidate_cells, put_first, rank_by_distance

SCALE = 64
"""Costs are ranked as integers: distance x SCALE + round(penalty x SCALE)."""
TIE_SHARE = 0.9
"""Penalties are squashed into [0, TIE_SHARE): below one step of distance, so they only order cells that are
equally near the goal, and a step nearer always beats waiting (a larger penalty lets two streams of agents
each wait for the other: a deadlock)."""
OPPOSITE = np.array([1, 0, 3, 2, 4])
"""Candidate index of the opposite move (up <-> down, left <-> right; stay: itself)."""


@dataclass(frozen=True)
class Guidance:
    """Weights of the congestion cost (module docstring), before it is squashed below one step."""

    horizon: int = 4
    """steps of each agent's shortest path counted as its planned traffic"""
    contraflow: float = 1.0
    """per agent planning to cross the candidate's edge the other way"""
    crowding: float = 0.5
    """per other agent planning to pass through the candidate cell"""
    occupied: float = 0.5
    """when another agent stands on the candidate cell now (it would have to be pushed)"""

    def __post_init__(self) -> None:
        problems = [f"{name}={getattr(self, name)!r} must be >= 0" for name in ("contraflow", "crowding", "occupied")
                    if not getattr(self, name) >= 0]
        if not 1 <= self.horizon <= 64:
            problems.append(f"horizon={self.horizon!r} must be in 1..64")
        if problems:
            raise ValueError("invalid guidance weights: " + "; ".join(problems))


def projected_moves(obstacles: np.ndarray, goals: np.ndarray, cache: DistanceCache, first: np.ndarray,
                    rows: np.ndarray, cols: np.ndarray, free: np.ndarray, horizon: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each agent's shortest path `horizon` steps ahead, ignoring the others.

    Args:
        first: (A, 5) distances of the agents' candidate cells (CANDIDATE_ACTIONS order, -1 unreachable).
        rows, cols, free: (A, 5) those cells and whether each is free (`candidate_cells`).

    Returns:
        cells (A, horizon + 1) flat cells (column 0: where the agents stand) and moves (A, horizon)
        candidate index of each step (4: stay, at the goal or with no closer cell).
    """
    width = obstacles.shape[1]
    n = len(goals)
    cells = np.empty((n, horizon + 1), dtype=np.int64)
    moves = np.empty((n, horizon), dtype=np.int64)
    d, r, c, ok = first, rows, cols, free
    cells[:, 0] = r[:, 4] * width + c[:, 4]
    for k in range(horizon):
        if k:
            r, c, ok = candidate_cells(obstacles, np.stack(np.divmod(cells[:, k], width), axis=1))
            d = cache.at(obstacles, goals, r, c)
        step = np.where(ok[:, :4] & (d[:, :4] >= 0), d[:, :4], np.iinfo(np.int32).max)
        best = step.argmin(1)                                                      # first closer neighbour
        closer = step[np.arange(n), best] < np.where(d[:, 4] >= 0, d[:, 4], 0)
        moves[:, k] = np.where(closer, best, 4)
        cells[:, k + 1] = r[np.arange(n), moves[:, k]] * width + c[np.arange(n), moves[:, k]]
    return cells, moves


def congestion_costs(obstacles: np.ndarray, cells: np.ndarray, moves: np.ndarray, rows: np.ndarray,
                     cols: np.ndarray, free: np.ndarray, weights: Guidance) -> np.ndarray:
    """(A, 5) penalties of the agents' candidate cells (module docstring), from the projections of
    `projected_moves` and the candidates' cells and freedom (`candidate_cells`)."""
    width, size = obstacles.shape[1], obstacles.size
    n = len(cells)
    target = rows * width + cols                                                   # (A, 5)
    here = cells[:, :1]
    travelled = moves < 4
    flow = np.bincount((cells[:, :-1] * 5 + moves)[travelled], minlength=size * 5)   # agents leaving a cell by a move
    visits = np.bincount(cells[:, 1:][travelled], minlength=size)
    standing = np.bincount(here[:, 0], minlength=size)
    contra = flow[target * 5 + OPPOSITE]                                           # crossing my edge towards me
    contra[:, 4] = 0
    mine = (cells[:, 1:, None] == target[:, None, :]) & travelled[:, :, None]      # my own projection's visits
    crowd = visits[target] - mine.any(1)
    occupied = standing[target] - (target == here)
    cost = weights.contraflow * contra + weights.crowding * crowd + weights.occupied * occupied
    return np.where(free, TIE_SHARE * cost / (1.0 + cost), 0.0)


def guided_preferences(obstacles: np.ndarray, goals: np.ndarray, cache: DistanceCache, dist: np.ndarray,
                       rows: np.ndarray, cols: np.ndarray, free: np.ndarray, weights: Guidance,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """(A, 5) action codes, cheapest first: distance plus congestion cost (module docstring); unreachable
    cells ranked as `planners.pibt.rank_by_distance` ranks them, ties broken by `rng`."""
    cells, moves = projected_moves(obstacles, goals, cache, dist, rows, cols, free, weights.horizon)
    penalty = np.rint(congestion_costs(obstacles, cells, moves, rows, cols, free, weights) * SCALE).astype(np.int64)
    scaled = np.where(dist >= 0, dist.astype(np.int64) * SCALE + penalty, -1)
    return rank_by_distance(scaled, int(scaled.max(initial=0)) + 2, rng)


def guided_fallbacks(policy: np.ndarray, guided: np.ndarray) -> np.ndarray:
    """A policy's ranking (A, 5) with its first choice kept and the other four in the guided order: the
    guided shield (the policy decides; where its choice cannot be executed, traffic decides what follows)."""
    return put_first(guided, np.asarray(policy)[:, 0])
