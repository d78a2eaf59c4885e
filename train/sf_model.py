"""The SRMT policy as a sample-factory actor-critic, and the registration of env and model.

`SRMTActorCritic` holds one `SRMTPolicy` under the attribute `policy`, so a
sample-factory checkpoint's model weights are the SRMTPolicy's own state dict
with the prefix "policy." (train/export.py strips it): no name mapping, no
sample-factory layers (its critic_linear / action_parameterization and its
orthogonal re-initialisation are not used; the SRMT init is kept).

Grouped vs per-row: the core is called with `grouped = not self.training`.
sample-factory's inference worker switches the model to eval() before every
forward ("we can be in serial mode"), and its learner to train() before
recomputing a batch (`_prepare_batch`, `_train` asserts it). So acting sees
whole environments in row order (E*A rows, several workers' blocks
concatenated whole) and pools memories per environment, while every learner
forward (losses and the bootstrap value at T+1) recomputes each row from its
stored state, which already holds the pool it acted with. The model has no
dropout, so the mode changes nothing else. train/sf_compat.py pins the
source of the two callers.
"""
from __future__ import annotations

from typing import Any

import torch

from sample_factory.algo.utils.action_distributions import get_action_distribution
from sample_factory.algo.utils.context import global_model_factory
from sample_factory.algo.utils.tensor_dict import TensorDict
from sample_factory.envs.env_utils import register_env
from sample_factory.model.actor_critic import ActorCritic
from sample_factory.model.model_utils import model_device
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train import sf_compat
from train.sf_env import ENV_NAME, make_sf_env

sf_compat.install()  # every process that unpickles the factories below imports this module first


class SRMTActorCritic(ActorCritic):
    """sample-factory ActorCritic whose encoder, core and heads are one SRMTPolicy."""

    def __init__(self, cfg: Any, obs_space: Any, action_space: Any):
        super().__init__(obs_space, action_space, cfg)
        self.model_config = ModelConfig.from_dict(dict(cfg.srmt_model))
        self.num_agents = int(cfg.srmt_num_agents)
        expected = (3, self.model_config.obs_size, self.model_config.obs_size)
        if tuple(obs_space["obs"].shape) != expected:
            raise ValueError(f"observation shape {tuple(obs_space['obs'].shape)} does not fit the model: "
                             f"{expected} for obs_radius={self.model_config.obs_radius}")
        if action_space.n != self.model_config.num_actions:
            raise ValueError(f"{action_space.n} actions but model num_actions={self.model_config.num_actions}")
        self.policy = SRMTPolicy(self.model_config)

    def device_for_input_tensor(self, input_tensor_name: str) -> torch.device:
        return model_device(self)

    def type_for_input_tensor(self, input_tensor_name: str) -> torch.dtype:
        return torch.float32

    def forward_head(self, normalized_obs_dict: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.policy.encoder(normalized_obs_dict["obs"])  # (B, H)

    def forward_core(self, head_output: torch.Tensor, rnn_states: torch.Tensor):
        # eval() = acting on whole envs in row order; train() = learner, independent rows.
        return self.policy.core(head_output, rnn_states, self.num_agents, grouped=not self.training)

    def forward_tail(self, core_output: torch.Tensor, values_only: bool, sample_actions: bool) -> TensorDict:
        result = TensorDict(values=self.policy.value_head(core_output).squeeze(-1))  # (B,)
        if values_only:
            return result
        logits = self.policy.policy_head(core_output)  # (B, num_actions)
        self.last_action_distribution = get_action_distribution(self.action_space, logits)
        result["action_logits"] = logits
        self._maybe_sample_actions(sample_actions, result)
        return result

    def forward(self, normalized_obs_dict, rnn_states, values_only: bool = False) -> TensorDict:
        x = self.forward_head(normalized_obs_dict)
        x, new_rnn_states = self.forward_core(x, rnn_states)
        result = self.forward_tail(x, values_only, sample_actions=True)
        result["new_rnn_states"] = new_rnn_states
        return result


def make_actor_critic(cfg: Any, obs_space: Any, action_space: Any) -> SRMTActorCritic:
    """sample-factory actor-critic factory (module-level so that it pickles)."""
    return SRMTActorCritic(cfg, obs_space, action_space)


def register() -> None:
    """Register the env and the actor-critic with sample-factory (idempotent)."""
    from sample_factory.algo.utils.context import global_env_registry

    if global_env_registry().get(ENV_NAME) is not make_sf_env:
        register_env(ENV_NAME, make_sf_env)
    global_model_factory().register_actor_critic_factory(make_actor_critic)
