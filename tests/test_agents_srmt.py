"""SRMTAgent: batched acting equals the per-agent reference loop; memory resets per episode;
environments never see each other; clear errors on mismatched checkpoints and observations."""
import pytest
import torch

from agents import AgentError, SRMTAgent, make_agent
from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from srmt.checkpoint import CheckpointError, save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from srmt.state import unpack_state

CFG = ModelConfig.preset("bottleneck", memory="stored")
LIFELONG = EnvConfig(map_name="random-8x8", grid="\n".join(["........"] * 8), num_agents=4, on_target="restart",
                     reward="lifelong", collision_system="soft", max_episode_steps=40)


def _policy(variant="srmt", seed=0, memory="stored"):
    torch.manual_seed(seed)
    return SRMTPolicy(ModelConfig.preset("bottleneck", variant=variant, memory=memory))


def _play(agent, config, seeds, steps=None, record_logits=False):
    """Play the tasks of `seeds` side by side; return per-step actions (E, A) and final state."""
    env = PogemaBatchedEnv(config, num_envs=len(seeds), auto_reset=False)
    for e, s in enumerate(seeds):
        env.reset_env(e, task_for_seed(env.resolved, 0, s))
    agent.reset(len(seeds), config.num_agents, seeds)
    obs = env.observe()
    history = []
    for _ in range(steps or config.max_episode_steps):
        if env.frozen.all():
            break
        actions = agent.act(obs, env)
        history.append(actions.view(len(seeds), -1).clone())
        obs, *_ = env.step(actions)
    return history, env


@pytest.mark.parametrize("variant", ["srmt", "rmt", "attention", "gru", "empty"])
def test_batched_equals_per_agent_loop(variant):
    config = EnvConfig(map_name="bottleneck-5", max_episode_steps=30)
    policy = _policy(variant)
    fast = SRMTAgent(policy, sample=True, seed=3)
    slow = SRMTAgent(policy, sample=True, seed=3, batched=False)
    a, env_a = _play(fast, config, [0, 1, 2])
    b, env_b = _play(slow, config, [0, 1, 2])
    assert len(a) == len(b) > 5
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    torch.testing.assert_close(fast.state, slow.state, rtol=1e-5, atol=1e-5)


def test_batched_equals_per_agent_loop_with_four_agents_lifelong():
    policy = _policy()
    a, _ = _play(SRMTAgent(policy), LIFELONG, [0, 5], steps=12)
    b, _ = _play(SRMTAgent(policy, batched=False), LIFELONG, [0, 5], steps=12)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("memory", ["stored", "learned"])
def test_an_episode_does_not_depend_on_its_batch_neighbours(memory):
    policy = _policy(memory=memory)
    together, _ = _play(SRMTAgent(policy, sample=True), LIFELONG, [0, 7, 9], steps=15)
    alone, _ = _play(SRMTAgent(policy, sample=True), LIFELONG, [7], steps=15)
    assert all(torch.equal(t[1], s[0]) for t, s in zip(together, alone))


def test_memory_is_shared_inside_an_environment():
    policy = _policy()
    agent = SRMTAgent(policy)
    _, env = _play(agent, LIFELONG, [0, 1], steps=3)
    view = unpack_state(agent.state, CFG, 4)
    pools = view.pool.view(2, 4, 4, CFG.hidden)  # (E, row, agent, H)
    memories = view.memory.view(2, 4, CFG.hidden)
    for e in range(2):
        for row in range(4):
            assert torch.equal(pools[e, row], memories[e])  # every row holds its env's memories
    assert not torch.equal(memories[0], memories[1])


@pytest.mark.parametrize("memory", ["stored", "learned"])
def test_reset_envs_starts_only_those_episodes(memory):
    agent = SRMTAgent(_policy(memory=memory))
    _, env = _play(agent, LIFELONG, [0, 1], steps=4)
    before = agent.state.clone()
    agent.reset_envs([1], [11])
    assert torch.count_nonzero(agent.state[4:]) == 0  # env 1: all-zero = episode start
    assert torch.equal(agent.state[:4], before[:4])
    assert unpack_state(before, agent.cfg, 4).steps_seen.tolist() == [4.0] * 8


def test_the_per_agent_loop_needs_stored_memory():
    with pytest.raises(AgentError, match="batched=False .* needs memory='stored'.*memory='learned'"):
        SRMTAgent(_policy(memory="learned"), batched=False)


def test_frozen_envs_get_stay_and_keep_their_state():
    config = EnvConfig(map_name="bottleneck-3", max_episode_steps=20)
    agent = SRMTAgent(_policy())
    env = PogemaBatchedEnv(config, num_envs=2, auto_reset=False)
    for e in range(2):
        env.reset_env(e, task_for_seed(env.resolved, 0, e))
    agent.reset(2, 2, [0, 1])
    obs = env.observe()
    env.frozen[1] = True
    state = agent.state.clone()
    actions = agent.act(obs, env)
    assert actions[2:].tolist() == [0, 0]
    assert torch.equal(agent.state[2:], state[2:])
    assert not torch.equal(agent.state[:2], state[:2])


def test_sampling_is_seeded_argmax_is_deterministic():
    policy = _policy()
    config = EnvConfig(map_name="bottleneck-4", max_episode_steps=25)
    a, _ = _play(SRMTAgent(policy, sample=True, seed=1), config, [0, 1])
    b, _ = _play(SRMTAgent(policy, sample=True, seed=1), config, [0, 1])
    c, _ = _play(SRMTAgent(policy, sample=True, seed=2), config, [0, 1])
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, y) for x, y in zip(a, c))


def test_observation_radius_mismatch_is_explained():
    agent = SRMTAgent(_policy())
    config = EnvConfig(map_name="bottleneck-3", obs_radius=5)
    env = PogemaBatchedEnv(config, num_envs=1, auto_reset=False)
    env.reset_env(0, task_for_seed(env.resolved, 0, 0))
    agent.reset(1, 2)
    with pytest.raises(AgentError, match="11x11 windows but the policy was trained with obs_radius=2"):
        agent.act(env.observe(), env)


def test_act_before_reset_and_wrong_batch_are_errors():
    agent = SRMTAgent(_policy())
    env = PogemaBatchedEnv(EnvConfig(map_name="bottleneck-3"), num_envs=2, auto_reset=False)
    for e in range(2):
        env.reset_env(e, task_for_seed(env.resolved, 0, e))
    with pytest.raises(AgentError, match="call reset"):
        agent.act(env.observe(), env)
    agent.reset(3, 2)
    with pytest.raises(AgentError, match="reset for 3 envs x 2 agents, the env has 2 x 2"):
        agent.act(env.observe(), env)


def test_checkpoint_loading_and_variant_check(tmp_path):
    path = save_policy(tmp_path / "p.pt", _policy(), CFG, {"obs_radius": 2}, {"algorithm": "SRMT-test"})
    agent = make_agent("srmt", checkpoint=path)
    assert (agent.name, agent.obs_radius, agent.env_config) == ("SRMT-test", 2, {"obs_radius": 2})
    with pytest.raises(CheckpointError, match="another variant/size: variant='srmt' \\(expected 'gru'\\)"):
        SRMTAgent.from_checkpoint(path, expect={"variant": "gru"})


def test_missing_default_policy_and_bad_algo_are_explained(monkeypatch, tmp_path):
    import agents

    monkeypatch.setattr(agents, "default_policy_path", lambda lifelong=False, shield=None: tmp_path / "none.pt")
    with pytest.raises(AgentError, match="no --checkpoint given and the shipped policy"):
        make_agent("srmt")
    with pytest.raises(AgentError, match="unknown algorithm 'ppo'"):
        make_agent("ppo")
    with pytest.raises(AgentError, match="--checkpoint is for --algo srmt"):
        make_agent("random", checkpoint="x.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_cuda_request_without_cuda_is_explained():
    with pytest.raises(ValueError, match="CUDA is not available here.*--device cpu"):
        SRMTAgent(_policy(), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    policy = _policy()
    a, _ = _play(SRMTAgent(policy), LIFELONG, [0, 3], steps=10)
    b, _ = _play(SRMTAgent(_policy(), device="cuda"), LIFELONG, [0, 3], steps=10)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_recorded_attention_covers_every_env_and_changes_no_action():
    plain, _ = _play(SRMTAgent(_policy(memory="learned")), LIFELONG, [0, 1], steps=6)
    agent = SRMTAgent(_policy(memory="learned"))
    agent.record_attention = True
    recorded, _ = _play(agent, LIFELONG, [0, 1], steps=6)
    assert all(torch.equal(a, b) for a, b in zip(plain, recorded))
    pool = agent.attention.pool
    assert pool.shape == (2, 4, 4)
    torch.testing.assert_close(pool.sum(-1), torch.ones(2, 4))
    assert agent.attention.tokens.shape == (8, CFG.history + 2)


def test_attention_and_interventions_need_a_pool():
    agent = SRMTAgent(_policy(variant="rmt"))
    with pytest.raises(AgentError, match="needs a policy with a pool: variant 'srmt'"):
        agent.record_attention = True
    with pytest.raises(AgentError, match="replaces the shared pool: it needs a policy with one"):
        SRMTAgent(_policy(variant="gru"), memory_intervention="zero-pool")
    with pytest.raises(AgentError, match="'forget' is not one of"):
        SRMTAgent(_policy(), memory_intervention="forget")


@pytest.mark.parametrize("name, change", [("zero-pool", 0.15398), ("own-only", 0.0085081), ("shuffle-envs", 0.0060441),
                                          ("freeze", 0.0064250)])
def test_interventions_change_the_memories(name, change):
    """The largest change of a state entry after 4 seeded steps."""
    plain, changed = SRMTAgent(_policy(memory="learned")), SRMTAgent(_policy(memory="learned"),
                                                                      memory_intervention=name)
    _play(plain, LIFELONG, [0, 1], steps=4)
    _play(changed, LIFELONG, [0, 1], steps=4)
    assert (plain.state - changed.state).abs().max().item() == pytest.approx(change, rel=1e-4)


def test_local_pool_agent_reads_positions():
    torch.manual_seed(0)
    policy = SRMTPolicy(ModelConfig.preset("bottleneck", pool="local", pool_neighbours=4, pool_radius=8))
    wide = SRMTPolicy(ModelConfig.preset("bottleneck"))
    wide.load_state_dict(policy.state_dict())
    local, _ = _play(SRMTAgent(policy), LIFELONG, [0, 1], steps=8)
    glob, _ = _play(SRMTAgent(wide), LIFELONG, [0, 1], steps=8)  # K = A and the whole 8x8 map: the same pool
    assert all(torch.equal(a, b) for a, b in zip(local, glob))
