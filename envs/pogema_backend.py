"""The batched environment on real pogema 1.4.0: E pogema envs stepped in a loop.

Row contract (shared with the torch backend, see docs/architecture.md):
  * E environments x A agents give N = E*A rows; agent a of env e is row e*A + a,
    across reset, step and auto-reset.
  * Every tensor (observations, rewards, terminated, truncated, metrics) is
    indexed by row. Episodes end per environment: all A rows of an env are done
    on the same step, and that step already returns the first observation of the
    env's next episode (auto-reset).
  * An agent that arrived in `finish` mode keeps its row until its env ends,
    with zero reward and an all-zero observation.
  * `infos["metrics"]` maps metric name -> (N,) float tensor, set on the rows
    of envs whose episode ended this step and NaN elsewhere; `infos["ended"]` is
    the (E,) bool mask of those envs.
pogema does the moves, collisions and goal generation; observations, rewards
and metrics come from envs.observation / envs.rewards / envs.metrics so that
both backends share one definition.
"""
from __future__ import annotations

from typing import Callable

import gymnasium
import numpy as np
import torch
from pogema import GridConfig
from pogema.envs import Pogema, PogemaCoopFinish, PogemaLifeLong
from torch import Tensor

from envs.batched import BatchedEnv
from envs.config import EnvConfig, ResolvedEnv, is_lifelong
from common.device import resolve_device
from envs.observation import Observer
from envs.relay import task_view
from envs.rewards import step_rewards
from envs.task import Task


class _StateOnly:
    """Skips pogema's own observations: this package builds them from the state."""

    def _obs(self):
        return None


class _Finish(_StateOnly, Pogema):
    pass


class _Restart(_StateOnly, PogemaLifeLong):
    pass


class _Nothing(_StateOnly, PogemaCoopFinish):
    pass


_ENV_CLASS = {"finish": _Finish, "restart": _Restart, "nothing": _Nothing}


def make_grid_config(resolved: ResolvedEnv, task: Task) -> GridConfig:
    """pogema's GridConfig for one task (cells in map coordinates).

    The map goes to pogema as text, exactly as the POGEMA benchmark passes it, so
    that random placement follows the same rules ('@' possible starts, '$' possible goals).
    """
    cfg = resolved.config
    extra = {}
    if task.starts is not None:
        extra = dict(agents_xy=[list(c) for c in task.starts], targets_xy=[list(c) for c in task.goals])
    return GridConfig(
        map=resolved.maps[task.map_index].text,
        num_agents=cfg.num_agents, seed=task.seed, obs_radius=cfg.obs_radius,
        collision_system=cfg.collision_system, on_target=cfg.on_target,
        max_episode_steps=cfg.max_episode_steps, observation_type="POMAPF", **extra,
    )


def make_pogema(resolved: ResolvedEnv, task: Task) -> Pogema:
    """A bare pogema env (no wrappers) for `task`, already reset."""
    env = _ENV_CLASS[resolved.config.on_target](make_grid_config(resolved, task))
    env.reset()
    return env


class PogemaBatchedEnv(BatchedEnv):
    """E real pogema environments behind the batched row contract (module docstring).

    Example:
        >>> env = PogemaBatchedEnv(EnvConfig(map_name="bottleneck-3"), num_envs=4)
        >>> obs, _ = env.reset()
        >>> tuple(obs.shape)
        (8, 3, 5, 5)
    """

    def __init__(self, config: EnvConfig, num_envs: int, device: torch.device | str = "cpu",
                 task_source: Callable[[int], Task] | None = None, auto_reset: bool = True):
        """Args as `BatchedEnv`; pogema runs on the CPU, so `device` must be 'cpu'."""
        if resolve_device(device).type != "cpu":
            raise ValueError(f"device={str(device)!r}: the pogema backend runs on the CPU; use the torch "
                             "backend (--backend torch) to step environments on a GPU")
        super().__init__(config, num_envs, "cpu", task_source, auto_reset)
        self._observer = Observer([m.obstacles for m in self.resolved.maps], self.config.obs_radius,
                                  num_envs, self.num_agents, guidance=self.config.guidance)
        self._envs: list[Pogema | None] = [None] * num_envs
        self._next_cell = torch.full((num_envs, self.num_agents, 2), -1, dtype=torch.long)

    # ----------------------------------------------------------------- state
    def _read_state(self, envs: list[int]) -> None:
        """Copy positions, goals and activity of pogema envs `envs` into the state tensors."""
        grids, r = [self._envs[e].grid for e in envs], self.config.obs_radius
        self.positions[envs] = torch.tensor([g.positions_xy for g in grids]) - r
        if self.config.on_target == "finish":
            self.active[envs] = torch.tensor([list(g.is_active.values()) for g in grids])
        if is_lifelong(self.config.on_target) or bool((self.steps[envs] == 0).any()):
            goals = torch.tensor([g.finishes_xy for g in grids]) - r
            changed = (goals != self.goals[envs]).any(dim=2).any(dim=1) | (self.steps[envs] == 0)
            self.goals[envs] = goals
            for i in changed.nonzero().flatten().tolist():
                self._observer.set_goals(envs[i], goals[i].numpy())

    def _start_episode(self, e: int, task: Task | None = None) -> None:
        task = task or self._task_source(e)
        self._attach(e, make_pogema(self.resolved, task), task)

    def mirror(self, e: int, pogema_env: Pogema, map_index: int = 0) -> None:
        """Env `e` shows `pogema_env` (just reset on map `map_index`), which someone else steps, e.g.
        pogema-toolbox's evaluator: agents read its state here; call `sync(e)` after each of its steps."""
        self._attach(e, pogema_env, Task(map_index, pogema_env.grid_config.seed))

    def sync(self, e: int) -> None:
        """Re-read env `e`'s mirrored pogema env after it stepped."""
        self.steps[e] += 1
        self._read_state([e])

    def _attach(self, e: int, pogema_env: Pogema, task: Task) -> None:
        self.frozen[e] = False
        self.tasks[e] = task
        self._envs[e] = pogema_env
        self._observer.set_map(e, task.map_index)
        self.steps[e] = 0
        self._metrics.reset(e)
        self.active[e] = True
        self._read_state([e])

    def observe(self) -> Tensor:
        """Observations (N, 3, w, w) of the current state (e.g. after `reset_env`)."""
        obs, self._next_cell = self._observer.observe(self.positions, self.goals, self.active)
        return task_view(self, obs)

    # ------------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[Tensor, dict]:
        """Start a new episode in every env; `seed` re-seeds the task samplers."""
        self.reseed(seed)
        for e in range(self.num_envs):
            self._start_episode(e)
        return self.observe(), {}

    def reset_env(self, e: int, task: Task | None = None) -> None:
        """Start a new episode in env `e` (its next task from the task source if none is given)."""
        self._start_episode(e, task)

    def step(self, actions: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, dict]:
        """Advance every running env by one step with `actions` (N,) ints in row order.

        Envs that ended while `auto_reset` is off stay frozen (no reward, not done
        again) until `reset_env` restarts them.
        """
        if self._envs[0] is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        actions = torch.as_tensor(actions).reshape(self.num_envs, self.num_agents)
        live = ~self.frozen
        before, was_active = self.positions.clone(), self.active & live[:, None]
        goals_before = self.goals.clone()
        per_env = actions.tolist()
        running = live.nonzero().flatten().tolist()
        for e in running:
            self._envs[e].step(per_env[e])
        self._read_state(running)
        self.steps += live
        on_goal = (self.positions == goals_before).all(dim=2) & live[:, None]
        reached = on_goal & was_active  # in restart mode pogema may re-issue the same goal: still an arrival
        moved = (self.positions != before).any(dim=2)
        towards = (self.positions == self._next_cell).all(dim=2)
        rewards = step_rewards(self.config.reward, reached, towards, moved, was_active)
        self._metrics.record(self.steps, reached, on_goal)

        terminated, truncated = self._episode_ends(on_goal, live)
        ended = terminated | truncated
        summary = self._metrics.summary(self.steps) if bool(ended.any()) else None
        infos = {"ended": ended, "metrics": self._metric_rows(ended, summary)}
        for e in ended.nonzero().flatten().tolist():
            if self.auto_reset:
                self._start_episode(e)
            else:
                self.frozen[e] = True
        obs = self.observe()
        return obs, rewards.reshape(-1), self._per_row(terminated), self._per_row(truncated), infos

    def close(self) -> None:
        self._envs = [None] * self.num_envs
