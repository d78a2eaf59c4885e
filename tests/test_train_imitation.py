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
from train.config import TrainConfigError
from train.imitation import ImitationConfig, discounted_returns, imitate
from train.run import sf_config
from train.config import build_config
from train.checks import prepare_experiment
from train.warm_start import write_initial_checkpoint
from train.sf_compat import load_checkpoint

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
    with pytest.raises(ValueError, match=r"seconds=0 must be > 0.*final_expert_share=2 must be in \[0, 1\]"):
        ImitationConfig(seconds=0, final_expert_share=2)

@pytest.mark.slow

def test_imitation_learns_the_expert_and_writes_a_policy(tmp_path):
    out = tmp_path / "bc.pt"
    reports = []
    stats = imitate(ENV, MODEL, ImitationConfig(seconds=6, envs=4, rollout=4), out, report=reports.append,
                    command="srmt imitate test", snapshot_every=2)
    loaded = load_policy(out, expect=MODEL)
    assert loaded.meta["imitation"]["expert"] == "PIBT" and loaded.meta["command"] == "srmt imitate test"
    assert loaded.env_config["on_target"] == "restart" and stats["samples"] > 0
    assert reports[-1]["accuracy"] > 0.3  # 5 actions: chance is 0.2, the expert mostly moves along paths
    assert len(list((tmp_path / "snapshots-imitation").glob("policy-*.pt"))) >= 1


TINY = ["--grid", GRID, "--map_name", "none", "--num_agents", "6", "--obs_radius", "2", "--on_target", "restart",
        "--reward", "directional", "--max_episode_steps", "32", "--collision_system", "soft",
        "--envs_per_batch", "4", "--batch_size", "384", "--serial_mode", "true", "--async_rl", "false"]


def test_warm_start_checkpoint_holds_the_policy_and_a_fresh_optimizer(tmp_path):
    torch.manual_seed(0)
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(MODEL), MODEL, ENV.to_dict(), {})
    cfg, saved = build_config(["--experiment", str(tmp_path / "exp"), "--init_policy", str(init), *TINY])
    cfg, _ = prepare_experiment(cfg, saved, [])
    path = write_initial_checkpoint(sf_config(cfg), cfg.run.experiment_dir, init)
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
