"""Imitation warm-start: behaviour cloning of the PIBT planner before APPO (`srmt imitate`).

The lifelong presets' environments run in the torch backend; at every step the
expert (envs.pibt.PIBTPlanner: centralised, full observability) names an
action for every agent, and the policy (decentralised, its own observation
window and the shared memory) learns to predict it:

- rollout (no gradient): `rollout` steps of E environments, the policy acting
  as it does in evaluation (grouped forward, recurrent state carried, zeroed
  at episode start); each environment executes the expert's actions with
  probability `expert_share` and the policy's sampled actions otherwise
  (DAgger-style mixing, so the data holds the states the policy itself
  reaches); `expert_share` falls linearly from 1 to `final_expert_share`;
- learning: one forward pass over the stored steps from their stored states
  (as sample-factory's learner recomputes them), cross-entropy against the
  expert's actions plus a value loss towards the discounted returns of the
  training reward, so that APPO starts with a critic that fits the policy.

The result is an ordinary policy file; `srmt train --init_policy FILE` starts
APPO from it (train/run.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from envs.config import EnvConfig
from envs.pibt import PIBTPlanner
from envs.torch_backend import TorchBatchedEnv
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.snapshots import snapshot_path


@dataclass(frozen=True)
class ImitationConfig:
    """Settings of one behaviour-cloning run."""

    seconds: float = 900.0
    """wall-clock budget"""
    envs: int = 16
    """E: environments stepped together"""
    rollout: int = 8
    """steps per rollout (E x A x rollout samples)"""
    epochs: int = 2
    """passes over each rollout"""
    minibatch_steps: int = 2
    """steps of a rollout per gradient step (E x A x minibatch_steps samples, whole environments)"""
    learning_rate: float = 1e-3
    gamma: float = 0.9756
    """discount of the value targets (the preset's APPO gamma)"""
    value_coef: float = 0.5
    final_expert_share: float = 0.5
    """probability that an env executes the expert's actions, reached at the end of the budget"""
    seed: int = 0

    def __post_init__(self) -> None:
        problems = [f"{name}={getattr(self, name)!r} must be > 0" for name in ("seconds", "envs", "rollout", "epochs",
                                                                                "minibatch_steps", "learning_rate")
                    if not (isinstance(getattr(self, name), (int, float)) and getattr(self, name) > 0
                            and math.isfinite(getattr(self, name)))]
        if not 0 < self.gamma <= 1:
            problems.append(f"gamma={self.gamma!r} must be in (0, 1]")
        if not 0 <= self.final_expert_share <= 1:
            problems.append(f"final_expert_share={self.final_expert_share!r} must be in [0, 1]")
        if problems:
            raise ValueError("invalid imitation settings: " + "; ".join(problems))


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """(T, N) returns R_t = r_t + gamma * (1 - done_t) * R_{t+1}, bootstrapped with `last_value` (N,)."""
    returns, running = torch.empty_like(rewards), last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (~dones[t]) * running
        returns[t] = running
    return returns


def imitate(env_cfg: EnvConfig, model_cfg: ModelConfig, settings: ImitationConfig, out: Path,
            report: Callable[[dict], None] = print, command: str = "", snapshot_every: float = 300.0) -> dict:
    """Clone PIBT into a new policy for `settings.seconds`; write it to `out` (a policy file), and
    every `snapshot_every` seconds a copy to `out.parent/snapshots-imitation/policy-<seconds>s.pt`.

    Returns:
        The last report: samples, wall seconds, accuracy, goals per step of the executed actions.
    """
    torch.manual_seed(settings.seed)
    env = TorchBatchedEnv(env_cfg.replace(seed=settings.seed), settings.envs)
    E, A = settings.envs, env.num_agents
    policy = SRMTPolicy(model_cfg)
    optimizer = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate)
    rngs = [np.random.default_rng([settings.seed, e]) for e in range(E)]
    planner = PIBTPlanner()
    obs, _ = env.reset(seed=settings.seed)
    planner.reset(E, A, rngs)
    state = policy.initial_state(A, E * A)
    started, samples, last_report, last_snapshot, stats = time.time(), 0, 0.0, time.time(), {}

    def save(path: Path) -> None:
        save_policy(path, policy, model_cfg, env_cfg.to_dict(),
                    {"algorithm": "SRMT", "command": command, "env_steps": samples,
                     "imitation": {**stats, "expert": "PIBT", "settings": settings.__dict__}})

    while (elapsed := time.time() - started) < settings.seconds:
        share = 1.0 - (1.0 - settings.final_expert_share) * elapsed / settings.seconds
        batch_obs, batch_state, experts, rewards, dones = [], [], [], [], []
        with torch.no_grad():
            for _ in range(settings.rollout):
                expert = torch.from_numpy(planner.actions(env, rngs))
                logits, _, new_state = policy(obs, state, A)
                own = torch.distributions.Categorical(logits=logits).sample()
                use_expert = (torch.rand(E) < share).repeat_interleave(A)
                batch_obs.append(obs)
                batch_state.append(state)
                experts.append(expert)
                obs, reward, terminated, truncated, infos = env.step(torch.where(use_expert, expert, own))
                done = terminated | truncated
                rewards.append(reward)
                dones.append(done)
                state = torch.where(done[:, None], 0.0, new_state)
                ended = infos["ended"].nonzero().flatten().tolist()
                if ended:
                    planner.new_episodes(ended, rngs)
            last_value = policy(obs, state, A)[1]
        returns = discounted_returns(torch.stack(rewards), torch.stack(dones), last_value, settings.gamma)
        for _ in range(settings.epochs):
            for steps in torch.randperm(settings.rollout).split(settings.minibatch_steps):
                picked = steps.tolist()
                logits, values, _ = policy(torch.cat([batch_obs[t] for t in picked]),
                                           torch.cat([batch_state[t] for t in picked]), A)
                target = torch.cat([experts[t] for t in picked])
                loss = (F.cross_entropy(logits, target)
                        + settings.value_coef * F.mse_loss(values, returns[steps].view(-1)))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        samples += settings.rollout * E * A
        if time.time() - last_report > 30 or time.time() - started >= settings.seconds:
            last_report = time.time()
            stats = dict(samples=samples, seconds=round(time.time() - started, 1),
                         accuracy=round(float((logits.argmax(1) == target).float().mean()), 4),
                         goals_per_step=round(float((torch.stack(rewards) >= 1).sum()) / settings.rollout / E, 3),
                         expert_share=round(share, 3), loss=round(loss.item(), 4))
            report(stats)
        if time.time() - last_snapshot >= snapshot_every:
            last_snapshot = time.time()
            save(snapshot_path(out.parent / "snapshots-imitation", last_snapshot - started))
    save(out)
    return stats
