"""Guided PIBT: PIBT with congestion-aware guidance and a search-based escape from livelocks (`--algo guided-pibt`).

A centralised lifelong planner on the true state of every environment, one step per env step, built on
PIBT's priority inheritance and backtracking (planners.pibt.shielded_actions) with two switches:

- `guidance` (planners.congestion): the preference order of every agent is its distance to the goal plus
  a cost for the traffic the others' projected shortest paths bring (oncoming agents on the same edge,
  agents passing through a cell, an agent standing on it), so agents spread instead of queueing;
- `escape` (planners.escape): a livelock detector and a complete search over joint configurations. An
  environment is stuck when PIBT's next configuration repeats one of the last `WINDOW` configurations with
  no goal reached in between (agents swapping back and forth, or all waiting), or when its most urgent
  agent (PIBT's highest priority) has not come nearer its goal for `STUCK_STEPS` steps. The search then
  plans the `GROUP` agents nearest that agent (within `RADIUS`; the others stand still as obstacles) until
  one of them reaches its goal or the stuck agent is nearer its goal than ever. When the whole environment
  fits one group (Puzzles: 2-4 agents) the search is cheap enough to run ahead instead: whenever no plan
  is active, it plans all agents to the next goal reached. A plan is executed step by step with the group
  at the top of PIBT's priorities, its planned move first in each one's order, and dropped as soon as the
  world does not match it (PIBT goes on). A search that finds nothing within its budget is not retried for
  `COOLDOWN` steps.

Every move goes through `shielded_actions`, so no step has a vertex or swap conflict, whatever the plan
or the weights. Ties are broken by the caller's per-episode streams, so an episode depends on its seed.

Memory: one distance table per goal in use per map (planners.pibt.DistanceCache), the projections
(agents x horizon), and one search of at most `search_budget` configurations of `GROUP` agents: nothing
grows with the agents beyond the tables. A map and agent count whose tables do not fit the budget are
refused before the first step (`PlannerLimitError`, with the limit), not found out mid-episode.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np

from planners.congestion import Guidance, guided_fallbacks, guided_preferences
from planners.escape import BUDGET, escape_plan
from planners.pibt import (tie_breakers, CACHE_BYTES, CANDIDATE_ACTIONS, CANDIDATE_SLOT, CANDIDATE_STEPS, DistanceCache,
                           candidate_cells, rank_by_distance, shielded_actions, update_priorities)

WINDOW = 16
"""Configurations remembered per environment (since the last goal reached) to detect a repeat."""
STUCK_STEPS = 16
"""Steps without coming nearer its goal after which the most urgent agent counts as stuck."""
GROUP = 4
"""Agents planned together by an escape search at most: the stuck one and its nearest neighbours ..."""
RADIUS = 6
"""... within this many steps (Manhattan) of it."""
COOLDOWN = 8
"""Steps an environment waits after a search that found no plan."""
STEP_ACTION = np.zeros((3, 3), dtype=np.int64)
STEP_ACTION[CANDIDATE_STEPS[:, 0] + 1, CANDIDATE_STEPS[:, 1] + 1] = CANDIDATE_ACTIONS
"""The action code of a step (d_row + 1, d_col + 1)."""


class PlannerLimitError(ValueError):
    """A map and agent count the planner cannot serve within its memory budget; the message names the limit."""


class GuidedPIBTPlanner:
    """Guided PIBT for all environments of a batched env (module docstring); the interface of
    planners.pibt.PIBTPlanner: reset, new_episodes, actions.

    Args:
        guidance: rank by distance plus congestion cost (False: PIBT's distance order).
        escape: detect livelocks and run the configuration search (False: never).
        weights: the congestion cost's weights.
        budget_bytes: distance tables per map (planners.pibt.DistanceCache).
        search_budget: configurations one escape search keeps at most (planners.escape).
    """

    def __init__(self, guidance: bool = True, escape: bool = True, weights: Guidance = Guidance(),
                 budget_bytes: int = CACHE_BYTES, search_budget: int = BUDGET) -> None:
        self.guidance, self.escape, self.weights, self.search_budget = guidance, escape, weights, search_budget
        self.distances = DistanceCache(budget_bytes)
        self.searches = self.plans = 0
        """escape searches run and plans found (all environments, since construction)"""
        self._checked: set[tuple] = set()         # (env's maps, envs, agents) already checked
        self.reset(0, 0, [])

    # ------------------------------------------------------------------ episodes
    def reset(self, num_envs: int, num_agents: int, rngs: Sequence[np.random.Generator]) -> None:
        """Every env starts an episode."""
        shape = (num_envs, num_agents)
        self._ties, self._priorities = np.zeros(shape), np.zeros(shape)
        self._last_goals = np.full((*shape, 2), -1, dtype=np.int64)
        self._best, self._since = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        self._history: list[deque] = [deque(maxlen=WINDOW) for _ in range(num_envs)]
        self._plans: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * num_envs
        """per env: (live agents, group among them, the group's planned cells (T+1, g, 2)) or None"""
        self._cooldown = np.zeros(num_envs, dtype=np.int64)
        self.new_episodes(range(num_envs), rngs)

    def new_episodes(self, envs: Sequence[int], rngs: Sequence[np.random.Generator]) -> None:
        """Envs `envs` start an episode: fresh tie-breakers from `rngs[e]`, no history, no plan."""
        for e in envs:
            self._ties[e] = self._priorities[e] = tie_breakers(rngs[e], self._ties.shape[1])
            self._last_goals[e] = -1
            self._history[e].clear()
            self._plans[e] = None
            self._cooldown[e] = 0

    # ------------------------------------------------------------------ limits
    def check_capacity(self, env: Any) -> None:
        """PlannerLimitError if some map of `env` needs more distance tables at once (one per goal of every
        environment that may play it) than `budget_bytes` holds; checked once per env's map set and size."""
        num_envs, num_agents = self._ties.shape
        key = (id(env.resolved), num_envs, num_agents)
        if key in self._checked:
            return
        for spec in env.resolved.maps:
            obstacles = spec.obstacles
            item = 2 if (~obstacles).sum() < np.iinfo(np.uint16).max else 4
            capacity = self.distances.budget_bytes // (obstacles.size * item)
            needed = num_envs * num_agents
            if needed > capacity:
                raise PlannerLimitError(
                    f"guided-pibt keeps one distance table per goal in use: {num_envs} env(s) x {num_agents} agents "
                    f"on a {obstacles.shape[0]}x{obstacles.shape[1]} map may need {needed:,} tables of "
                    f"{obstacles.size * item:,} bytes ({needed * obstacles.size * item / 2**30:.2f} GiB), over its "
                    f"budget of {self.distances.budget_bytes / 2**30:.2f} GiB ({capacity:,} tables); use at most "
                    f"{capacity:,} agents per env on this map, or fewer envs")
        self._checked.add(key)

    # ------------------------------------------------------------------ acting
    def actions(self, env: Any, rngs: Sequence[np.random.Generator],
                preferences: np.ndarray | None = None) -> np.ndarray:
        """(E*A,) int64 actions for the current state of `env` (0 for frozen envs and inactive agents).

        `preferences`: (E*A, 5) a policy's ranking per row (the guided shield: its first choice kept, the
        rest in guided order; no escape, which plans several steps); None: the planner's own.
        """
        self.check_capacity(env)
        num_envs, num_agents = self._ties.shape
        actions = np.zeros(num_envs * num_agents, dtype=np.int64)
        positions, goals, active = env.positions.cpu().numpy(), env.goals.cpu().numpy(), env.active.cpu().numpy()
        for e in (~env.frozen.cpu()).nonzero().flatten().tolist():
            live = active[e].nonzero()[0]
            obstacles = env.resolved.maps[env.tasks[e].map_index].obstacles
            rows = e * num_agents + live
            policy = None if preferences is None else preferences[rows]
            actions[rows] = self._step(e, obstacles, live, positions[e], goals[e], rngs[e], policy)
        return actions

    def _step(self, e: int, obstacles: np.ndarray, live: np.ndarray, positions: np.ndarray, goals: np.ndarray,
              rng: np.random.Generator, policy: np.ndarray | None) -> np.ndarray:
        """Actions of env e's live agents."""
        new_goal = (goals != self._last_goals[e]).any(-1)
        at_goal = (positions == goals).all(-1) | new_goal
        self._priorities[e] = update_priorities(self._priorities[e], at_goal, self._ties[e])
        self._last_goals[e] = goals
        if at_goal.any():
            self._history[e].clear()
        if live.size == 0:
            return np.zeros(0, dtype=np.int64)
        pos, goal = positions[live], goals[live]
        r, c, free = candidate_cells(obstacles, pos)
        dist = self.distances.at(obstacles, goal, r, c)
        self._track_progress(e, live, dist[:, 4], new_goal[live])
        if self.guidance:
            order = guided_preferences(obstacles, goal, self.distances, dist, r, c, free, self.weights, rng)
        else:
            order = rank_by_distance(dist, obstacles.size, rng)
        priorities = self._priorities[e, live]
        if policy is not None:
            order = guided_fallbacks(policy, order) if self.guidance else policy
            return shielded_actions(obstacles, pos, order, priorities)
        if not self.escape:
            return shielded_actions(obstacles, pos, order, priorities)
        self._history[e].append(pos.tobytes())
        if self._plans[e] is not None and not np.array_equal(self._plans[e][0], live):
            self._plans[e] = None
        if self._plans[e] is None:
            acts = shielded_actions(obstacles, pos, order, priorities)
            stuck = self._stuck(e, live, pos, acts)
            if stuck is None:
                return acts
            self._plans[e] = self._search(e, obstacles, live, pos, goal, stuck)
            if self._plans[e] is None:
                return acts
        return self._follow(e, obstacles, pos, order, priorities)

    def _track_progress(self, e: int, live: np.ndarray, here: np.ndarray, new_goal: np.ndarray) -> None:
        """Best distance to the current goal and steps since it improved, per live agent."""
        best, since = self._best[e, live], self._since[e, live]
        better = new_goal | (here < best)
        self._best[e, live] = np.where(better, here, best)
        self._since[e, live] = np.where(better, 0, since + 1)

    def _stuck(self, e: int, live: np.ndarray, pos: np.ndarray, acts: np.ndarray) -> int | None:
        """Index (among the live agents) of the agent an escape should serve, or None (module docstring)."""
        if self._cooldown[e] > 0:
            self._cooldown[e] -= 1
            return None
        urgent = int(np.argmax(self._priorities[e, live]))
        if len(live) <= GROUP:                                     # the whole env is one group: plan ahead
            return urgent
        if self._since[e, live[urgent]] >= STUCK_STEPS:
            return urgent
        following = (pos + CANDIDATE_STEPS[CANDIDATE_SLOT[acts]]).tobytes()
        if following in self._history[e]:
            return urgent
        return None

    def _search(self, e: int, obstacles: np.ndarray, live: np.ndarray, pos: np.ndarray, goal: np.ndarray,
                stuck: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """An escape plan for the GROUP agents nearest agent `stuck`: (live, group, cells) or None."""
        self.searches += 1
        near = np.abs(pos - pos[stuck]).sum(1)
        group = np.argsort(near, kind="stable")[:GROUP]
        whole = len(live) <= GROUP
        if not whole:
            group = group[near[group] <= RADIUS]
        local = obstacles.copy()
        local[pos[:, 0], pos[:, 1]] = True
        local[pos[group, 0], pos[group, 1]] = False
        tables = self.distances.tables(obstacles, [tuple(g) for g in goal[group]])
        best = 0 if whole else int(self._best[e, live[stuck]])      # ahead: plan to the next goal reached
        cells = escape_plan(local, pos[group], goal[group], tables, 0, best, self.search_budget)
        if cells is None:
            self._cooldown[e] = COOLDOWN
            return None
        self.plans += 1
        return live, group, cells

    def _follow(self, e: int, obstacles: np.ndarray, pos: np.ndarray, order: np.ndarray,
                priorities: np.ndarray) -> np.ndarray:
        """The next step of env e's plan: the group first, each with its planned move first; the plan is
        dropped when the group is not where the plan says or a planned move cannot be made."""
        live, group, cells = self._plans[e]
        if not np.array_equal(pos[group], cells[0]):
            self._plans[e] = None
            return shielded_actions(obstacles, pos, order, priorities)
        step = cells[1] - cells[0] + 1
        planned = STEP_ACTION[step[:, 0], step[:, 1]]
        order, rank = order.copy(), priorities.astype(np.float64).copy()
        top = rank.max(initial=0.0) + len(group) + 1
        for k, (agent, action) in enumerate(zip(group.tolist(), planned.tolist())):
            row = order[agent]
            order[agent] = np.concatenate([[action], row[row != action]])
            rank[agent] = top - k
        acts = shielded_actions(obstacles, pos, order, rank)
        done = not np.array_equal(acts[group], planned) or len(cells) <= 2
        self._plans[e] = None if done else (live, group, cells[1:])
        return acts

