"""State layout, pack/unpack round trip and forward shapes for every variant and preset."""

import pytest
import torch

from srmt.config import VARIANTS, ModelConfig
from srmt.model import SRMTPolicy
from srmt.state import StateView, pack_state, state_layout, state_size, unpack_state

PRESETS = ("bottleneck", "lifelong")


@pytest.mark.parametrize("variant, expected", [
    ("srmt", 16 + 3 * 16 + 8 * 16 + 1), ("rmt", 16 + 8 * 16 + 1), ("attention", 8 * 16 + 1),
    ("gru", 16 + 1), ("empty", 1),
])
def test_state_size_per_variant(variant, expected):
    assert state_size(ModelConfig(variant=variant, memory="stored"), num_agents=3) == expected


def test_lifelong_srmt_state_size():
    assert state_size(ModelConfig.preset("lifelong", memory="stored"), num_agents=64) == 512 * (1 + 64 + 8) + 1


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_pack_unpack_round_trip(preset, variant):
    cfg = ModelConfig.preset(preset, variant=variant)
    agents, rows = 3, 6
    layout = state_layout(cfg, agents)
    state = torch.randn(rows, state_size(cfg, agents))
    view = unpack_state(state, cfg, agents)
    assert view.memory.shape == (rows, layout.memory)
    assert view.pool.shape == (rows, layout.pool_agents, cfg.hidden)
    assert view.history.shape == (rows, layout.history, cfg.hidden)
    assert view.steps_seen.shape == (rows,)
    assert view.steps_seen.untyped_storage().data_ptr() == state.untyped_storage().data_ptr()
    assert torch.equal(view.steps_seen, state[:, -1])
    assert torch.equal(pack_state(view), state)


def test_layout_order_memory_pool_history_steps():
    cfg = ModelConfig(hidden=2, heads=1, history=2, memory="stored")
    state = torch.arange(state_size(cfg, 2), dtype=torch.float32)[None]  # (1, 2 + 4 + 4 + 1)
    view = unpack_state(state, cfg, num_agents=2)
    assert view.memory.tolist() == [[0, 1]]
    assert view.pool.tolist() == [[[2, 3], [4, 5]]]
    assert view.history.tolist() == [[[6, 7], [8, 9]]]
    assert view.steps_seen.tolist() == [10]


def test_per_environment_pool_is_written_into_every_row_of_its_environment():
    envs, agents, hidden = 2, 3, 4
    cfg = ModelConfig(hidden=hidden, heads=1, history=1, memory="stored")
    rows = envs * agents
    env_pool = torch.randn(envs, agents, hidden)
    view = StateView(torch.randn(rows, hidden), env_pool, torch.randn(rows, 1, hidden),
                     torch.arange(rows, dtype=torch.float32))
    packed = unpack_state(pack_state(view), cfg, agents)
    for row in range(rows):
        assert torch.equal(packed.pool[row], env_pool[row // agents])
    assert torch.equal(packed.memory, view.memory) and torch.equal(packed.history, view.history)
    assert torch.equal(packed.steps_seen, view.steps_seen)


def test_pack_rejects_a_pool_that_fits_neither_rows_nor_environments():
    view = StateView(torch.zeros(6, 4), torch.zeros(4, 3, 4), torch.zeros(6, 1, 4), torch.zeros(6))
    with pytest.raises(ValueError, match=r"pool shape \(4, 3, 4\) must be"):
        pack_state(view)


def test_unpack_rejects_a_wrong_state_size():
    # default srmt config, 3 agents: 16 + 3 x 16 + 8 x 16 + 1 = 193 (as in test_state_size_per_variant)
    with pytest.raises(ValueError, match=r"state shape \(2, 10\) must be \(B, 193\)"):
        unpack_state(torch.zeros(2, 10), ModelConfig(memory="stored"), num_agents=3)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("grouped, memory", [(True, "learned"), (True, "stored"), (False, "stored")])
def test_forward_shapes(preset, variant, grouped, memory):
    cfg = ModelConfig.preset(preset, variant=variant, memory=memory)
    policy = SRMTPolicy(cfg)
    agents, rows = 2, 4
    obs = torch.rand(rows, 3, cfg.obs_size, cfg.obs_size)
    state = policy.initial_state(agents, rows)
    for step in range(1, 3):
        logits, value, state = policy(obs, state, agents, grouped)
        assert logits.shape == (rows, 5) and value.shape == (rows,)
        assert state.shape == (rows, state_size(cfg, agents))
        assert state[:, -1].tolist() == [step] * rows
        assert torch.isfinite(logits).all() and torch.isfinite(state).all()


def test_forward_rejects_bad_inputs():
    cfg = ModelConfig()
    policy = SRMTPolicy(cfg)
    obs = torch.zeros(6, 3, 5, 5)
    with pytest.raises(ValueError, match=r"grouped=True needs B divisible by num_agents: B=6"):
        policy(obs, torch.zeros(6, state_size(cfg, 4)), num_agents=4)
    with pytest.raises(ValueError, match=r"obs shape \(6, 3, 7, 7\) must be \(B, 3, 5, 5\)"):
        policy(torch.zeros(6, 3, 7, 7), policy.initial_state(3, 6), num_agents=3)
    with pytest.raises(ValueError, match="state has 5 rows, features have 6"):
        policy(obs, policy.initial_state(3, 5), num_agents=3)
    with pytest.raises(ValueError, match="num_agents=0 must be >= 1"):
        policy(obs, torch.zeros(6, 1), num_agents=0)
    with pytest.raises(ValueError, match=r"features shape \(6, 8\) must be \(B, hidden=16\)"):
        policy.core(torch.zeros(6, 8), policy.initial_state(3, 6), num_agents=3)
