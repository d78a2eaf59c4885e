"""The batched environment as sample-factory sees it (backends by name: envs/backends.py).

One env object is the whole E x A batch of a rollout worker split: its rows
are the backend's rows (row = e*A + a), so sample-factory's per-row buffers,
`rnn_states` included, keep the agent-major layout the SRMT core pools by
(the memory's whole way: train/bridge/__init__.py).

Episode metrics: the backends report `infos["metrics"][name]` per row, NaN on
rows whose env did not end. sample-factory's batched runner reads a dict of
per-row tensors at the rows that are done this step, and all A rows of an env
are done exactly when that env ended; so the reported rows are never NaN
(tests/test_train_model.py runs sample-factory's own reading on this env).
This wrapper checks that equality on every step with an ended env, forwards
only the metrics (the per-env `ended` mask has E entries and would be dropped
with a warning), and sends nothing on steps where no env ended.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch

from envs.backends import make_backend
from envs.shielded import ShieldedEnv
from train.bridge.settings import SRMTSettings

ENV_NAME = "srmt"
"""The name the env is registered under in sample-factory."""
METRICS_PREFIX = "metrics"
"""TensorBoard section of the episode metrics (metrics/CSR, metrics/ISR, ...)."""


def env_device(cfg: Any) -> str:
    """'cuda' when sample-factory samples on the GPU (env_gpu_observations with actor_worker_gpus,
    set by train/managed.py MANAGED_SF for --device cuda --backend torch; each rollout worker then sees
    its one GPU as the current device), else 'cpu'."""
    return "cuda" if cfg.env_gpu_observations and cfg.actor_worker_gpus else "cpu"


class SFBatchedEnv(gymnasium.Env):
    """A backend batched env behind sample-factory's batched multi-agent contract.

    `num_agents` is the number of rows N = E*A (sample-factory calls every row
    an agent); observations are `{"obs": (N, 3, w, w)}`, plus `"cells": (N, 2)` float map
    cells of the agents when the model reads a local pool (srmt/neighbours.py): sample-factory
    stores them beside the observations, and the actor-critic hands them to the core.
    """

    def __init__(self, env: Any, seed: int, cells: bool = False):
        """Args:
            env: a backend batched env (PogemaBatchedEnv interface).
            seed: base seed; env slot e starts at seed + e (TaskSampler).
            cells: add the agents' map cells to the observations (a local pool reads them).
        """
        self.env = env
        self.num_agents = env.num_rows
        self.is_multiagent = True
        self.agents_per_env = env.num_agents
        spaces = dict(obs=env.observation_space)
        if cells:
            spaces["cells"] = gymnasium.spaces.Box(0.0, float(2 ** 24), shape=(2,), dtype=np.float32)
        self.observation_space = gymnasium.spaces.Dict(spaces)
        self.cells = cells
        self.action_space = env.action_space
        self._seed = seed

    def _observations(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.cells:
            return {"obs": obs}
        return {"obs": obs, "cells": self.env.positions.reshape(-1, 2).to(torch.float32)}  # exact below 2**24

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start every env; sample-factory's `seed` (the env id) is already folded into the base seed."""
        obs, _ = self.env.reset(seed=self._seed)
        return self._observations(obs), {}

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = self.env.step(torch.as_tensor(actions))
        ended = infos["ended"]
        stats = {}
        if bool(ended.any()):
            done_rows = terminated | truncated
            if not torch.equal(ended.repeat_interleave(self.agents_per_env), done_rows):
                raise RuntimeError("episode ends are not whole environments: the batched env broke the "
                                   "row contract (all A rows of an env end on the same step)")
            stats = {METRICS_PREFIX: {k: v.cpu() for k, v in infos["metrics"].items()}}  # reports cross processes
        return self._observations(obs), rewards, terminated, truncated, stats

    def render(self):
        return None

    def close(self):
        self.env.close()


def make_sf_env(full_env_name: str, cfg: Any, env_config: Any = None, render_mode: str | None = None):
    """sample-factory env factory (registered under ENV_NAME; module-level so it pickles).

    The env id (worker x split) offsets the seed so that no two env slots of
    the run share a task sequence. The env runs where sample-factory samples
    (`env_device`).
    """
    settings = SRMTSettings.of(cfg)
    num_envs = settings.envs_per_batch
    env_id = 0 if env_config is None else int(env_config["env_id"])
    backend = make_backend(settings.backend, settings.env, num_envs, device=env_device(cfg))
    if settings.shield:
        backend = ShieldedEnv(backend, settings.shield)
    return SFBatchedEnv(backend, seed=settings.env.seed + env_id * num_envs,
                        cells=settings.model is not None and settings.model.local_pool)
