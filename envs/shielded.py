"""The collision shield inside the environment: `ShieldedEnv` executes every agent's chosen action through
PIBT's priority inheritance and backtracking (planners/pibt.py), so the moves it makes are free of vertex and
swap conflicts and the shield is part of the dynamics a policy is trained in (`srmt train --shield pibt`).

Each agent's ranking is its chosen action first, then its other moves in PIBT's own distance order (nearest to
the goal first, ties broken by the env's seeded streams). The chosen action is executed whenever the shield
can; otherwise the agent takes the first move of its ranking that PIBT can give it (a higher-priority agent
may push it). Policy-gradient training stays correct: the policy's action is what the learner scores, and the
shield is a deterministic-given-the-seed part of the transition, like pogema's collision rule (docs/shield.md).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from envs.batched import BatchedEnv
from planners.pibt import PIBTPlanner
from planners.registry import ROLLOUT_SHIELDS


class ShieldError(ValueError):
    """A shield the environment cannot run (unknown name)."""


class ShieldedEnv:
    """A batched env whose `step` runs the actions through a collision shield; everything else is the env's.

    Forwards the row contract's calls, and through `__getattr__` only the attributes listed in FORWARDED
    (the public state tensors and sizes its users read); any other name is an AttributeError.

    Example:
        >>> from envs.backends import make_backend
        >>> from envs.config import EnvConfig
        >>> env = ShieldedEnv(make_backend("torch", EnvConfig(map_name="bottleneck-3"), 2))
        >>> obs, _ = env.reset()
        >>> tuple(env.step(torch.zeros(4, dtype=torch.long))[1].shape)
        (4,)
    """

    FORWARDED = ("config", "resolved", "num_envs", "num_agents", "num_rows", "observation_space", "action_space",
                 "metric_names", "device", "tasks", "positions", "goals", "active", "steps", "frozen",
                 "auto_reset")

    def __init__(self, env: BatchedEnv, shield: str = "pibt", seed: int | None = None):
        """Args:
            env: the batched env to shield (either backend).
            shield: one of planners.registry.ROLLOUT_SHIELDS.
            seed: seed of the tie-breaking streams (default: the env config's seed).
        """
        if shield not in ROLLOUT_SHIELDS:
            raise ShieldError(f"shield={shield!r} is not one of {list(ROLLOUT_SHIELDS)}")
        self.env, self.shield = env, shield
        self._seed = env.config.seed if seed is None else seed
        self._planner = PIBTPlanner()
        self._episodes: list[int] = []                      # per env: episodes started since reset
        self._rngs: list[np.random.Generator] = []

    def __getattr__(self, name: str) -> Any:
        if name in ShieldedEnv.FORWARDED:
            return getattr(self.env, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def _streams(self, envs: list[int]) -> None:
        """Fresh tie-breaking streams for `envs`' new episodes (seed, env index, episode count)."""
        for e in envs:
            self._episodes[e] += 1
            self._rngs[e] = np.random.default_rng([self._seed, e, self._episodes[e]])

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict]:
        obs, info = self.env.reset(seed)
        if seed is not None:
            self._seed = seed
        self._episodes = [1] * self.num_envs
        self._rngs = [np.random.default_rng([self._seed, e, 1]) for e in range(self.num_envs)]
        self._planner.reset(self.num_envs, self.num_agents, self._rngs)
        return obs, info

    def reset_env(self, e: int, task=None) -> None:
        self.env.reset_env(e, task)
        self._streams([e])
        self._planner.new_episodes([e], self._rngs)

    def shielded(self, actions: Tensor | np.ndarray) -> np.ndarray:
        """(N,) int64: the moves the shield executes for the chosen `actions` (N,) in the current state. Advances
        PIBT's priorities by one step, as `step` does (which calls it): not a dry run."""
        chosen = torch.as_tensor(actions).reshape(-1).cpu().numpy().astype(np.int64)
        return self._planner.actions(self.env, self._rngs, first=chosen)

    def step(self, actions: Tensor | np.ndarray):
        """The env's step with the shielded moves; `infos["executed"]` (N,) holds the actions executed."""
        chosen = torch.as_tensor(actions).reshape(-1).long()
        executed = torch.from_numpy(self.shielded(chosen))
        obs, rewards, terminated, truncated, infos = self.env.step(executed.to(self.env.device))
        infos["executed"] = executed
        ended = infos["ended"].nonzero().flatten().tolist()
        if ended and self.env.auto_reset:                      # those envs already started a new episode
            self._streams(ended)
            self._planner.new_episodes(ended, self._rngs)
        return obs, rewards, terminated, truncated, infos

    def observe(self) -> Tensor:
        return self.env.observe()

    def close(self) -> None:
        self.env.close()
