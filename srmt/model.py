"""The policy: observations -> encoder -> core -> linear policy and value heads.

>>> import torch
>>> from srmt import ModelConfig, SRMTPolicy, initial_state
>>> cfg = ModelConfig.preset("bottleneck")
>>> policy = SRMTPolicy(cfg).eval()
>>> obs = torch.zeros(2 * 3, 3, cfg.obs_size, cfg.obs_size)  # 2 envs x 3 agents
>>> logits, value, state = policy(obs, initial_state(cfg, 3, 6), num_agents=3)
>>> tuple(logits.shape), tuple(value.shape), tuple(state.shape)
((6, 5), (6,), (6, 145))
"""

from __future__ import annotations

import torch
from torch import nn

from srmt.config import ModelConfig
from srmt.core import make_core
from srmt.encoder import ResNetEncoder
from srmt.rollout import unroll_memories
from srmt.state import initial_state, state_size


class SRMTPolicy(nn.Module):
    """Shared policy of all agents (actor and critic), sized by a ModelConfig."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ResNetEncoder(cfg)
        self.core = make_core(cfg)
        self.policy_head = nn.Linear(self.core.out_size, cfg.num_actions)
        self.value_head = nn.Linear(self.core.out_size, 1)

    def state_size(self, num_agents: int) -> int:
        """Floats per row of the recurrent state (srmt.state layout)."""
        return state_size(self.cfg, num_agents)

    def initial_state(self, num_agents: int, batch_size: int) -> torch.Tensor:
        """All-zero state (B, S) on the model's device: every row at episode start."""
        weight = self.policy_head.weight
        return initial_state(self.cfg, num_agents, batch_size, weight.device, weight.dtype)

    def forward(self, obs: torch.Tensor, state: torch.Tensor, num_agents: int, grouped: bool = True,
                positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            obs: (B, 3, w, w) observations; with grouped=True, E whole
                environments in order (row = e*A + a).
            state: (B, S) recurrent state; zero a row at episode start.
            num_agents: A, agents per environment.
            grouped: acting path (True) or independent rows (False); see SRMTCore.
            positions: (B, 2) long map cells of the agents (needed by cfg.pool='local' only).

        Returns:
            logits (B, num_actions), value (B,), new_state (B, S).
        """
        features = self.encoder(obs)  # (B, H)
        out, new_state = self.core(features, state, num_agents, grouped, positions)  # (B, H'), (B, S)
        return self.policy_head(out), self.value_head(out).squeeze(-1), new_state

    def unroll(self, obs: torch.Tensor, states: torch.Tensor, num_agents: int,
               positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The learner's pass over a stored rollout (srmt.rollout.unroll, in the model's memory mode).

        Args:
            obs: (E, A, T, 3, w, w) observations, environment-major, steps in time order.
            states: (E, A, T, S) the states acting stored before each step.
            num_agents: A.
            positions: (E, A, T, 2) map cells of the agents at each step (pool='local' only).

        Returns:
            logits (E, A, T, num_actions), values (E, A, T).
        """
        logits, values, _ = self.unroll_memories(obs, states, num_agents, positions)
        return logits, values

    def unroll_memories(self, obs: torch.Tensor, states: torch.Tensor, num_agents: int,
                        positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`unroll`, and the memories the agents wrote at each step (srmt.rollout.unroll_memories).

        Returns:
            logits (E, A, T, num_actions), values (E, A, T), memories (E, A, T, M).
        """
        envs, agents, steps = obs.shape[:3]
        if agents != num_agents:
            raise ValueError(f"obs holds {agents} agents per environment, num_agents={num_agents}")
        features = self.encoder(obs.flatten(0, 2)).view(envs, agents, steps, -1)  # (E, A, T, H)
        out, memories = unroll_memories(self.core, features, states, positions)  # (E, A, T, H'), (E, A, T, M)
        return self.policy_head(out), self.value_head(out).squeeze(-1), memories
