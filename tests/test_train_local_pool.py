"""A local pool through sample-factory: the env adds the agents' cells to the observations, the
actor-critic carries them from forward_head to the core, and the learner's pass replays acting."""
from __future__ import annotations

import torch

from train.bridge.actor_critic import make_actor_critic
from train.bridge.env import make_sf_env
from train.managed import sf_config
from train.overrides import build_config


def test_local_pool_learner_replays_acting(tmp_path):
    cfg, _ = build_config(["--preset", "lifelong-cpu", "--experiment", str(tmp_path / "exp"), "--envs_per_batch", "2",
                           "--num_agents", "8", "--max_episode_steps", "12", "--map_pattern", "validation-mazes-seed-00[01]",
                           "--pool", "local",
                           "--pool_neighbours", "3", "--pool_radius", "2"])
    ns = sf_config(cfg)
    env = make_sf_env("srmt", ns)
    assert set(env.observation_space.spaces) == {"obs", "cells"}
    torch.manual_seed(0)
    ac = make_actor_critic(ns, env.observation_space, env.action_space).eval()
    with torch.no_grad():
        for p in ac.parameters():
            p.add_(0.05 * torch.randn_like(p))
    T, chunks = ns.rollout, 2
    obs, _ = env.reset()
    state = torch.zeros(env.num_agents, ac.policy.state_size(8))
    records = []
    with torch.no_grad():
        for _ in range(chunks * T):
            out = ac(obs, state)
            records.append((obs["obs"], obs["cells"], state, out["action_logits"]))
            assert torch.equal(obs["cells"].long(), env.env.positions.reshape(-1, 2))
            obs, _, terminated, truncated, _ = env.step(out["action_logits"].argmax(dim=1))
            state = out["new_rnn_states"] * ~(terminated | truncated)[:, None]

    def learner_layout(i: int) -> torch.Tensor:  # per step (N, ...) -> rows (chunk, row, t)
        x = torch.stack([r[i] for r in records])
        return x.unflatten(0, (chunks, T)).transpose(1, 2).flatten(0, 2)

    frames, cells, states, acted = (learner_layout(i) for i in range(4))
    with torch.no_grad():
        core, _ = ac.forward_core(ac.forward_head({"obs": frames, "cells": cells}), states)
        learned = ac.forward_tail(core, values_only=False, sample_actions=False)["action_logits"]
        torch.testing.assert_close(learned, acted, rtol=0, atol=1e-5)
        # every agent on one cell: other neighbours, other logits (the cells do reach the core)
        core, _ = ac.forward_core(ac.forward_head({"obs": frames, "cells": cells * 0}), states)
    assert (ac.forward_tail(core, values_only=False, sample_actions=False)["action_logits"] - acted).abs().max() > 1e-4
