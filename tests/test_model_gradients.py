"""Which parameters the loss (policy logits + value) reaches, and which it cannot."""

import pytest
import torch

from srmt.config import VARIANTS, ModelConfig
from srmt.model import SRMTPolicy

AGENTS = 2

# With stored memory the new memory only goes into the next state, an input of
# the next step: no loss term depends on it, so the memory head gets no gradient.
NO_GRADIENT = {
    "srmt": {"core.memory_head.weight"},
    "rmt": {"core.memory_head.weight"},
    "attention": set(),
    "empty": set(),
    "gru": set(),
}


def batch_at_two_phases(policy):
    """Env 0 at its first step, env 1 with memory and a full history (steps_seen = K + 1)."""
    torch.manual_seed(0)
    size = policy.cfg.obs_size
    obs = torch.rand(2 * AGENTS, 3, size, size)
    state = policy.initial_state(AGENTS, AGENTS)
    with torch.no_grad():
        for _ in range(policy.cfg.history + 1):
            state = policy(torch.rand(AGENTS, 3, size, size), state, AGENTS)[2]
    return obs, torch.cat([policy.initial_state(AGENTS, AGENTS), state])


def weighted_loss(logits, value):
    weights = torch.randn_like(logits)
    return (weights * logits).sum() + (torch.randn_like(value) * value).sum()


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_reachable_parameter(variant, grouped):
    policy = SRMTPolicy(ModelConfig(variant=variant, memory="stored"))
    obs, state = batch_at_two_phases(policy)
    logits, value, _ = policy(obs, state, AGENTS, grouped)
    weighted_loss(logits, value).backward()
    without = {name for name, p in policy.named_parameters() if p.grad is None}
    assert without == NO_GRADIENT[variant]
    for name, param in policy.named_parameters():
        if param.grad is not None:
            assert torch.isfinite(param.grad).all(), name
            assert param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", ["srmt", "rmt"])
def test_memory_head_gets_gradient_only_through_time(variant):
    """Control: feeding the new state back without detaching reaches the memory head."""
    policy = SRMTPolicy(ModelConfig(variant=variant, memory="stored"))
    obs, state = batch_at_two_phases(policy)
    _, _, new_state = policy(obs, state, AGENTS)
    logits, value, _ = policy(obs, new_state, AGENTS)
    weighted_loss(logits, value).backward()
    assert policy.core.memory_head.weight.grad.abs().sum() > 0
