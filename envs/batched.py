"""What both batched env backends share: construction checks, spaces, task sampling, the public state
tensors, the end-of-episode rule and the metric rows (envs/pogema_backend.py, envs/torch_backend/).

The row contract (docs/architecture.md): E environments x A agents, row e*A + a;
`step(actions)` returns (obs, rewards, terminated, truncated, infos) over the N = E*A rows with
`infos = {"ended": (E,) bool, "metrics": {name: (N,) values on the rows of ended envs, NaN elsewhere}}`.
"""
from __future__ import annotations

from typing import Callable

import gymnasium
import numpy as np
import torch
from torch import Tensor

from common.actions import NUM_ACTIONS
from envs.config import EnvConfig, resolve_config
from common.device import resolve_device
from envs.metrics import METRICS, EpisodeMetrics
from envs.task import Task, TaskSampler


class BatchedEnv:
    """The shared part of a batched env; subclasses implement reset_env, step, observe and close."""

    def __init__(self, config: EnvConfig, num_envs: int, device: torch.device | str = "cpu",
                 task_source: Callable[[int], Task] | None = None, auto_reset: bool = True):
        """Args:
            config: the environment (validated here; EnvConfigError on bad input).
            num_envs: E, environments stepped together.
            device: where the state lives and the step runs ('cpu', 'cuda', 'cuda:1').
            task_source: env index -> Task for its next episode; default: seeded sampling.
            auto_reset: restart an env as soon as its episode ends (training); off for evaluation.
        """
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs} must be >= 1")
        self.device = resolve_device(device)
        self.resolved = resolve_config(config)
        self.config = cfg = self.resolved.config
        self.num_envs, self.num_agents = num_envs, cfg.num_agents
        self.num_rows = num_envs * self.num_agents
        w = self.resolved.window
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(3, w, w), dtype=np.float32)
        self.action_space = gymnasium.spaces.Discrete(NUM_ACTIONS)
        self.metric_names = METRICS[cfg.on_target]
        self._samplers = [TaskSampler(self.resolved, cfg.seed, e) for e in range(num_envs)]
        self._task_source = task_source or (lambda e: self._samplers[e]())
        self._metrics = EpisodeMetrics(cfg.on_target, cfg.max_episode_steps, num_envs, self.num_agents, self.device)
        dev, shape = self.device, (num_envs, self.num_agents)
        self.tasks: list[Task | None] = [None] * num_envs
        self.positions = torch.zeros(*shape, 2, dtype=torch.long, device=dev)   # (E, A, 2) map (row, col)
        self.goals = torch.zeros(*shape, 2, dtype=torch.long, device=dev)
        self.active = torch.ones(shape, dtype=torch.bool, device=dev)            # agents still on the grid
        self.steps = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.frozen = torch.zeros(num_envs, dtype=torch.bool, device=dev)        # episode over, not restarted
        self.auto_reset = auto_reset

    def reseed(self, seed: int | None) -> None:
        """Re-seed the task samplers (`reset(seed)`); None keeps them."""
        if seed is not None:
            for e, sampler in enumerate(self._samplers):
                sampler.reseed(seed, e)

    def _terminated(self, on_goal: Tensor) -> Tensor:
        """(E,) envs whose episode ends by its own rule this step (truncation aside)."""
        if self.config.on_target == "finish":
            return ~self.active.any(dim=1)
        if self.config.on_target == "nothing":
            return on_goal.all(dim=1)
        return torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    def _episode_ends(self, on_goal: Tensor, live: Tensor | None) -> tuple[Tensor, Tensor]:
        """(E,) terminated and truncated envs after a step (`self.steps` already counted): the on_target
        rule, else the step limit; only `live` envs end (None: every env runs)."""
        terminated = self._terminated(on_goal)
        truncated = (self.steps >= self.config.max_episode_steps) & ~terminated
        if live is not None:
            terminated, truncated = terminated & live, truncated & live
        return terminated, truncated

    def _per_row(self, flags: Tensor) -> Tensor:
        """(E,) per-env values as (N,) rows: each env's value on its A rows."""
        return flags.repeat_interleave(self.num_agents)

    def _metric_rows(self, ended: Tensor, summary: dict[str, Tensor] | None) -> dict[str, Tensor]:
        """Metric name -> (N,) values on the rows of ended envs, NaN elsewhere (`summary`: the envs'
        metrics, None when no env ended)."""
        if summary is None:
            nan = torch.full((len(self.metric_names), self.num_rows), float("nan"), device=self.device)
            return dict(zip(self.metric_names, nan.unbind(0)))
        nan = torch.tensor(float("nan"), device=self.device)
        return {k: self._per_row(torch.where(ended, v, nan)) for k, v in summary.items()}
