"""The SRMT policy as a sample-factory actor-critic.

`SRMTActorCritic` holds one `SRMTPolicy` under the attribute `policy`, so a
sample-factory checkpoint's model weights are the SRMTPolicy's own state dict
with the prefix "policy." (train/export.py strips it): no name mapping, no
sample-factory layers (its critic_linear / action_parameterization and its
orthogonal re-initialisation are not used; the SRMT init is kept).

Which pass a call is (acting, the learner's bootstrap value, the learner's
losses) follows from the entry point sample-factory uses, never from
train() / eval(): `forward` acts, `forward(..., values_only=True)` and
`forward_core` are the learner's. The package's first page
(train/bridge/__init__.py) follows the memory through each of them.

A local pool (pool='local') reads the agents' map cells: the env adds them to
the observations (`cells`), `forward_head` appends them to the encoder's
features as two columns, and the core passes split them off again
(`split_cells`), so they travel wherever sample-factory moves head outputs.

The model has no dropout, so train() / eval() change nothing.
"""
from __future__ import annotations

from typing import Any

import torch

from sample_factory.algo.utils.action_distributions import get_action_distribution
from sample_factory.algo.utils.tensor_dict import TensorDict
from sample_factory.model.actor_critic import ActorCritic
from sample_factory.model.model_utils import model_device
from srmt.model import SRMTPolicy
from srmt.rollout import unroll
from train.bridge.settings import SRMTSettings


class SRMTActorCritic(ActorCritic):
    """sample-factory ActorCritic whose encoder, core and heads are one SRMTPolicy."""

    def __init__(self, cfg: Any, obs_space: Any, action_space: Any):
        super().__init__(obs_space, action_space, cfg)
        settings = SRMTSettings.of(cfg)
        self.model_config = settings.model
        self.num_agents = settings.num_agents
        self.rollout = int(cfg.rollout)
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
        """Encoder features (B, H); with a local pool (B, H + 2): the agents' cells appended."""
        features = self.policy.encoder(normalized_obs_dict["obs"])  # (B, H)
        if not self.model_config.local_pool:
            return features
        return torch.cat([features, normalized_obs_dict["cells"].to(features.dtype)], dim=1)  # (B, H + 2)

    def split_cells(self, head_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`forward_head`'s output -> features (B, H) and the agents' cells (B, 2) long (None: global pool)."""
        if not self.model_config.local_pool:
            return head_output, None
        return head_output[:, :-2], head_output[:, -2:].round().long()

    def step_core(self, head_output: torch.Tensor, rnn_states: torch.Tensor, learner: bool):
        """One step of whole environments in row order: acting, or the learner's bootstrap value at T+1
        (`learner=True`: memory='stored' then recomputes each row alone from its stored state)."""
        grouped = not (learner and self.model_config.memory == "stored")
        features, cells = self.split_cells(head_output)
        return self.policy.core(features, rnn_states, self.num_agents, grouped=grouped, positions=cells)

    def forward_core(self, head_output: torch.Tensor, rnn_states: torch.Tensor):
        """The learner's pass over a minibatch (its only caller: `Learner._calculate_losses`).
        memory='stored': each row alone from its stored state (`step_core`). 'rebuilt' / 'learned':
        whole trajectories of whole environments, trajectory-major (row = (e*A + a)*T + t), by
        `srmt.rollout.unroll` (`check_env_grouped` fails loudly if the rows ever stop being whole
        environments)."""
        if self.model_config.memory == "stored":
            return self.step_core(head_output, rnn_states, learner=True)
        A, T = self.num_agents, self.rollout
        features, cells = self.split_cells(head_output)
        rows = features.shape[0]
        if rows % (A * T):
            raise RuntimeError(f"learner minibatch of {rows} rows is not whole rollouts (T={T}) of whole "
                               f"environments (A={A}); sf.batch_size must be a multiple of {A * T}")
        states = rnn_states.view(-1, A, T, rnn_states.shape[-1])  # (E, A, T, S)
        check_env_grouped(states[..., -1])
        positions = None if cells is None else cells.view(-1, A, T, 2)  # (E, A, T, 2)
        out = unroll(self.policy.core, features.view(-1, A, T, features.shape[-1]), states, positions)
        return out.flatten(0, 2), None  # (rows, out_size); the learner does not read a new state

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
        """Acting (the inference worker) or, `values_only`, the learner's bootstrap value at T+1
        (`Learner._prepare_batch`): sample-factory calls it nowhere else (pins.py CALLERS)."""
        x = self.forward_head(normalized_obs_dict)
        x, new_rnn_states = self.step_core(x, rnn_states, learner=values_only)
        result = self.forward_tail(x, values_only, sample_actions=True)
        result["new_rnn_states"] = new_rnn_states
        return result


def check_env_grouped(steps_seen: torch.Tensor) -> None:
    """steps_seen (E, A, T) of a learner minibatch: the agents of an environment take their steps together.

    Raises:
        RuntimeError: they do not, so the rows are not whole environments in order (the batch layout
            that memory='rebuilt' / 'learned' relies on, pinned in pins.py, has changed).
    """
    if not bool((steps_seen == steps_seen[:, :1]).all()):
        raise RuntimeError("learner minibatch rows are not whole environments in agent order (steps_seen "
                           "differs inside an environment): the rebuilt / learned memory cannot pool them; "
                           "train with --memory stored")


def make_actor_critic(cfg: Any, obs_space: Any, action_space: Any) -> SRMTActorCritic:
    """The actor-critic of a run's config."""
    return SRMTActorCritic(cfg, obs_space, action_space)
