"""What every agent offers: one interface for learned policies and baselines.

An agent acts for E environments x A agents at once, in the batched env's row
order (row = e*A + a). It sees the observations *and* the env, so baselines
that need global state (positions, goals) and the SRMT policy (observations
only) share one call:

    agent.reset(num_envs, num_agents, seeds)     # every env starts an episode
    actions = agent.act(obs, env)                 # (N,) long, CPU
    agent.reset_envs([e], [seed])                 # env e starts a new episode

`seeds` are the episodes' task seeds: agents with randomness draw it from one
generator per environment seeded by (agent seed, episode seed), so an
episode's result depends only on its task, never on which other episodes share
the batch or which worker ran it (resumable, parallel evaluation relies on it).
Rows of frozen environments (`env.frozen`, episode over) get action 0.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from torch import Tensor


class AgentError(ValueError):
    """An agent that cannot be built or cannot act on the given env; the message says why."""


class BatchedEnvView(Protocol):
    """The part of a batched env (envs.pogema_backend.PogemaBatchedEnv) agents may read."""

    num_envs: int
    num_agents: int
    positions: Tensor  # (E, A, 2) long, map coordinates (row, col)
    goals: Tensor      # (E, A, 2) long
    active: Tensor     # (E, A) bool, agents still on the grid
    frozen: Tensor     # (E,) bool, envs whose episode is over


@runtime_checkable
class Agent(Protocol):
    """The agent interface (see module docstring)."""

    name: str
    """algorithm name written into result records"""
    obs_radius: int | None
    """observation radius the agent needs, None if any radius works"""

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        """Forget everything; all `num_envs` envs start an episode (task seeds `seeds`, default 0..E-1)."""

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        """Envs `envs` start a new episode (memory, history and random streams reset)."""

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        """Actions (N,) long on CPU for observations (N, 3, w, w) of `env`'s current state."""


def episode_rng(agent_seed: int, episode_seed: int) -> np.random.Generator:
    """The random stream of one episode: depends on the agent seed and the task seed only."""
    return np.random.default_rng([int(agent_seed), int(episode_seed)])


def default_seeds(envs: Sequence[int], seeds: Sequence[int] | None) -> list[int]:
    if seeds is None:
        return [int(e) for e in envs]
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(envs):
        raise AgentError(f"got {len(seeds)} seeds for {len(envs)} envs; give one seed per env")
    return seeds


class EpisodeStreams:
    """The episode bookkeeping every agent shares: E x A it was reset for, and one random stream per
    environment, reseeded at each episode start from (agent seed, task seed)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.num_envs = self.num_agents = 0
        self.rngs: list[np.random.Generator] = []

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        self.num_envs, self.num_agents = int(num_envs), int(num_agents)
        self.rngs = [episode_rng(self.seed, s) for s in default_seeds(range(num_envs), seeds)]

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        if not self.rngs:
            raise AgentError("call reset(num_envs, num_agents) before reset_envs")
        envs = [int(e) for e in envs]
        for e, s in zip(envs, default_seeds(envs, seeds)):
            self.rngs[e] = episode_rng(self.seed, s)

    def check(self, env: BatchedEnvView) -> None:
        if not self.rngs:
            raise AgentError("call reset(num_envs, num_agents) before act")
        if (env.num_envs, env.num_agents) != (self.num_envs, self.num_agents):
            raise AgentError(f"agent was reset for {self.num_envs} envs x {self.num_agents} agents, "
                             f"the env has {env.num_envs} x {env.num_agents}")
