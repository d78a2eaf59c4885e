"""`TorchBatchedEnv`: pogema 1.4.0's dynamics as tensor operations over E envs x A agents.

Same interface and row contract as `envs.pogema_backend.PogemaBatchedEnv` (see
its module docstring and docs/architecture.md): rows e*A + a, auto-reset per
env, `infos = {"ended": (E,), "metrics": {name: (N,) NaN where not ended}}`.
What differs is who moves the agents: `envs.torch_backend.dynamics` instead of
pogema, on any torch device. Rewards and metrics come from the same functions
(`envs.rewards`, `envs.metrics`); observations from `TableObserver`, a
tensor-only path to exactly what `envs.observation.Observer` computes (tested
step by step); tasks from the same samplers (`envs.task`), placed as pogema
places them (`envs.torch_backend.lifelong`), so one seed gives one episode in
both backends. docs/torch_backend.md has the details.

Per step there is no Python loop over envs or agents; the host only learns
which envs ended (one small device->host copy) to build their next tasks, and,
when the path fields exceed their memory budget (large maps, thousands of
agents: `SuccessorTable.bounded`), which goals are new, to compute their fields.
"""
from __future__ import annotations

from typing import Callable

import gymnasium
import numpy as np
import torch
from torch import Tensor

from envs.batched import BatchedEnv
from envs.config import EnvConfig, is_lifelong
from planners.pathfinding import FieldBudgetError
from envs.relay import task_view
from envs.rewards import step_rewards
from envs.task import Task
from envs.torch_backend.dynamics import resolve_moves
from envs.torch_backend.lifelong import TaskCells
from envs.torch_backend.observe import TableObserver, take
from envs.torch_backend.successors import FIELD_BUDGET_BYTES


class TorchBatchedEnv(BatchedEnv):
    """E environments stepped as tensors on `device`, behind the batched row contract.

    Example:
        >>> env = TorchBatchedEnv(EnvConfig(map_name="bottleneck-3"), num_envs=4)
        >>> obs, _ = env.reset()
        >>> tuple(obs.shape)
        (8, 3, 5, 5)
    """

    def __init__(self, config: EnvConfig, num_envs: int, device: torch.device | str = "cpu",
                 task_source: Callable[[int], Task] | None = None, auto_reset: bool = True,
                 field_budget_bytes: int = FIELD_BUDGET_BYTES):
        """Args as `BatchedEnv` (`device`: where the state lives and the step runs);
        `field_budget_bytes`: memory for the path fields (docs/scale.md); FieldBudgetError here,
        before any field is computed, if the E x A current goals could need more."""
        super().__init__(config, num_envs, device, task_source, auto_reset)
        cfg = self.config
        self._cells = TaskCells(self.resolved.maps, self.num_agents, cfg.max_episode_steps, cfg.obs_radius)
        self._observer = TableObserver([m.obstacles for m in self.resolved.maps], cfg.obs_radius, num_envs,
                                       self.num_agents, self.device, field_budget_bytes=field_budget_bytes,
                                       guidance=cfg.guidance)
        table = self._observer.table
        self._bounded = table.bounded                         # fields of current goals only, made as they come
        if self._bounded and self.num_rows > table.capacity:
            raise FieldBudgetError(
                f"{num_envs} env(s) x {self.num_agents} agents may hold {self.num_rows} distinct goals at once, "
                f"whose path fields (one {table.canvas_shape[0]}x{table.canvas_shape[1]} "
                f"{'int16' if table.distances is None else 'int16 + int32'} canvas each, "
                f"{table.field_bytes:,} bytes, for obs_radius={cfg.obs_radius}) need "
                f"{self.num_rows * table.field_bytes / 2**30:.2f} GiB, over field_budget_bytes="
                f"{field_budget_bytes:,} ({table.capacity} fields); raise the budget or use fewer agents or envs")
        dev, shape = self.device, (num_envs, self.num_agents)
        # the state the step runs on: canvas cells (E, A), each goal's path field (N,)
        self._cell = torch.zeros(shape, dtype=torch.long, device=dev)
        self._goal_cell = torch.zeros(shape, dtype=torch.long, device=dev)
        self._fields = torch.zeros(self.num_rows, dtype=torch.long, device=dev)
        self._next_cell = torch.full(shape, -1, dtype=torch.long, device=dev)        # -1: no path
        self._map_of_env = torch.zeros(num_envs, dtype=torch.long, device=dev)
        # on_target='restart': the goal sequences of an env's agents one after another (coords, cells,
        # fields; (E, L) padded to the longest env), where each agent's starts, and the current goal's place
        self._seq_goals = torch.zeros(num_envs, 1, 2, dtype=torch.long, device=dev)
        self._seq_cells = torch.zeros(num_envs, 1, dtype=torch.long, device=dev)
        self._seq_fields = torch.zeros(num_envs, 1, dtype=torch.long, device=dev)
        self._goal_index = torch.zeros(shape, dtype=torch.long, device=dev)
        self._frozen_envs: set[int] = set()                  # host copy of `frozen` (evaluation mode)
        self._unstarted = set(range(num_envs))                # envs never reset: step() refuses until empty

    # ----------------------------------------------------------------- episodes
    def _start_episodes(self, envs: list[int], tasks: list[Task | None] | None = None) -> None:
        """Begin new episodes in `envs` (ascending), each from its task or the task source."""
        tasks = [task or self._task_source(e) for e, task in zip(envs, tasks or [None] * len(envs))]
        self._unstarted.difference_update(envs)
        cells = [self._cells.starts_goals(task) for task in tasks]
        maps = np.array([task.map_index for task in tasks])
        starts, goals = np.stack([c[0] for c in cells]), np.stack([c[1] for c in cells])    # (k, A, 2)
        if is_lifelong(self.config.on_target):
            seqs = [self._cells.goal_sequences(t, s, g) for t, (s, g) in zip(tasks, cells)]
            all_goals = np.concatenate([np.concatenate(s) for s in seqs])
            all_maps = np.concatenate([np.full(sum(len(x) for x in s), m) for s, m in zip(seqs, maps)])
        else:
            all_goals, all_maps = goals.reshape(-1, 2), np.repeat(maps, self.num_agents)
        if not self._bounded:                    # every goal of the episode at once (bounded: the current ones)
            self._observer.ensure_goals(all_maps, all_goals)

        dev = self.device
        idx = torch.tensor(envs, device=dev)
        map_t = torch.from_numpy(maps).to(dev)
        for e, task in zip(envs, tasks):
            self.tasks[e] = task
        self.frozen[idx] = False
        self._frozen_envs.difference_update(envs)
        self.steps[idx] = 0
        self.active[idx] = True
        self._map_of_env[idx] = map_t
        self._observer.set_maps(idx, map_t)
        self._metrics.reset(idx)
        self.positions[idx] = torch.from_numpy(starts).to(dev)
        self.goals[idx] = torch.from_numpy(goals).to(dev)
        if is_lifelong(self.config.on_target):
            self._load_sequences(idx, map_t, seqs)
        if self._bounded:
            self._ensure_current_goals()
        self._sync_cells(idx)

    def _ensure_current_goals(self) -> None:
        """Bounded fields: make the fields of every started env's current goals, the ones in use
        (none of them can be evicted meanwhile)."""
        started = torch.ones(self.num_envs, dtype=torch.bool)
        started[sorted(self._unstarted)] = False
        started = started.to(self.device)
        maps = self._map_of_env[:, None].expand(self.goals.shape[:2])[started]
        self._observer.ensure_goals(maps.reshape(-1).cpu().numpy(), self.goals[started].reshape(-1, 2).cpu().numpy())

    def _sync_cells(self, idx: Tensor) -> None:
        """Derive the step state of envs `idx` from the public positions and goals."""
        cells = self._observer.cells
        self._cell[idx] = cells(self.positions[idx])
        self._goal_cell[idx] = cells(self.goals[idx])
        rows = (idx[:, None] * self.num_agents + torch.arange(self.num_agents, device=self.device)).reshape(-1)
        maps = self._map_of_env[idx][:, None].expand(-1, self.num_agents)
        self._fields[rows] = self._observer.field_offsets(maps, self.goals[idx]).reshape(-1)

    def _load_sequences(self, idx: Tensor, map_t: Tensor, seqs: list[list[np.ndarray]]) -> None:
        """Store the lifelong goals of envs `idx`: per env, its agents' sequences end to end."""
        flat = [np.concatenate(per_agent) for per_agent in seqs]
        longest = max(len(f) for f in flat)
        if longest > self._seq_goals.shape[1]:
            grow = longest - self._seq_goals.shape[1]
            self._seq_goals = torch.cat([self._seq_goals, self._seq_goals.new_zeros(self.num_envs, grow, 2)], 1)
            self._seq_cells = torch.cat([self._seq_cells, self._seq_cells.new_zeros(self.num_envs, grow)], 1)
            self._seq_fields = torch.cat([self._seq_fields, self._seq_fields.new_zeros(self.num_envs, grow)], 1)
        padded = np.zeros((len(seqs), self._seq_goals.shape[1], 2), dtype=np.int64)
        starts = np.zeros((len(seqs), self.num_agents), dtype=np.int64)
        for i, (per_agent, cells) in enumerate(zip(seqs, flat)):
            padded[i, : len(cells)] = cells
            starts[i, 1:] = np.cumsum([len(x) for x in per_agent[:-1]])
        goals = torch.from_numpy(padded).to(self.device)
        self._seq_goals[idx] = goals
        self._seq_cells[idx] = self._observer.cells(goals)
        if not self._bounded:                                   # bounded: fields are made when goals come up
            self._seq_fields[idx] = self._observer.field_offsets(map_t[:, None].expand(goals.shape[:2]), goals)
        self._goal_index[idx] = torch.from_numpy(starts).to(self.device)

    def observe(self) -> Tensor:
        """Observations (N, 3, w, w) of the current state (e.g. after `reset_env`).

        Built from the public `positions`, `goals` and `active`, as in `PogemaBatchedEnv`:
        edits to them show here, while `step` keeps moving the agents from its own state."""
        view = self._observer
        with torch.inference_mode():
            maps = self._map_of_env[:, None].expand(self.goals.shape[:2])
            view.ensure_goals(maps.reshape(-1).cpu().numpy(), self.goals.reshape(-1, 2).cpu().numpy())
            fields = view.field_offsets(maps, self.goals).reshape(-1)
            cells, goal_cells = view.cells(self.positions), view.cells(self.goals)
        return self._observe(cells, goal_cells, fields)

    def _observe(self, cells: Tensor, goal_cells: Tensor, fields: Tensor) -> Tensor:
        """Observations of agents at canvas `cells` with goals at `goal_cells` and path `fields`,
        in a tensor made outside inference mode (see `step`); keeps their next path cells."""
        obs, buffer = self._observer.new_obs()
        with torch.inference_mode():
            self._next_cell = self._observer.observe(cells, goal_cells, self.active, fields, buffer)[1]
        return task_view(self, obs)

    # ------------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[Tensor, dict]:
        """Start a new episode in every env; `seed` re-seeds the task samplers."""
        self.reseed(seed)
        with torch.inference_mode():
            self._start_episodes(list(range(self.num_envs)))
        return self._observe(self._cell, self._goal_cell, self._fields), {}

    def reset_env(self, e: int, task: Task | None = None) -> None:
        """Start a new episode in env `e` (its next task from the task source if none is given)."""
        with torch.inference_mode():
            self._start_episodes([e], [task])

    def step(self, actions: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, dict]:
        """Advance every running env by one step with `actions` (N,) ints in row order.

        Envs that ended while `auto_reset` is off stay frozen (no reward, not done
        again) until `reset_env` restarts them.
        """
        if self._unstarted:
            raise gymnasium.error.ResetNeeded("call reset() (or reset_env for every env) before step()")
        with torch.inference_mode():
            rewards, terminated, truncated, ended, metrics = self._advance(actions)
        infos = {"ended": ended.clone(), "metrics": self._metric_rows(ended, metrics)}
        obs = self._observe(self._cell, self._goal_cell, self._fields)
        return obs, rewards.view(-1).clone(), self._per_row(terminated), self._per_row(truncated), infos

    def _advance(self, actions: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, dict | None]:
        """The step in inference mode: rewards (E, A), terminated, truncated and ended (E,), and
        the ended envs' metrics (None if no env ended). What `step` returns is made outside
        inference mode from these, so that callers get ordinary tensors (usable in autograd)."""
        cfg, shape = self.config, (self.num_envs, self.num_agents)
        actions = torch.as_tensor(actions, device=self.device).reshape(shape).long()
        live = ~self.frozen if self._frozen_envs else None                                   # None: all live
        was_active = self.active & live[:, None] if live is not None else self.active.clone()
        cell, view = self._cell, self._observer                                              # (E, A) canvas
        target = cell + take(view.step_flat, actions)
        moved = resolve_moves(cfg.collision_system, cell, target, was_active, actions, view.obstacle(target),
                              view.canvas_size, view.pairwise)
        self.positions += take(view.moves, actions * moved)
        self._cell = cell = torch.where(moved, target, cell)
        self.steps += 1 if live is None else live
        on_goal = cell == self._goal_cell if live is None else (cell == self._goal_cell) & live[:, None]
        reached = on_goal if is_lifelong(cfg.on_target) else on_goal & was_active
        if cfg.on_target == "finish":
            self.active &= ~on_goal
        elif is_lifelong(cfg.on_target):
            self._next_goals(on_goal)
        rewards = step_rewards(cfg.reward, reached, cell == self._next_cell, moved, was_active)
        self._metrics.record(self.steps, reached, on_goal)

        terminated, truncated = self._episode_ends(on_goal, live)
        ended = terminated | truncated
        done = ended.nonzero().flatten().tolist()                                             # the one host sync
        metrics = self._metrics.summary(self.steps) if done else None                         # before the restarts
        if done:
            if self.auto_reset:
                self._start_episodes(done)
            else:
                self.frozen |= ended
                self._frozen_envs.update(done)
        return rewards, terminated, truncated, ended, metrics

    def _next_goals(self, reached: Tensor) -> None:
        """on_target='restart': agents on their goal get the next one of their sequence."""
        self._goal_index += reached
        k = self._goal_index
        nxt = self._seq_goals.gather(1, k[..., None].expand(-1, -1, 2))
        self.goals.copy_(torch.where(reached[..., None], nxt, self.goals))
        self._goal_cell = self._seq_cells.gather(1, k)
        if not self._bounded:
            self._fields = self._seq_fields.gather(1, k).view(-1)
        elif bool(reached.any()):                               # a host sync, only for bounded fields
            self._ensure_current_goals()
            maps = self._map_of_env[:, None].expand(self.goals.shape[:2])
            self._fields = self._observer.field_offsets(maps, self.goals).view(-1)

    def close(self) -> None:
        self._unstarted = set(range(self.num_envs))
