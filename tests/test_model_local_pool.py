"""The local shared pool (pool='local'): the neighbour rule, and the global pool's invariants.

Replay ratio 1, isolation between environments, permutation equivariance and the
episode-start rule are checked as for the global pool (tests/test_model_core.py),
and a local pool that reaches every agent equals the global pool.
"""
import dataclasses

import pytest
import torch

from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from srmt.neighbours import local_neighbours, window_offsets
from srmt.rollout import unroll
from test_model_core import CLOSE, scramble

ENVS, AGENTS, STEPS = 2, 6, 4


def config(**fields) -> ModelConfig:
    return ModelConfig.preset("bottleneck", **{"pool": "local", "pool_neighbours": 3, "pool_radius": 2, **fields})


def cells(seed: int, steps: int = STEPS, side: int = 6) -> torch.Tensor:
    """(E, A, T, 2) distinct cells per environment and step on a side x side map."""
    gen = torch.Generator().manual_seed(seed)
    flat = torch.stack([torch.stack([torch.randperm(side * side, generator=gen)[:AGENTS] for _ in range(steps)], 1)
                        for _ in range(ENVS)])  # (E, A, T)
    return torch.stack([flat // side, flat % side], dim=-1)


def act(policy: SRMTPolicy, features: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Acting step by step, grouped: outputs (E, A, T, H) and the states before each step (E, A, T, S)."""
    core = policy.core
    state = policy.initial_state(AGENTS, ENVS * AGENTS)
    outs, states = [], []
    for t in range(features.shape[2]):
        states.append(state.view(ENVS, AGENTS, -1))
        out, state = core(features[:, :, t].flatten(0, 1), state, AGENTS, True, positions[:, :, t].flatten(0, 1))
        outs.append(out.view(ENVS, AGENTS, -1))
    return torch.stack(outs, 2), torch.stack(states, 2)


def test_neighbours_nearest_first_within_radius():
    # agent 0 at (2, 2); 1 adjacent; 2 diagonal; 3 two cells away; 4 out of the radius
    positions = torch.tensor([[[2, 2], [2, 3], [3, 3], [0, 2], [2, 6]]])
    index, valid = local_neighbours(positions, neighbours=4, radius=2)
    assert index[0].tolist() == [0, 1, 2, 3]
    assert valid[0].tolist() == [True, True, True, True]
    assert index[4].tolist()[:1] == [4] and valid[4].tolist() == [True, False, False, False]
    index, valid = local_neighbours(positions, neighbours=2, radius=2)
    assert index[3].tolist() == [3, 0] and valid[:4].all() and not valid[4, 1]


def test_window_offsets_order():
    offsets = window_offsets(1).tolist()
    assert offsets[0] == [0, 0]
    assert offsets[1:5] == [[-1, 0], [0, -1], [0, 1], [1, 0]]  # Manhattan 1 before the diagonals
    assert len(offsets) == 9


def test_neighbours_never_cross_environments():
    positions = torch.tensor([[[0, 0], [0, 1]], [[0, 0], [0, 1]]])  # same cells in two envs
    index, _ = local_neighbours(positions, neighbours=2, radius=1)
    assert index.tolist() == [[0, 1], [1, 0], [2, 3], [3, 2]]


def test_reaching_every_agent_equals_the_global_pool():
    torch.manual_seed(0)
    local = scramble(SRMTPolicy(config(pool_neighbours=AGENTS, pool_radius=8)))
    glob = SRMTPolicy(dataclasses.replace(local.cfg, pool="global")).eval()
    glob.load_state_dict(local.state_dict())
    features = torch.randn(ENVS, AGENTS, STEPS, local.cfg.hidden)
    positions = cells(1)
    with torch.no_grad():
        ours, _ = act(local, features, positions)
        theirs, _ = act(glob, features, positions)
    torch.testing.assert_close(ours, theirs, **CLOSE)


def test_small_pool_differs_from_global():
    torch.manual_seed(0)
    local = scramble(SRMTPolicy(config(pool_neighbours=2, pool_radius=1)))
    glob = SRMTPolicy(dataclasses.replace(local.cfg, pool="global")).eval()
    glob.load_state_dict(local.state_dict())
    features = torch.randn(ENVS, AGENTS, STEPS, local.cfg.hidden)
    with torch.no_grad():
        ours, _ = act(local, features, cells(1))
        theirs, _ = act(glob, features, cells(1))
    assert (ours[:, :, 1:] - theirs[:, :, 1:]).abs().max().item() == pytest.approx(0.2816, abs=1e-4)
    torch.testing.assert_close(ours[:, :, 0], theirs[:, :, 0], **CLOSE)  # the first step reads no pool


@pytest.mark.parametrize("memory", ["rebuilt", "learned"])
def test_replay_ratio_one(memory):
    torch.manual_seed(0)
    policy = scramble(SRMTPolicy(config(memory=memory)))
    features = torch.randn(ENVS, AGENTS, STEPS, policy.cfg.hidden)
    positions = cells(2)
    with torch.no_grad():
        acted, states = act(policy, features, positions)
        replayed = unroll(policy.core, features, states, positions)
    torch.testing.assert_close(replayed, acted, **CLOSE)


def test_learned_gradients_reach_neighbours_only():
    torch.manual_seed(0)
    policy = scramble(SRMTPolicy(config(pool_neighbours=2, pool_radius=1)))
    features = torch.randn(1, 3, 2, policy.cfg.hidden, requires_grad=True)
    positions = torch.tensor([[0, 0], [0, 1], [5, 5]])[None, :, None].expand(1, 3, 2, 2)
    start = policy.initial_state(3, 3)
    with torch.no_grad():
        _, after = policy.core(features[0, :, 0], start, 3, True, positions[0, :, 0])
    states = torch.stack([start, after], dim=1)[None]  # (1, A, T, S): step 1 continues the episode
    out = unroll(policy.core, features, states, positions)
    out[0, 0, 1].sum().backward()  # agent 0 at step 1 read agent 1's memory, never agent 2's
    assert features.grad[0, 1, 0].abs().sum() > 0
    assert features.grad[0, 2].abs().sum() == 0


def test_permutation_equivariance():
    torch.manual_seed(0)
    policy = scramble(SRMTPolicy(config()))
    features = torch.randn(ENVS, AGENTS, STEPS, policy.cfg.hidden)
    positions = cells(3)
    perm = torch.randperm(AGENTS)
    with torch.no_grad():
        out, _ = act(policy, features, positions)
        permuted, _ = act(policy, features[:, perm], positions[:, perm])
    torch.testing.assert_close(permuted, out[:, perm], **CLOSE)


def test_environments_are_isolated():
    torch.manual_seed(0)
    policy = scramble(SRMTPolicy(config(pool_radius=8, pool_neighbours=AGENTS)))
    features = torch.randn(ENVS, AGENTS, STEPS, policy.cfg.hidden)
    other = features.clone()
    other[1] = torch.randn_like(other[1])
    with torch.no_grad():
        a, _ = act(policy, features, cells(4))
        b, _ = act(policy, other, cells(4))
    torch.testing.assert_close(a[0], b[0], **CLOSE)
    assert (a[1] - b[1]).abs().max().item() == pytest.approx(1.3217, abs=1e-4)


def test_reset_rows_start_over():
    torch.manual_seed(0)
    policy = scramble(SRMTPolicy(config()))
    features = torch.randn(ENVS * AGENTS, policy.cfg.hidden)
    positions = cells(5, steps=1)[:, :, 0].flatten(0, 1)
    state = policy.initial_state(AGENTS, ENVS * AGENTS)
    with torch.no_grad():
        first, state = policy.core(features, state, AGENTS, True, positions)
        _, state = policy.core(features, state, AGENTS, True, positions)
        state[:AGENTS] = 0.0  # env 0 starts a new episode
        again, _ = policy.core(features, state, AGENTS, True, positions)
    torch.testing.assert_close(again[:AGENTS], first[:AGENTS], **CLOSE)


def test_bad_local_pool_input():
    with pytest.raises(ValueError, match="pool='local' needs memory='rebuilt' or 'learned'"):
        ModelConfig.preset("bottleneck", pool="local", memory="stored")
    with pytest.raises(ValueError, match="pool='local' needs variant='srmt'"):
        ModelConfig.preset("bottleneck", pool="local", variant="rmt")
    with pytest.raises(ValueError, match="pool_neighbours=0 must be an int >= 1"):
        config(pool_neighbours=0)
    with pytest.raises(ValueError, match="pool='nearby' is not one of"):
        ModelConfig.preset("bottleneck", pool="nearby")
    policy = SRMTPolicy(config()).eval()
    with pytest.raises(ValueError, match=r"pass positions=\(B, 2\)"):
        policy(torch.zeros(AGENTS, 3, 5, 5), policy.initial_state(AGENTS, AGENTS), AGENTS)


def test_old_configs_read_the_global_pool():
    assert ModelConfig.from_dict({}).pool == "global"
    assert ModelConfig().local_pool is False
