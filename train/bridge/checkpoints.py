"""sample-factory's checkpoint files: where they are, which one a run resumes from, reading one, and
writing the step-0 one of a warm start.

sample-factory resumes from the newest `checkpoint_p0/checkpoint_<train step>_<env steps>.pth` of an
experiment (`restart_behavior=resume`). Before any process starts, train/run.py moves the checkpoints
newer than the newest intact one into `checkpoint_p0/damaged/` (`set_aside_damaged`), so a truncated
or diverged file is never what the learner loads.

Warm start (`srmt train --init_policy`, train/warm_start.py) is writing a step-0 checkpoint before the
runner starts: the actor-critic built by the registered factory holding the policy's weights, and the
optimizer state sample-factory's learner would create (Adam with the run's settings, no moments yet),
under the keys the learner reads back (`Learner.init` and `Learner._load_state`, pinned in pins.py).
"""
from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

from envs.backends import make_backend
from srmt.checkpoint import non_finite
from srmt.model import SRMTPolicy
from train.bridge.actor_critic import make_actor_critic
from train.bridge.settings import SRMTSettings

SAFE_GLOBALS = [np.core.multiarray.scalar, np.dtype, np.dtypes.Float32DType, np.dtypes.Float64DType,
                np.dtypes.Int32DType, np.dtypes.Int64DType, np.dtypes.BoolDType]
"""What a sample-factory checkpoint holds besides tensors and builtins: numpy scalars
(`best_performance` is the np.mean of episode rewards)."""
INIT_CHECKPOINT = "checkpoint_000000000_0.pth"
"""The warm start's checkpoint: train step 0, env step 0."""
DAMAGED_DIR = "damaged"
"""Sub-folder of checkpoint_p0 where checkpoints that cannot be resumed are moved (never deleted)."""


def checkpoint_dir(experiment_dir: str | Path) -> Path:
    """Where sample-factory writes the checkpoints of policy 0."""
    return Path(experiment_dir) / "checkpoint_p0"


def checkpoint_paths(experiment_dir: str | Path) -> list[Path]:
    """The regular checkpoints of an experiment, oldest first (names sort by train step)."""
    return [Path(p) for p in sorted(glob.glob(str(checkpoint_dir(experiment_dir) / "checkpoint_*.pth")))]


def latest_checkpoint(experiment_dir: str | Path) -> Path | None:
    """The newest regular checkpoint of an experiment, or None."""
    paths = checkpoint_paths(experiment_dir)
    return paths[-1] if paths else None


def read_checkpoint(path: str | Path, device: Any = "cpu") -> dict[str, Any]:
    """A sample-factory checkpoint dict (weights_only, numpy scalars allowed)."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(path, map_location=device, weights_only=True)


def checkpoint_problem(path: Path) -> str | None:
    """Why a sample-factory checkpoint cannot be resumed (unreadable, incomplete, non-finite), or None."""
    try:
        checkpoint = read_checkpoint(path)
    except Exception as err:  # noqa: BLE001 - any reading failure makes it unusable
        return f"unreadable ({type(err).__name__}: {str(err).splitlines()[0][:160]})"
    if not isinstance(checkpoint, dict) or not {"model", "env_steps", "train_step"} <= set(checkpoint):
        return "incomplete: no model / env_steps / train_step"
    bad = non_finite(checkpoint["model"])
    return f"non-finite weights in {bad[:3]}" if bad else None


def set_aside_damaged(experiment_dir: str | Path) -> list[tuple[Path, str]]:
    """Move the checkpoints newer than the newest intact one into checkpoint_p0/damaged/, so that
    sample-factory resumes from the newest intact one; returns (new path, reason) of each moved.

    Raises:
        ValueError: there are checkpoints but none is intact (nothing is moved).
    """
    damaged = []
    for path in reversed(checkpoint_paths(experiment_dir)):
        reason = checkpoint_problem(path)
        if reason is None:
            break
        damaged.append((path, reason))
    else:
        if damaged:
            listing = "; ".join(f"{p.name}: {r}" for p, r in damaged)
            raise ValueError(f"no intact checkpoint to resume in {checkpoint_dir(experiment_dir)} ({listing}); "
                             "start over with a new --experiment directory (or move checkpoint_p0 away)")
    moved = []
    for path, reason in damaged:
        target = path.parent / DAMAGED_DIR / path.name
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
        moved.append((target, reason))
    return moved


def write_initial_checkpoint(ns: argparse.Namespace, experiment_dir: Path, policy: SRMTPolicy) -> Path:
    """Write `experiment_dir`'s step-0 checkpoint: an actor-critic holding `policy`'s weights and a fresh
    Adam, as the learner of `ns` builds them (train/checks.py requires the adam optimizer of a warm start)."""
    settings = SRMTSettings.of(ns)
    probe = make_backend(settings.backend, settings.env, 1)
    actor_critic = make_actor_critic(ns, gymnasium.spaces.Dict(obs=probe.observation_space), probe.action_space)
    actor_critic.policy.load_state_dict(policy.state_dict())
    optimizer = torch.optim.Adam(actor_critic.parameters(), lr=ns.learning_rate,
                                 betas=(ns.adam_beta1, ns.adam_beta2), eps=ns.adam_eps)
    path = checkpoint_dir(experiment_dir) / INIT_CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"train_step": 0, "env_steps": 0, "best_performance": -1e9,
                "model": actor_critic.state_dict(), "optimizer": optimizer.state_dict(),
                "curr_lr": ns.learning_rate}, path)
    return path
