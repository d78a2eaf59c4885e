"""One environment as a standard gymnasium.Env (all agents in one step), for tools that expect it.

Observation: (A, 3, w, w) float32; action: MultiDiscrete([5] * A); reward: the
sum of the agents' rewards (per-agent rewards in `info["rewards"]`). Episode
metrics are in `info["metrics"]` on the last step.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv


class SingleEnv(gymnasium.Env):
    """A gymnasium view of a `PogemaBatchedEnv` with one environment and no auto-reset."""

    metadata = {"render_modes": []}

    def __init__(self, config: EnvConfig):
        self._env = PogemaBatchedEnv(config, num_envs=1, auto_reset=False)
        a = self._env.num_agents
        self.observation_space = gymnasium.spaces.Box(
            -1.0, 1.0, shape=(a, *self._env.observation_space.shape), dtype=np.float32)
        self.action_space = gymnasium.spaces.MultiDiscrete([self._env.action_space.n] * a)
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, _ = self._env.reset(seed=seed)
        self._needs_reset = False
        return obs.numpy(), {}

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise gymnasium.error.ResetNeeded("call reset() before step(): the episode has ended")
        obs, rewards, terminated, truncated, infos = self._env.step(np.asarray(action, dtype=np.int64))
        info: dict[str, Any] = {"rewards": rewards.numpy()}
        if bool(infos["ended"][0]):
            self._needs_reset = True
            info["metrics"] = {k: float(v[0]) for k, v in infos["metrics"].items()}
        return obs.numpy(), float(rewards.sum()), bool(terminated[0]), bool(truncated[0]), info
