"""Held-out expert accuracy (train.imitation.expert_accuracy) and the snapshots the imitation
learning-curve benchmark reads (benchmarks/bench_imitation_curve.py)."""
from __future__ import annotations

import pytest
import torch

from benchmarks.bench_imitation_curve import held_out_env, snapshots
from envs.config import EnvConfig, resolve_config
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.imitation import ImitationConfig, expert_accuracy, imitate

TRAIN = EnvConfig(map_name=None, grid="........\n..#..#..\n........\n.#....#.\n........\n..#..#..\n........",
                  num_agents=6, obs_radius=2, on_target="restart", collision_system="soft", reward="directional",
                  max_episode_steps=32)
HELD_OUT = TRAIN.replace(grid=".......\n.#...#.\n.......\n...#...\n.......\n.#...#.\n.......")
MODEL = ModelConfig.preset("bottleneck", obs_radius=2)


@pytest.mark.slow
def test_imitation_raises_the_accuracy_on_maps_it_never_saw(tmp_path):
    torch.manual_seed(0)
    before = expert_accuracy(SRMTPolicy(MODEL), HELD_OUT, envs=4, rollouts=4)
    out = tmp_path / "bc.pt"
    imitate(TRAIN, MODEL, ImitationConfig(samples=80 * 96, envs=4, rollout=4), out, report=lambda s: None,
            snapshot_every=40 * 96)
    from srmt.checkpoint import load_policy

    policy = load_policy(out).model.train()
    after = expert_accuracy(policy, HELD_OUT, envs=4, rollouts=4)
    assert after > before + 0.1 and after > 0.4  # 5 actions: an untrained policy is near chance (0.2)
    assert policy.training  # measured in eval mode, handed back in the mode it came in
    # the run's snapshot (40 rollouts of 96 samples) then the final file, in sample order
    assert [s for s, _ in snapshots(out)] == [40 * 96, 80 * 96]


def test_held_out_env_is_the_validation_suite():
    env = resolve_config(held_out_env(32))
    assert len(env.maps) == 32 and all(m.name.startswith("lifelong-validation-") for m in env.maps)
    assert (env.config.on_target, env.config.collision_system, env.config.max_episode_steps) == \
        ("restart", "soft", 128)
