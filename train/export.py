"""sample-factory training checkpoints -> the project's policy file (srmt.checkpoint).

The actor-critic (train/sf_model.py) holds the SRMTPolicy under `policy.`, so
the conversion strips that prefix; everything else in the model state
(sample-factory's observation / returns normalisers) is not part of the
policy and is dropped, after checking that nothing unexpected is there.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import torch

from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.sf_compat import SAFE_GLOBALS

POLICY_FILE = "policy.pt"
POLICY_PREFIX = "policy."
NOT_POLICY_PREFIXES = ("obs_normalizer.", "returns_normalizer.")
"""sample-factory's own state in the actor-critic: not part of the exported policy."""


def checkpoint_dir(experiment_dir: str | Path) -> Path:
    """Where sample-factory writes the checkpoints of policy 0."""
    return Path(experiment_dir) / "checkpoint_p0"


def latest_checkpoint(experiment_dir: str | Path) -> Path | None:
    """The newest regular checkpoint of an experiment (names sort by train step), or None."""
    paths = sorted(glob.glob(str(checkpoint_dir(experiment_dir) / "checkpoint_*.pth")))
    return Path(paths[-1]) if paths else None


def read_sf_checkpoint(path: str | Path) -> dict[str, Any]:
    """A sample-factory checkpoint dict (weights_only, numpy scalars allowed)."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(path, map_location="cpu", weights_only=True)


def policy_state_dict(sf_model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The SRMTPolicy state dict inside an actor-critic state dict.

    Raises:
        ValueError: a key that is neither policy weights nor a known normaliser.
    """
    state, unknown = {}, []
    for name, tensor in sf_model_state.items():
        if name.startswith(POLICY_PREFIX):
            state[name[len(POLICY_PREFIX):]] = tensor
        elif not name.startswith(NOT_POLICY_PREFIXES):
            unknown.append(name)
    if unknown:
        raise ValueError(f"actor-critic weights {unknown[:5]} are not part of the SRMTPolicy; "
                         "was the checkpoint written by srmt train?")
    return state


def export_policy(checkpoint: str | Path, out_path: str | Path, model_config: ModelConfig,
                  env_config: dict, meta: dict | None = None) -> Path:
    """Convert a sample-factory checkpoint into a policy file.

    `meta` gets the checkpoint's env_steps / train_step and file name added.
    """
    sf_checkpoint = read_sf_checkpoint(checkpoint)
    policy = SRMTPolicy(model_config)
    policy.load_state_dict(policy_state_dict(sf_checkpoint["model"]), strict=True)
    meta = {**(meta or {}), "env_steps": int(sf_checkpoint["env_steps"]),
            "train_step": int(sf_checkpoint["train_step"]), "checkpoint": os.path.basename(checkpoint)}
    return save_policy(out_path, policy, model_config, env_config, meta)
