"""The SRMT actor-critic inside sample-factory, the batched env adapter, and the policy export.

Invariants of DESIGN.md on real environment rollouts: isolation (batching
environments together or apart gives identical outputs) and replay (the
learner's per-row recomputation equals the grouped acting pass), plus the
exported policy file giving the actor-critic's logits.
"""
from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch

from envs.config import EnvConfig, resolve_config
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import TaskSampler
from sample_factory.algo.sampling.batched_sampling import BatchedVectorEnvRunner
from srmt.checkpoint import load_policy
from train.export import export_policy, policy_state_dict
from train.managed import sf_config
from train.overrides import build_config
from envs.backends import BACKENDS, make_backend
from train.bridge.actor_critic import SRMTActorCritic, make_actor_critic
from train.bridge.env import SFBatchedEnv, env_device, make_sf_env
from train.bridge.settings import SRMTSettings

ENV = EnvConfig(map_name=None, map_pattern="bottleneck-(3|4|8)", max_episode_steps=24)


def _namespace(tmp_path, *argv):
    cfg, _ = build_config(["--experiment", str(tmp_path / "exp"), "--map_pattern", "bottleneck-(3|4|8)",
                           "--max_episode_steps", "24", "--envs_per_batch", "3", *argv])
    return cfg, sf_config(cfg)


def _actor_critic(ns, seed: int = 0) -> SRMTActorCritic:
    torch.manual_seed(seed)
    env = make_sf_env("srmt", ns)
    ac = make_actor_critic(ns, env.observation_space, env.action_space)
    with torch.no_grad():  # non-trivial weights everywhere, memory head included
        for p in ac.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return ac


def _rollout(ac: SRMTActorCritic, env: PogemaBatchedEnv, steps: int):
    """Act grouped (eval mode, as the inference worker) on real envs; returns per-step (obs, state, logits)."""
    ac.eval()
    obs, _ = env.reset()
    state = torch.zeros(env.num_rows, ac.policy.state_size(env.num_agents))
    records = []
    with torch.no_grad():
        for _ in range(steps):
            out = ac({"obs": obs}, state)
            records.append((obs, state, out["action_logits"]))
            obs, _, terminated, truncated, _ = env.step(out["action_logits"].argmax(dim=1))  # deterministic
            state = out["new_rnn_states"] * ~(terminated | truncated)[:, None]  # sample-factory zeroes at done
    return records


@pytest.mark.parametrize("variant", ["srmt", "rmt", "attention", "gru", "empty"])
def test_replay_learner_rows_equal_acting(tmp_path, variant):
    """memory='stored': learner path (train mode, rows shuffled, each from its stored state) == acting path."""
    cfg, ns = _namespace(tmp_path, "--variant", variant, "--memory", "stored")
    ac = _actor_critic(ns)
    records = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=30)
    obs = torch.cat([r[0] for r in records])
    state = torch.cat([r[1] for r in records])
    acted = torch.cat([r[2] for r in records])
    assert (state[:, -1] > 0).any() and (state[:, -1] == 0).sum() > 6  # episodes ended and restarted
    perm = torch.randperm(len(obs))
    ac.train()
    head = ac.forward_head({"obs": obs[perm]})
    core, _ = ac.forward_core(head, state[perm])
    learned = ac.forward_tail(core, values_only=False, sample_actions=False)["action_logits"]
    torch.testing.assert_close(learned, acted[perm], rtol=0, atol=1e-5)


@pytest.mark.parametrize("memory", ["rebuilt", "learned"])
def test_replay_learner_rollouts_equal_acting(tmp_path, memory):
    """The learner's minibatch as sample-factory lays it out (whole trajectories of whole envs,
    trajectory-major) recomputes the acting logits, episodes ending and restarting inside it."""
    _, ns = _namespace(tmp_path, "--memory", memory)
    ac = _actor_critic(ns)
    T, chunks = ns.rollout, 4
    records = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=chunks * T)

    def learner_layout(i: int) -> torch.Tensor:  # per step (N, ...) -> rows (chunk, row, t)
        x = torch.stack([r[i] for r in records])  # (chunks*T, N, ...)
        return x.unflatten(0, (chunks, T)).transpose(1, 2).flatten(0, 2)

    obs, state, acted = (learner_layout(i) for i in range(3))
    assert (state[:, -1] == 0).sum() > 6 and (state[:, -1] > 0).any()  # episodes ended and restarted
    ac.train()
    core, _ = ac.forward_core(ac.forward_head({"obs": obs}), state)
    learned = ac.forward_tail(core, values_only=False, sample_actions=False)["action_logits"]
    torch.testing.assert_close(learned, acted, rtol=0, atol=1e-5)
    with pytest.raises(RuntimeError, match="not whole rollouts"):
        ac.forward_core(ac.forward_head({"obs": obs[:T]}), state[:T])
    shuffled = torch.randperm(len(obs))
    with pytest.raises(RuntimeError, match="not whole environments"):
        ac.forward_core(ac.forward_head({"obs": obs[shuffled]}), state[shuffled])


def test_isolation_envs_together_or_apart(tmp_path):
    """Each env's actions depend on its own agents only: E envs in one batch == each env alone."""
    _, ns = _namespace(tmp_path)
    ac = _actor_critic(ns)
    together = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=20)
    resolved = resolve_config(ENV)
    for e in range(3):
        sampler = TaskSampler(resolved, ENV.seed, e)  # the task sequence of slot e of the 3-env batch
        alone = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=1, task_source=lambda _, s=sampler: s()), steps=20)
        for t in range(20):
            torch.testing.assert_close(alone[t][2], together[t][2][2 * e:2 * e + 2], rtol=1e-5, atol=1e-5)


def test_isolation_other_env_state_does_not_leak(tmp_path):
    _, ns = _namespace(tmp_path)
    ac = _actor_critic(ns).eval()
    records = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=12)
    obs, state, logits = records[-1]
    noisy = state.clone()
    noisy[2:] += torch.randn_like(noisy[2:])  # other envs' memories, pools, histories
    noisy[2:, -1] = state[2:, -1]
    noisy_obs = obs.clone()
    noisy_obs[2:] = torch.rand_like(obs[2:])
    with torch.no_grad():
        out = ac({"obs": noisy_obs}, noisy)
    torch.testing.assert_close(out["action_logits"][:2], logits[:2], rtol=0, atol=1e-6)


def test_exported_policy_gives_the_actor_critic_logits(tmp_path):
    cfg, ns = _namespace(tmp_path, "--memory", "stored")  # per-row learner steps (grouped=False) need it
    ac = _actor_critic(ns, seed=3)
    checkpoint = tmp_path / "checkpoint_000000005_40960.pth"
    torch.save({"model": ac.state_dict(), "train_step": 5, "env_steps": 40960,
                "best_performance": np.float64(0.25), "optimizer": {}, "curr_lr": 1e-4}, checkpoint)
    out = export_policy(checkpoint, tmp_path / "policy.pt", cfg.model, cfg.env.to_dict(), {"command": "test"})
    loaded = load_policy(out)
    assert loaded.meta["env_steps"] == 40960 and loaded.meta["command"] == "test"
    assert loaded.env_config == cfg.env.to_dict() | {"starts": None, "goals": None}
    records = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=10)
    obs, state, logits = records[-1]
    with torch.no_grad():
        head = ac.forward_head({"obs": obs})
        for grouped, learner in ((True, False), (False, True)):  # acting; the stored learner's per-row pass
            sf_logits = ac.forward_tail(ac.step_core(head, state, learner=learner)[0],
                                        values_only=False, sample_actions=False)["action_logits"]
            policy_logits, _, _ = loaded.model(obs, state, num_agents=2, grouped=grouped)
            torch.testing.assert_close(policy_logits, sf_logits, rtol=0, atol=0)
        torch.testing.assert_close(ac.forward_core(head, state)[0], ac.step_core(head, state, learner=True)[0],
                                   rtol=0, atol=0)


@pytest.mark.parametrize("memory", ["stored", "rebuilt"])
def test_the_pass_follows_the_entry_point_not_train_or_eval(tmp_path, memory):
    """forward acts (or, values_only, bootstraps) and forward_core is the learner's pass, in either mode
    (sample-factory's serial mode shares one model between inference and learner)."""
    _, ns = _namespace(tmp_path, "--memory", memory)
    ac = _actor_critic(ns)
    T = ns.rollout
    records = _rollout(ac, PogemaBatchedEnv(ENV, num_envs=3), steps=T)
    obs = torch.stack([r[0] for r in records]).transpose(0, 1).flatten(0, 1)  # (row, t): the learner's layout
    state = torch.stack([r[1] for r in records]).transpose(0, 1).flatten(0, 1)
    outputs = []
    with torch.no_grad():
        for mode in (ac.eval, ac.train):
            mode()
            head = ac.forward_head({"obs": obs})
            outputs.append((ac({"obs": records[-1][0]}, records[-1][1])["action_logits"],
                            ac({"obs": records[-1][0]}, records[-1][1], values_only=True)["values"],
                            ac.forward_core(head, state)[0]))
    for acting, learning in zip(*outputs):
        torch.testing.assert_close(acting, learning, rtol=0, atol=0)
    torch.testing.assert_close(outputs[0][0], records[-1][2], rtol=0, atol=0)


def test_policy_state_dict_rejects_foreign_weights():
    with pytest.raises(ValueError, match="not part of the SRMTPolicy"):
        policy_state_dict({"policy.value_head.bias": torch.zeros(1), "critic_linear.weight": torch.zeros(1)})


def test_actor_critic_checks_the_observation_size(tmp_path):
    _, ns = _namespace(tmp_path)
    env = make_sf_env("srmt", ns)
    settings = SRMTSettings.of(ns)
    dataclasses.replace(settings, model=dataclasses.replace(settings.model, obs_radius=3)).attach(ns)
    with pytest.raises(ValueError, match=r"observation shape \(3, 5, 5\) does not fit the model"):
        make_actor_critic(ns, env.observation_space, env.action_space)


# ------------------------------------------------------------------ the env
def test_sf_env_rows_and_seeds(tmp_path):
    _, ns = _namespace(tmp_path)
    env0 = make_sf_env("srmt", ns, {"env_id": 0})
    env1 = make_sf_env("srmt", ns, {"env_id": 1})
    assert env0.num_agents == 6 and env0.is_multiagent
    assert [t.seed for t in (env0.reset()[0] and env0.env.tasks)] == [0, 1, 2]
    env1.reset()
    assert [t.seed for t in env1.env.tasks] == [3, 4, 5]


def test_backend_lookup():
    assert {"pogema", "torch"} <= set(BACKENDS)
    assert type(make_backend("torch", ENV, 2)).__name__ == "TorchBatchedEnv"
    with pytest.raises(ValueError, match=r"backend='gpu-magic' is not one of \['pogema', 'torch'\]"):
        make_backend("gpu-magic", ENV, 1)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_episode_metrics_reach_sample_factory_without_nan(backend):
    """Runs sample-factory's own batched stats code on the adapter's infos."""
    env = SFBatchedEnv(make_backend(backend, ENV.replace(max_episode_steps=5), 4), seed=0)
    env.reset()
    runner = types.SimpleNamespace(
        vec_env=env, env_info=types.SimpleNamespace(frameskip=1),
        cfg=types.SimpleNamespace(summaries_use_frameskip=True), policy_id=0,
        curr_episode_reward=torch.zeros(8), curr_episode_len=torch.zeros(8, dtype=torch.int32),
        min_raw_rewards=torch.full((8,), np.inf), max_raw_rewards=torch.full((8,), -np.inf))
    reports = []
    for _ in range(11):
        _, rewards, terminated, truncated, infos = env.step(torch.randint(0, 5, (8,)))
        reports += BatchedVectorEnvRunner._process_env_step(runner, rewards, terminated | truncated, infos)
    assert len(reports) == 2  # every env truncates at steps 5 and 10
    for report in reports:
        stats = report["episodic"]
        assert {"metrics/CSR", "metrics/ISR", "metrics/SoC", "metrics/ep_length"} <= set(stats)
        for key in (k for k in stats if k.startswith("metrics/")):
            assert np.isfinite(stats[key]).all(), key
        assert len(stats["metrics/CSR"]) == 8 and (stats["metrics/ep_length"] == 5).all()


@pytest.mark.parametrize("device, backend, on_gpu", [("cpu", "torch", False), ("cuda", "pogema", False),
                                                     ("cuda", "torch", True)])
def test_gpu_sampling_only_for_the_torch_backend_on_cuda(tmp_path, device, backend, on_gpu):
    cfg, _ = build_config(["--experiment", str(tmp_path / "exp"), "--device", device, "--backend", backend])
    ns = sf_config(cfg)  # check_config (which needs a usable GPU for cuda) is not involved
    assert (ns.actor_worker_gpus, ns.env_gpu_observations, ns.env_gpu_actions) == (
        ([0], True, True) if on_gpu else ([], False, False))
    assert env_device(ns) == ("cuda" if on_gpu else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_gpu_sampling_without_cuda_is_a_clear_error(tmp_path):
    cfg, _ = build_config(["--experiment", str(tmp_path / "exp"), "--device", "cuda", "--backend", "torch"])
    with pytest.raises(ValueError, match="CUDA is not available here"):
        make_sf_env("srmt", sf_config(cfg))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_sampling_env_steps_on_the_gpu(tmp_path):
    cfg, _ = build_config(["--experiment", str(tmp_path / "exp"), "--device", "cuda", "--backend", "torch",
                           "--envs_per_batch", "4"])
    env = make_sf_env("srmt", sf_config(cfg))
    obs, _ = env.reset()
    actions = torch.zeros(env.num_agents, dtype=torch.int32, device="cuda")
    for _ in range(cfg.env.max_episode_steps):
        obs, rewards, terminated, truncated, stats = env.step(actions)
        assert obs["obs"].is_cuda and rewards.is_cuda and terminated.is_cuda
        if stats:
            assert all(v.device.type == "cpu" for v in stats["metrics"].values())
            break
    assert stats, "no episode ended within max_episode_steps"
