"""Warm start (`srmt train --init_policy FILE`): a fresh experiment's first checkpoint from a policy file.

sample-factory resumes from the newest checkpoint of an experiment, so starting
APPO from trained weights (e.g. `srmt imitate`'s behaviour-cloned policy) is
writing a step-0 checkpoint before the runner starts: the actor-critic built by
the registered factory with the policy's weights, and the optimizer state that
sample-factory's learner would create (Adam with the run's settings, no
moments yet). Only a fresh experiment is warm-started: one that holds a
checkpoint resumes from it and `--init_policy` is refused.

The memory mode may differ between the file and the run: every mode has the
same weights, and the run's mode applies from its first step (e.g. the shipped
lifelong policy, trained with memory 'stored', warm-starts the default
'learned' run of `lifelong-cpu`). Every other model field must match.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium
import torch

from envs.backends import make_backend
from srmt.checkpoint import LoadedPolicy, load_policy
from srmt.config import ModelConfig
from train.export import checkpoint_dir
from train.sf_model import make_actor_critic
from train.sf_settings import SRMTSettings

INIT_CHECKPOINT = "checkpoint_000000000_0.pth"


def load_init_policy(policy_path: str | Path, model: ModelConfig) -> LoadedPolicy:
    """The policy file whose weights start a run of `model` (in any memory mode).

    Raises:
        srmt.checkpoint.CheckpointError: missing, not a policy file, or a model other than the run's.
    """
    return load_policy(policy_path, expect={k: v for k, v in model.to_dict().items() if k != "memory"})


def write_initial_checkpoint(ns: argparse.Namespace, experiment_dir: Path, policy_path: str | Path) -> Path:
    """Write `experiment_dir`'s step-0 sample-factory checkpoint holding `policy_path`'s weights
    (with sample-factory's Adam, which train/checks.py requires of a warm start).

    Raises:
        srmt.checkpoint.CheckpointError: the file is not a policy file or its model is not the run's.
    """
    settings = SRMTSettings.of(ns)
    loaded = load_init_policy(policy_path, settings.model)
    probe = make_backend(settings.backend, settings.env, 1)
    actor_critic = make_actor_critic(ns, gymnasium.spaces.Dict(obs=probe.observation_space), probe.action_space)
    actor_critic.policy.load_state_dict(loaded.model.state_dict())
    optimizer = torch.optim.Adam(actor_critic.parameters(), lr=ns.learning_rate,
                                 betas=(ns.adam_beta1, ns.adam_beta2), eps=ns.adam_eps)
    path = checkpoint_dir(experiment_dir) / INIT_CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"train_step": 0, "env_steps": 0, "best_performance": -1e9,
                "model": actor_critic.state_dict(), "optimizer": optimizer.state_dict(),
                "curr_lr": ns.learning_rate}, path)
    return path
