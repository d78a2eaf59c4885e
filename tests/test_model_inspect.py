"""The attention-recording hook (srmt/inspect.py) and the test-time memory interventions
(srmt/interventions.py)."""
import dataclasses

import pytest
import torch

from srmt.config import ModelConfig
from srmt.inspect import record_attention
from srmt.interventions import INTERVENTIONS, Freeze, make_intervention
from srmt.model import SRMTPolicy
from srmt.state import unpack_state
from test_model_core import CLOSE, scramble

ENVS, AGENTS = 2, 4
ROWS = ENVS * AGENTS


def two_steps(policy: SRMTPolicy, seed: int = 0, positions: torch.Tensor | None = None):
    """Features (B, H) and the state after one step (every row has a memory)."""
    torch.manual_seed(seed)
    features = torch.randn(ROWS, policy.cfg.hidden)
    state = policy.initial_state(AGENTS, ROWS)
    with torch.no_grad():
        _, state = policy.core(features, state, AGENTS, True, positions)
    return features, state


@pytest.mark.parametrize("memory", ["stored", "learned"])
def test_recording_changes_nothing_and_is_removed(memory):
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", memory=memory)))
    features, state = two_steps(policy)
    with torch.no_grad():
        plain, plain_state = policy.core(features, state, AGENTS)
        with record_attention(policy) as record:
            recorded, recorded_state = policy.core(features, state, AGENTS)
        again, _ = policy.core(features, state, AGENTS)
    torch.testing.assert_close(recorded, plain, **CLOSE)
    torch.testing.assert_close(recorded_state, plain_state, **CLOSE)
    assert torch.equal(again, plain) and policy.core.record is None and len(record.calls) == 1


def test_pool_weights_sum_to_one_and_match_a_recomputation():
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", memory="learned")))
    features, state = two_steps(policy)
    core, cfg = policy.core, policy.cfg
    with torch.no_grad(), record_attention(policy) as record:
        core(features, state, AGENTS)
    step = record.step()
    torch.testing.assert_close(step.pool.sum(-1), torch.ones(ENVS, AGENTS))
    # Recompute the current token's cross-attention by hand (one block, causal mask).
    view = unpack_state(state, cfg, AGENTS)
    block = core.blocks[0]
    tokens = torch.cat([view.memory[:, None], view.history, features[:, None]], 1) + core.wpe.weight
    steps = int(view.steps_seen[0])
    allowed = torch.zeros(tokens.shape[1], dtype=torch.bool)
    allowed[0] = True
    allowed[1 + cfg.history - steps:] = True
    with torch.no_grad():
        q, k, v = block.attn.c_attn(block.ln_1(tokens)).split(cfg.hidden, -1)
        heads, size = cfg.heads, cfg.hidden // cfg.heads
        q_now = q[:, -1].view(ROWS, heads, size)
        scores = torch.einsum("bhs,bths->bht", q_now, k.view(ROWS, -1, heads, size)) / size ** 0.5
        scores = scores.masked_fill(~allowed, float("-inf"))
        token_weights = scores.softmax(-1).mean(1)  # (B, T)
        torch.testing.assert_close(step.tokens, token_weights, **CLOSE)
        self_out = torch.einsum("bht,bths->bhs", scores.softmax(-1), v.view(ROWS, -1, heads, size)).flatten(1)
        x = tokens[:, -1] + block.attn.c_proj(self_out)
        query = block.crossattention.q_attn(block.ln_cross_attn(x)).view(ROWS, heads, size)
        keys = block.crossattention.c_attn(view.memory)[:, :cfg.hidden].view(ENVS, AGENTS, heads, size)
        pool_scores = torch.einsum("eahs,ejhs->eahj", query.view(ENVS, AGENTS, heads, size), keys) / size ** 0.5
        expected = pool_scores.softmax(-1).mean(2)  # (E, A, A)
    torch.testing.assert_close(step.pool, expected, **CLOSE)
    assert step.token_valid[0].tolist() == allowed.tolist()


def test_rows_without_memory_have_no_pool_weights():
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck")))
    with torch.no_grad(), record_attention(policy) as record:
        policy.core(torch.randn(ROWS, 16), policy.initial_state(AGENTS, ROWS), AGENTS)
    assert torch.equal(record.step().pool, torch.zeros(ENVS, AGENTS, AGENTS))


def test_local_pool_weights_land_on_the_neighbours():
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", pool="local", pool_neighbours=2,
                                                    pool_radius=1)))
    positions = torch.tensor([[0, 0], [0, 1], [5, 5], [5, 6]] * ENVS)
    features, state = two_steps(policy, positions=positions)
    with torch.no_grad(), record_attention(policy) as record:
        policy.core(features, state, AGENTS, True, positions)
    pool = record.step().pool  # (E, A, A)
    torch.testing.assert_close(pool.sum(-1), torch.ones(ENVS, AGENTS))
    assert (pool[:, 0, 2:] == 0).all() and (pool[:, 2, :2] == 0).all()
    assert (pool[:, 0, :2] > 0).all()


def test_recording_needs_a_transformer():
    with pytest.raises(ValueError, match="no attention to record"):
        with record_attention(SRMTPolicy(ModelConfig.preset("bottleneck", variant="gru"))):
            pass
    with pytest.raises(ValueError, match="nothing recorded"):
        with record_attention(SRMTPolicy(ModelConfig.preset("bottleneck"))) as record:
            pass
        record.step()


# ------------------------------------------------------------ interventions
def run(policy: SRMTPolicy, features: torch.Tensor, state: torch.Tensor, name: str) -> torch.Tensor:
    policy.core.intervention = make_intervention(name)
    try:
        with torch.no_grad():
            return policy.core(features, state, AGENTS)[0]
    finally:
        policy.core.intervention = None


@pytest.mark.parametrize("memory", ["stored", "learned"])
def test_each_intervention_changes_what_is_read(memory):
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", memory=memory)))
    features, state = two_steps(policy)
    plain = run(policy, features, state, "none")
    # the largest change of an output on these seeded weights (the same for both memories at this step)
    for name, change in {"zero-pool": 0.6438, "own-only": 0.2971, "shuffle-envs": 0.1071}.items():
        assert (run(policy, features, state, name) - plain).abs().max().item() == pytest.approx(change, abs=1e-4), name
    # freeze at the step after the episode's first reads the pool as it is
    torch.testing.assert_close(run(policy, features, state, "freeze"), plain, **CLOSE)


def test_own_only_is_a_local_pool_of_one():
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", memory="learned")))
    features, state = two_steps(policy)
    local = SRMTPolicy(dataclasses.replace(policy.cfg, pool="local", pool_neighbours=1)).eval()
    local.load_state_dict(policy.state_dict())
    with torch.no_grad():
        expected, _ = local.core(features, state, AGENTS, True, torch.zeros(ROWS, 2, dtype=torch.long))
    torch.testing.assert_close(run(policy, features, state, "own-only"), expected, **CLOSE)


def test_shuffle_between_identical_environments_changes_nothing():
    policy = scramble(SRMTPolicy(ModelConfig.preset("bottleneck", memory="learned")))
    features, state = two_steps(policy)
    twins = state.view(ENVS, AGENTS, -1)[0].repeat(ENVS, 1)  # two environments in the same state
    twin_features = features.view(ENVS, AGENTS, -1)[0].repeat(ENVS, 1)
    torch.testing.assert_close(run(policy, twin_features, twins, "shuffle-envs"),
                               run(policy, twin_features, twins, "none"), **CLOSE)
    alone = run(policy, features[:AGENTS], state[:AGENTS], "shuffle-envs")  # alone in a pass: zeros
    torch.testing.assert_close(alone, run(policy, features[:AGENTS], state[:AGENTS], "zero-pool"), **CLOSE)


def test_freeze_keeps_the_first_pool_per_environment():
    freeze = Freeze()
    first = torch.randn(2, 3, 4)
    later = torch.randn(2, 3, 4)
    out, _ = freeze(first, None, torch.ones(2, 3))
    assert torch.equal(out, first)
    freeze.select([1])  # only env 1 in the next call
    out, _ = freeze(later[:1], None, torch.full((1, 3), 5.0))
    assert torch.equal(out[0], first[1])
    out, _ = freeze(later, None, torch.tensor([[1.0] * 3, [7.0] * 3]))  # env 0 starts a new episode
    assert torch.equal(out[0], later[0]) and torch.equal(out[1], first[1])


def test_unknown_intervention():
    assert make_intervention("none") is None
    assert set(INTERVENTIONS) == {"none", "zero-pool", "own-only", "shuffle-envs", "freeze"}
    with pytest.raises(ValueError, match="'forget' is not one of"):
        make_intervention("forget")
