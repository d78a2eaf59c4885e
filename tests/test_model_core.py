"""SRMT core: an explicit per-agent reference loop, and the invariants of DESIGN.md.

The reference runs one agent at a time in float64 on only the tokens that
exist (no masks, no batching, explicit softmax), so it checks the masking, the
history shift, the pool grouping and the first-step rule of the batched core.
"""

import math

import pytest
import torch

from srmt.config import ModelConfig
from srmt.core import SRMTCore
from srmt.model import SRMTPolicy
from srmt.state import initial_state, unpack_state

ENVS, AGENTS = 2, 3
ROWS = ENVS * AGENTS
CLOSE = dict(atol=1e-5, rtol=1e-5)
"""float32 tolerance: batch-size dependent GEMM kernels round differently (a few ULP); a leak between
environments or agents changes outputs by orders of magnitude more."""


def scramble(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Large random weights (GPT-2's N(0, 0.02) makes attention nearly uniform)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, 0.3)
    return module.eval()


def attend(q, k, v, heads):
    """softmax(q k^T / sqrt(hs)) v, head by head: q (Tq, H), k and v (Tk, H) -> (Tq, H)."""
    size = q.shape[-1] // heads
    outs = []
    for h in range(heads):
        cols = slice(h * size, (h + 1) * size)
        weights = torch.softmax(q[:, cols] @ k[:, cols].T / math.sqrt(size), dim=-1)
        outs.append(weights @ v[:, cols])
    return torch.cat(outs, dim=-1)


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def reference_agent_step(core, feature, memory, pool, history):
    """One agent, one step. memory (H,) or None, pool (A, H) or None, history: oldest first."""
    cfg = core.cfg
    offset = int(cfg.uses_memory)
    tokens = ([] if memory is None else [memory]) + history + [feature]
    positions = ([] if memory is None else [0]) + [
        offset + cfg.history - len(history) + j for j in range(len(history))] + [offset + cfg.history]
    x = torch.stack(tokens) + core.wpe.weight[positions]
    n = len(tokens)
    for block in core.blocks:
        q, k, v = block.attn.c_attn(block.ln_1(x)).split(cfg.hidden, dim=-1)
        seen = [i + 1 if cfg.attention_mask == "causal" else n for i in range(n)]
        y = torch.cat([attend(q[i:i + 1], k[:seen[i]], v[:seen[i]], cfg.heads) for i in range(n)])
        x = x + block.attn.c_proj(y)
        if pool is not None and memory is not None:
            cross = block.crossattention
            pk, pv = cross.c_attn(pool).split(cfg.hidden, dim=-1)
            x = x + cross.c_proj(attend(cross.q_attn(block.ln_cross_attn(x)), pk, pv, cfg.heads))
        x = x + block.mlp.c_proj(gelu_tanh(block.mlp.c_fc(block.ln_2(x))))
    x = core.ln_f(x)
    new_memory = None
    if cfg.uses_memory:
        new_memory = core.memory_head(x[-1] if memory is None else x[0])
    return x[-1], new_memory


@pytest.mark.parametrize("variant, mask, blocks, history", [
    ("srmt", "causal", 1, 8), ("srmt", "full", 1, 3), ("srmt", "causal", 2, 3),
    ("srmt", "full", 1, 0), ("rmt", "causal", 1, 3), ("rmt", "full", 2, 3),
    ("attention", "causal", 1, 3), ("attention", "full", 1, 3),
])
@torch.no_grad()
def test_rollout_matches_per_agent_reference_loop(variant, mask, blocks, history):
    cfg = ModelConfig(variant=variant, hidden=8, heads=2, blocks=blocks, history=history,
                      attention_mask=mask, memory="stored")
    core = scramble(SRMTCore(cfg)).double()
    state = initial_state(cfg, AGENTS, ROWS, dtype=torch.float64)
    memories, histories, pools = [None] * ROWS, [[] for _ in range(ROWS)], [None] * ENVS
    # After the history is full, env 1 restarts; at the last step only agent 0 of env 0
    # restarts (its pool copy is zeroed, the other rows of env 0 still hold the real pool).
    steps = history + 4
    resets = {steps - 3: range(AGENTS, ROWS), steps - 1: [0]}
    for step in range(steps):
        for row in resets.get(step, []):
            state[row], memories[row], histories[row] = 0.0, None, []
        features = torch.randn(ROWS, cfg.hidden, dtype=torch.float64)
        out, new_state = core(features, state, AGENTS, grouped=True)
        row_out, row_state = core(features, state, AGENTS, grouped=False)
        view, row_view = unpack_state(new_state, cfg, AGENTS), unpack_state(row_state, cfg, AGENTS)

        for row in range(ROWS):
            ref_out, ref_memory = reference_agent_step(
                core, features[row], memories[row], pools[row // AGENTS], histories[row])
            torch.testing.assert_close(out[row], ref_out, atol=1e-10, rtol=0)
            if cfg.uses_memory:
                torch.testing.assert_close(view.memory[row], ref_memory, atol=1e-10, rtol=0)
            memories[row] = view.memory[row].clone() if cfg.uses_memory else None
            histories[row] = (histories[row] + [features[row]])[-history:] if history else []
            if history:
                filled = view.history[row, history - len(histories[row]):]
                assert torch.equal(filled, torch.stack(histories[row]))
        if cfg.uses_pool:
            pools = [view.memory[e * AGENTS:(e + 1) * AGENTS].clone() for e in range(ENVS)]
            assert torch.equal(view.pool, torch.stack(pools).repeat_interleave(AGENTS, dim=0))
            # per-row path: the stored pool is carried over unchanged
            assert torch.equal(row_view.pool, unpack_state(state, cfg, AGENTS).pool)
        torch.testing.assert_close(row_out, out, atol=1e-12, rtol=0)
        torch.testing.assert_close(row_view.memory, view.memory, atol=1e-12, rtol=0)
        assert torch.equal(row_view.history, view.history)
        assert torch.equal(view.steps_seen, unpack_state(state, cfg, AGENTS).steps_seen + 1)
        state = new_state
    assert view.steps_seen.tolist() == [1] + [steps] * 2 + [3] * 3


def make_policy(variant: str = "srmt") -> SRMTPolicy:
    return scramble(SRMTPolicy(ModelConfig(variant=variant, memory="stored")))


@torch.no_grad()
def mid_episode(policy, steps=3):
    """A state after `steps` grouped steps from the episode start, and fresh observations."""
    torch.manual_seed(1)
    size = policy.cfg.obs_size
    state = policy.initial_state(AGENTS, ROWS)
    for _ in range(steps):
        state = policy(torch.rand(ROWS, 3, size, size), state, AGENTS)[2]
    return torch.rand(ROWS, 3, size, size), state


def assert_outputs_close(a, b):
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, **CLOSE)


@torch.no_grad()
def test_isolation_batched_environments_equal_separate_ones():
    policy = make_policy()
    obs, state = mid_episode(policy)
    together = policy(obs, state, AGENTS)
    env0 = policy(obs[:AGENTS], state[:AGENTS], AGENTS)
    env1 = policy(obs[AGENTS:], state[AGENTS:], AGENTS)
    assert_outputs_close(together, [torch.cat(pair) for pair in zip(env0, env1)])

    # Agent 1 of env 0 gets another memory (its own row and its slot in env 0's pool).
    changed = state.clone()
    view = unpack_state(changed, policy.cfg, AGENTS)
    noise = torch.randn(policy.cfg.hidden)  # not a constant: LayerNorm would remove it
    view.memory[1] += noise
    view.pool[:AGENTS, 1] += noise
    after = policy(obs, changed, AGENTS)
    for old, new in zip(together, after):
        assert torch.equal(old[AGENTS:], new[AGENTS:])  # env 1 untouched
    assert not torch.allclose(after[0][:AGENTS], together[0][:AGENTS], **CLOSE)


@torch.no_grad()
def test_order_permuting_agents_permutes_outputs():
    policy = make_policy()
    cfg = policy.cfg
    obs, state = mid_episode(policy)
    perm = [2, 0, 1]  # new agent a of env 0 is old agent perm[a]
    rows = perm + list(range(AGENTS, ROWS))
    permuted = state[rows].clone()
    unpack_state(permuted, cfg, AGENTS).pool[:AGENTS] = unpack_state(state, cfg, AGENTS).pool[:AGENTS][:, perm]

    logits, value, new_state = policy(obs, state, AGENTS)
    p_logits, p_value, p_new_state = policy(obs[rows], permuted, AGENTS)
    torch.testing.assert_close(p_logits, logits[rows], **CLOSE)
    torch.testing.assert_close(p_value, value[rows], **CLOSE)
    new, p_new = unpack_state(new_state, cfg, AGENTS), unpack_state(p_new_state, cfg, AGENTS)
    torch.testing.assert_close(p_new.memory, new.memory[rows], **CLOSE)
    torch.testing.assert_close(p_new.pool[:AGENTS], new.pool[:AGENTS][:, perm], **CLOSE)
    torch.testing.assert_close(p_new.history, new.history[rows], **CLOSE)
    assert not torch.allclose(logits[rows], logits, **CLOSE)  # the permutation is not trivial


@pytest.mark.parametrize("variant", ["srmt", "rmt"])
@torch.no_grad()
def test_sharing_only_srmt_reads_other_agents_memories(variant):
    policy = make_policy(variant)
    cfg = policy.cfg
    obs, state = mid_episode(policy)
    logits = policy(obs, state, AGENTS)[0]

    own_only = state.clone()  # agent 2's own row: memory and history
    view = unpack_state(own_only, cfg, AGENTS)
    view.memory[2] += torch.randn(cfg.hidden)
    view.history[2] += torch.randn(cfg.history, cfg.hidden)
    assert not torch.allclose(policy(obs, own_only, AGENTS)[0][2], logits[2], **CLOSE)
    assert torch.equal(policy(obs, own_only, AGENTS)[0][:2], logits[:2])

    if variant == "srmt":  # agent 2's slot in the pool that agents 0 and 1 read
        pooled = state.clone()
        unpack_state(pooled, cfg, AGENTS).pool[:AGENTS, 2] += torch.randn(cfg.hidden)
        changed = policy(obs, pooled, AGENTS)[0]
        assert (changed[:2] - logits[:2]).abs().min() > 1e-4


@pytest.mark.parametrize("variant", ["srmt", "rmt", "attention"])
@torch.no_grad()
def test_first_step_ignores_everything_but_the_observation(variant):
    policy = make_policy(variant)
    cfg = policy.cfg
    obs = torch.rand(ROWS, 3, cfg.obs_size, cfg.obs_size)
    zero = policy.initial_state(AGENTS, ROWS)
    garbage = torch.randn_like(zero)
    garbage[:, -1] = 0.0  # steps_seen = 0: memory, pool and history must not be read
    expected = policy(obs, zero, AGENTS)
    for grouped in (True, False):
        logits, value, new_state = policy(obs, garbage, AGENTS, grouped)
        assert_outputs_close([logits, value], expected[:2])
        new_memory = unpack_state(new_state, cfg, AGENTS).memory
        torch.testing.assert_close(new_memory, unpack_state(expected[2], cfg, AGENTS).memory, **CLOSE)
    view = unpack_state(expected[2], cfg, AGENTS)
    if cfg.uses_memory:
        assert (view.memory.abs().sum(dim=1) > 0).all()
    if cfg.uses_pool:
        assert (view.pool.abs().sum(dim=2) > 0).all()


@torch.no_grad()
def test_unfilled_history_slots_are_masked():
    policy = make_policy()
    cfg = policy.cfg
    obs, state = mid_episode(policy, steps=2)
    noisy = state.clone()
    unpack_state(noisy, cfg, AGENTS).history[:, :cfg.history - 2] = torch.randn(cfg.hidden)
    assert_outputs_close(policy(obs, noisy, AGENTS)[:2], policy(obs, state, AGENTS)[:2])
    unpack_state(noisy, cfg, AGENTS).history[:, -1] += torch.randn(cfg.hidden)  # a filled slot
    assert not torch.allclose(policy(obs, noisy, AGENTS)[0], policy(obs, state, AGENTS)[0], **CLOSE)


@pytest.mark.parametrize("variant", ["srmt", "rmt", "attention", "gru", "empty"])
@torch.no_grad()
def test_grouped_path_equals_per_row_path(variant):
    policy = make_policy(variant)
    cfg = policy.cfg
    obs, state = mid_episode(policy, steps=4)
    state[0] = 0.0  # agent 0 of env 0 restarts: grouped must not read env 0's pool from it
    grouped = policy(obs, state, AGENTS, grouped=True)
    per_row = policy(obs, state, AGENTS, grouped=False)
    assert_outputs_close(per_row[:2], grouped[:2])
    g, r = unpack_state(grouped[2], cfg, AGENTS), unpack_state(per_row[2], cfg, AGENTS)
    for name in ("memory", "history", "steps_seen"):
        torch.testing.assert_close(getattr(r, name), getattr(g, name), **CLOSE)
    torch.testing.assert_close(r.pool, unpack_state(state, cfg, AGENTS).pool, atol=0, rtol=0)


@torch.no_grad()
def test_eval_mode_is_deterministic():
    policy = make_policy()
    obs, state = mid_episode(policy)
    for first, second in zip(policy(obs, state, AGENTS), policy(obs, state, AGENTS)):
        assert torch.equal(first, second)


@pytest.mark.parametrize("grouped, pool_rows", [(True, ENVS), (False, ROWS)])
@torch.no_grad()
def test_pool_keys_and_values_are_computed_once_per_environment_when_grouped(grouped, pool_rows):
    policy = make_policy()
    obs, state = mid_episode(policy)
    shapes = []
    projection = policy.core.blocks[0].crossattention.c_attn
    handle = projection.register_forward_hook(lambda module, args, out: shapes.append(out.shape))
    policy(obs, state, AGENTS, grouped)
    handle.remove()
    assert shapes == [(pool_rows, AGENTS, 2 * policy.cfg.hidden)]
