"""Memory modes (ModelConfig.memory): stored, rebuilt, learned.

The learner's pass (`srmt.rollout.unroll`) against step-by-step acting, on
states that acting itself produced: replay, isolation between environments,
agent permutation, gradients through memory, resets, plus the layout sizes
and the errors around the modes.
"""
from __future__ import annotations

import pytest
import torch

from srmt.checkpoint import CheckpointError, load_policy, save_policy
from srmt.config import MEMORY_MODES, ModelConfig
from srmt.core import make_core
from srmt.rollout import unroll
from srmt.state import state_size

ENVS, AGENTS, STEPS = 3, 4, 6
RESTART = 3
"""Env 1 restarts its episode at this step (its stored state is zeroed there, as at a done)."""


def acted(cfg: ModelConfig, seed: int = 0):
    """A core with non-trivial weights, random features (E, A, T, H), and the states, outputs and new
    memories of acting on them step by step (grouped), env 1 restarting at step RESTART."""
    torch.manual_seed(seed)
    core = make_core(cfg)
    with torch.no_grad():
        for p in core.parameters():
            p.add_(0.05 * torch.randn_like(p))
    features = torch.randn(ENVS, AGENTS, STEPS, cfg.hidden)
    state = torch.zeros(ENVS * AGENTS, state_size(cfg, AGENTS))
    states, outs, memories = [], [], []
    with torch.no_grad():
        for t in range(STEPS):
            if t == RESTART:
                state[AGENTS:2 * AGENTS] = 0.0
            states.append(state.view(ENVS, AGENTS, -1))
            out, state = core(features[:, :, t].flatten(0, 1), state, AGENTS, grouped=True)
            outs.append(out.view(ENVS, AGENTS, -1))
            memories.append(state[:, :cfg.hidden].clone().view(ENVS, AGENTS, -1))  # before a restart zeroes it
    return core, features, torch.stack(states, 2), torch.stack(outs, 2), torch.stack(memories, 2)


def test_state_sizes_by_mode():
    # srmt row: memory H + pool A*H (stored only) + history K*H + steps 1
    bottleneck = {m: state_size(ModelConfig.preset("bottleneck", memory=m), 2) for m in MEMORY_MODES}
    assert bottleneck == {"stored": 16 + 2 * 16 + 8 * 16 + 1, "rebuilt": 16 + 8 * 16 + 1, "learned": 145}
    lifelong = {m: state_size(ModelConfig.preset("lifelong", memory=m), 64) for m in MEMORY_MODES}
    assert lifelong == {"stored": 512 * (1 + 64 + 8) + 1, "rebuilt": 512 * 9 + 1, "learned": 4609}
    for variant in ("rmt", "gru", "attention"):  # no pool: every mode has the same row
        assert len({state_size(ModelConfig(variant=variant, memory=m), 4) for m in MEMORY_MODES}) == 1


@pytest.mark.parametrize("variant", ["srmt", "rmt", "gru"])
@pytest.mark.parametrize("memory", MEMORY_MODES)
def test_replay_unroll_equals_acting(memory, variant):
    core, features, states, outs, _ = acted(ModelConfig(variant=variant, memory=memory))
    with torch.no_grad():
        torch.testing.assert_close(unroll(core, features, states), outs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("memory", ["rebuilt", "learned"])
def test_isolation_between_environments(memory):
    core, features, states, _, _ = acted(ModelConfig(memory=memory))
    features.requires_grad_(True)
    out = unroll(core, features, states)
    out[0].sum().backward()  # env 0 only
    assert features.grad[0].abs().sum() > 0
    assert features.grad[1:].abs().sum() == 0


@pytest.mark.parametrize("memory", ["rebuilt", "learned"])
def test_permuting_agents_permutes_outputs(memory):
    core, features, states, _, _ = acted(ModelConfig(memory=memory))
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out = unroll(core, features, states)
        permuted = unroll(core, features[:, perm], states[:, perm])
    torch.testing.assert_close(permuted, out[:, perm], rtol=0, atol=1e-6)


@pytest.mark.parametrize("variant", ["srmt", "rmt"])
@pytest.mark.parametrize("memory", MEMORY_MODES)
def test_memory_head_learns_only_with_learned_memory(memory, variant):
    core, features, states, _, _ = acted(ModelConfig(variant=variant, memory=memory))
    (unroll(core, features, states) * torch.randn(ENVS, AGENTS, STEPS, 16)).sum().backward()
    grad = core.memory_head.weight.grad
    if memory == "learned":
        assert grad is not None and grad.abs().sum() > 0
    else:
        assert grad is None


@pytest.mark.parametrize("mask", ["causal", "full"])
def test_learned_memory_crosses_agents_and_steps(mask):
    """Agent 0's output at the last step gets gradient from agent 1's earlier features, through the pool.

    Under the causal mask the memory token sees only itself and the pool, so an observation enters
    memory only at the episode's first step (docs/model.md): agent 1 reaches agent 0 from step 0 alone.
    """
    core, features, states, _, _ = acted(ModelConfig(memory="learned", attention_mask=mask))
    features.requires_grad_(True)
    unroll(core, features, states)[0, 0, -1].sum().backward()
    reached = features.grad[0, 1].abs().sum(dim=-1) > 0  # (T,) steps of agent 1 that reach agent 0
    expected = [True] * (STEPS - 1) + [False] if mask == "full" else [True] + [False] * (STEPS - 1)
    assert reached.tolist() == expected  # the same step never: agents meet through last step's memories


def test_learned_memory_restarts_empty_at_an_episode_start():
    """From env 1's restart on, its outputs depend on nothing before the restart."""
    core, features, states, _, _ = acted(ModelConfig(memory="learned"))
    features.requires_grad_(True)
    unroll(core, features, states)[1, :, RESTART:].sum().backward()
    assert features.grad[1, :, :RESTART].abs().sum() == 0
    assert features.grad[1, :, RESTART:].abs().sum() > 0
    assert (states[1, :, RESTART] == 0).all()  # the stored state at the restart is all zero: empty memory


def test_per_row_calls_need_stored_memory():
    cfg = ModelConfig(memory="rebuilt")
    core = make_core(cfg)
    with pytest.raises(ValueError, match="memory='rebuilt' keeps no pool.*grouped=True"):
        core(torch.zeros(4, 16), torch.zeros(4, state_size(cfg, 2)), 2, grouped=False)


def test_unroll_rejects_mismatched_shapes():
    core = make_core(ModelConfig(memory="learned"))
    with pytest.raises(ValueError, match="same E, A, T"):
        unroll(core, torch.zeros(2, 2, 3, 16), torch.zeros(2, 2, 4, 145))


def test_a_policy_of_another_memory_mode_is_refused(tmp_path):
    from srmt.model import SRMTPolicy

    cfg = ModelConfig(memory="stored")
    path = tmp_path / "p.pt"
    save_policy(path, SRMTPolicy(cfg), cfg, {}, {})
    assert load_policy(path, expect={"memory": "stored"}).model_config.memory == "stored"
    with pytest.raises(CheckpointError, match="trained in memory mode 'stored', not 'learned'"):
        load_policy(path, expect={"memory": "learned"})


def test_unknown_memory_mode():
    with pytest.raises(ValueError, match=r"memory='bptt' is not one of \('stored', 'rebuilt', 'learned'\)"):
        ModelConfig(memory="bptt")
