"""Behaviour cloning of PIBT (train/imitation.py, `srmt imitate`) and the warm start of APPO from a
policy file (train/warm_start.py, `srmt train --init_policy`)."""
from __future__ import annotations

import pytest
import torch

import train.run
from envs.config import EnvConfig
from srmt.checkpoint import CheckpointError, load_policy, save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
import train.warm_start
from train.bridge.adaptations import load_checkpoint
from train.bridge.checkpoints import write_initial_checkpoint
from train.checks import prepare_experiment
from train.config import TrainConfigError
from train.imitation import ImitationConfig, discounted_returns, imitate
from train.managed import sf_config
from train.overrides import build_config

GRID = "........\n..#..#..\n........\n.#....#.\n........\n..#..#..\n........"
ENV = EnvConfig(map_name=None, grid=GRID, num_agents=6, obs_radius=2, on_target="restart",
                collision_system="soft", reward="directional", max_episode_steps=32)
MODEL = ModelConfig.preset("bottleneck", obs_radius=2)


def test_discounted_returns_bootstrap_and_stop_at_done():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    dones = torch.tensor([[False, False], [True, False], [False, False]])
    returns = discounted_returns(rewards, dones, torch.tensor([10.0, 0.0]), gamma=0.5)
    # by hand, column 0: 0 + 0.5 x 10 = 5; done at t=1, so 0 there and 1 + 0.5 x 0 = 1 at t=0.
    # column 1: 1, then 0 + 0.5 x 1 = 0.5, then 0 + 0.5 x 0.5 = 0.25
    torch.testing.assert_close(returns, torch.tensor([[1.0, 0.25], [0.0, 0.5], [5.0, 1.0]]))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"seconds=0 must be in \(0, 604800\].*final_expert_share=2 must be "
                                         r"in \[0, 1\]"):
        ImitationConfig(seconds=0, final_expert_share=2)
    with pytest.raises(ValueError, match=r"samples=0 must be an integer in \[1, 1e\+10\]"):
        ImitationConfig(samples=0)


# 4 envs x 6 agents x 4 steps = 96 samples per rollout
PER_ROLLOUT = 4 * 6 * 4


@pytest.mark.slow
def test_imitation_learns_the_expert_and_writes_a_policy(tmp_path):
    out = tmp_path / "bc.pt"
    reports = []
    stats = imitate(ENV, MODEL, ImitationConfig(samples=60 * PER_ROLLOUT, envs=4, rollout=4), out,
                    report=reports.append, command="srmt imitate test", snapshot_every=20 * PER_ROLLOUT)
    loaded = load_policy(out, expect=MODEL)
    assert loaded.meta["imitation"]["expert"] == "PIBT" and loaded.meta["command"] == "srmt imitate test"
    assert loaded.meta["decoding"] == "sample" and loaded.meta["shield"] is None
    assert loaded.env_config["on_target"] == "restart" and stats["samples"] == 60 * PER_ROLLOUT
    assert reports[-1]["accuracy"] > 0.3  # 5 actions: chance is 0.2, the expert mostly moves along paths
    # snapshots at 20 and 40 rollouts; the last one is the policy file itself
    assert len(list((tmp_path / "snapshots-imitation").glob("policy-*.pt"))) == 2


def _weights(path):
    return load_policy(path).model.state_dict()


def test_a_sample_budget_makes_the_run_a_function_of_its_seed(tmp_path):
    settings = ImitationConfig(samples=5 * PER_ROLLOUT, envs=4, rollout=4, shield=True)
    runs = []
    for name in ("a", "b"):
        torch.manual_seed(123)  # global state is not what makes the run: imitate seeds its own streams
        stats = imitate(ENV, MODEL, settings, tmp_path / f"{name}.pt", report=lambda s: None)
        runs.append(_weights(tmp_path / f"{name}.pt"))
        assert stats["samples"] == 5 * PER_ROLLOUT
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    imitate(ENV, MODEL, ImitationConfig(samples=5 * PER_ROLLOUT, envs=4, rollout=4, shield=True, seed=1),
            tmp_path / "c.pt", report=lambda s: None)
    other = _weights(tmp_path / "c.pt")
    assert not all(torch.equal(runs[0][k], other[k]) for k in other)


@pytest.mark.parametrize("memory, trained", [("learned", True), ("stored", False)])
def test_imitation_trains_the_memory_head_only_through_learned_memory(memory, trained):
    """With memory='learned' the rollout is replayed in order (srmt.rollout.unroll), so the memories
    the agents write reach the loss: the memory head gets a gradient; 'stored' reads detached states."""
    from train.imitation import Collector, learn

    model = ModelConfig.preset("bottleneck", obs_radius=2, memory=memory)
    torch.manual_seed(0)
    policy = SRMTPolicy(model)
    settings = ImitationConfig(samples=PER_ROLLOUT, envs=4, rollout=4, minibatch_envs=4)
    batch = Collector(ENV, policy, settings).collect(1.0)
    before = policy.core.memory_head.weight.detach().clone()
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    learn(policy, optimizer, batch, settings, torch.Generator().manual_seed(0))
    moved = not torch.equal(before, policy.core.memory_head.weight)
    assert moved == trained


def test_interrupted_imitation_saves_the_policy(tmp_path):
    out = tmp_path / "bc.pt"

    def interrupt(stats):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        imitate(ENV, MODEL, ImitationConfig(samples=50 * PER_ROLLOUT, envs=4, rollout=4), out,
                report=interrupt, report_seconds=0.0)
    assert load_policy(out, expect=MODEL).meta["env_steps"] > 0


TINY = ["--grid", GRID, "--map_name", "none", "--num_agents", "6", "--obs_radius", "2", "--on_target", "restart",
        "--reward", "directional", "--max_episode_steps", "32", "--collision_system", "soft",
        "--envs_per_batch", "4", "--batch_size", "384", "--serial_mode", "true", "--async_rl", "false"]


def test_warm_start_checkpoint_holds_the_policy_and_a_fresh_optimizer(tmp_path):
    torch.manual_seed(0)
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(MODEL), MODEL, ENV.to_dict(), {})
    cfg, saved = build_config(["--experiment", str(tmp_path / "exp"), "--init_policy", str(init), *TINY])
    cfg, _ = prepare_experiment(cfg, saved, [])
    path = write_initial_checkpoint(sf_config(cfg), cfg.run.experiment_dir, load_policy(init).model)
    state = load_checkpoint([str(path)], "cpu")  # what sample-factory's learner reads
    assert (state["train_step"], state["env_steps"], state["optimizer"]["state"]) == (0, 0, {})
    weights = load_policy(init).model.state_dict()
    assert all(torch.equal(state["model"][f"policy.{k}"], v) for k, v in weights.items())
    assert len(state["optimizer"]["param_groups"][0]["params"]) == len(list(SRMTPolicy(MODEL).parameters()))


def test_init_policy_is_checked_before_anything_starts(tmp_path, no_spawn):
    other = ModelConfig.preset("bottleneck", obs_radius=2, hidden=8)
    wrong = save_policy(tmp_path / "wrong.pt", SRMTPolicy(other), other, ENV.to_dict(), {})
    with pytest.raises(CheckpointError, match="hidden"):
        train.run.train(["--experiment", str(tmp_path / "a"), "--init_policy", str(wrong), *TINY])
    with pytest.raises(CheckpointError, match="no such|not found|does not exist"):
        train.run.train(["--experiment", str(tmp_path / "b"), "--init_policy", str(tmp_path / "none.pt"), *TINY])


def test_init_policy_of_another_guidance_is_refused_before_anything_starts(tmp_path, no_spawn):
    init = save_policy(tmp_path / "ctg.pt", SRMTPolicy(MODEL), MODEL, ENV.replace(guidance="cost-to-go").to_dict(), {})
    with pytest.raises(CheckpointError, match=r"guidance='cost-to-go'.*guidance='path'; add --guidance cost-to-go"):
        train.run.train(["--experiment", str(tmp_path / "a"), "--init_policy", str(init), *TINY])
    assert not (tmp_path / "a").exists()


def test_init_policy_is_refused_on_an_experiment_with_checkpoints(tmp_path, no_spawn):
    torch.manual_seed(0)
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(MODEL), MODEL, ENV.to_dict(), {})
    exp = tmp_path / "exp"
    cfg, saved = build_config(["--experiment", str(exp), *TINY])
    prepare_experiment(cfg, saved, [])
    (exp / "checkpoint_p0").mkdir()
    torch.save({"model": {}, "env_steps": 256, "train_step": 1},  # readable: resuming would load it
               exp / "checkpoint_p0" / "checkpoint_000000001_256.pth")
    with pytest.raises(TrainConfigError, match="--init_policy starts a new experiment"):
        train.run.train(["--experiment", str(exp), "--init_policy", str(init)])


@pytest.fixture
def stop_before_training(monkeypatch):
    """Everything up to the spawn of sample-factory's processes, then stop."""
    monkeypatch.setattr(train.run, "run_training", lambda *args, **kwargs: 0)


def test_a_policy_of_another_memory_mode_warm_starts_the_run(tmp_path, stop_before_training, capsys):
    """The shipped lifelong policy (memory 'stored') starts the default 'learned' runs: same weights."""
    stored = ModelConfig.preset("bottleneck", memory="stored")
    torch.manual_seed(0)
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(stored), stored, ENV.to_dict(), {})
    exp = tmp_path / "exp"
    train.run.train(["--experiment", str(exp), "--init_policy", str(init), *TINY])
    assert "(trained in memory mode 'stored'; this run trains in 'learned')" in capsys.readouterr().err
    state = load_checkpoint([str(exp / "checkpoint_p0" / "checkpoint_000000000_0.pth")], "cpu")
    weights = load_policy(init).model.state_dict()
    assert all(torch.equal(state["model"][f"policy.{k}"], v) for k, v in weights.items())


@pytest.mark.slow
def test_the_shipped_lifelong_policy_warm_starts_lifelong_cpu(tmp_path, stop_before_training):
    from agents.pretrained import default_policy_path

    exp = tmp_path / "ll"
    train.run.train(["--preset", "lifelong-cpu", "--init_policy", str(default_policy_path(lifelong=True)),
                     "--experiment", str(exp)])
    assert (exp / "checkpoint_p0" / "checkpoint_000000000_0.pth").is_file()


def test_a_refused_warm_start_leaves_nothing_behind(tmp_path, no_spawn, monkeypatch):
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(MODEL), MODEL, ENV.to_dict(), {})
    fresh = tmp_path / "new" / "exp"
    with pytest.raises(TrainConfigError, match="--init_policy starts sample-factory's adam optimizer, not "
                                               "--optimizer lamb; drop --optimizer or --init_policy"):
        train.run.train(["--experiment", str(fresh), "--init_policy", str(init), "--optimizer", "lamb", *TINY])
    assert not (tmp_path / "new").exists()  # the parent it created too

    def refuse(*args):
        raise CheckpointError("refused")

    monkeypatch.setattr(train.warm_start, "write_initial_checkpoint", refuse)
    empty = tmp_path / "empty"
    empty.mkdir()
    for exp in (fresh, empty):
        with pytest.raises(CheckpointError, match="refused"):
            train.run.train(["--experiment", str(exp), "--init_policy", str(init), *TINY])
    assert not fresh.exists() and empty.is_dir() and not list(empty.iterdir())  # what existed stays


def test_exported_policies_recommend_a_decoding(tmp_path):
    lifelong, _ = build_config(["--experiment", str(tmp_path / "a"), *TINY])
    bottleneck, _ = build_config(["--experiment", str(tmp_path / "b")])
    assert train.run.recommended(lifelong) == {"decoding": "sample"}
    assert train.run.recommended(bottleneck) == {"decoding": "argmax"}
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(MODEL), MODEL, ENV.to_dict(),
                       {"decoding": "argmax", "shield": "pibt", "env_steps": 7})
    warm, _ = build_config(["--experiment", str(tmp_path / "c"), "--init_policy", str(init), *TINY])
    assert train.run.recommended(warm) == {"decoding": "argmax"}  # APPO ran without the init file's shield
