"""sample-factory training checkpoints -> the project's policy file (srmt.checkpoint).

The actor-critic (train/bridge/actor_critic.py) holds the SRMTPolicy under `policy.`, so
the conversion strips that prefix; everything else in the model state
(sample-factory's observation / returns normalisers) is not part of the
policy and is dropped, after checking that nothing unexpected is there.

Every exported policy recommends its decoding (`meta["decoding"]`, read by `srmt eval`, `srmt render`
and `srmt toolbox` when no --sample / --argmax is given): the warm-start file's recommendation when it
has one, else "sample" for lifelong training (on_target=restart: argmax agents deadlock in one-cell
corridors, docs/training.md) and "argmax" for Bottleneck training. A warm-start file's `meta["shield"]`
(its rollouts ran through a collision shield) is not taken over: the run records its own (`srmt train
--shield`, None without), which `srmt eval` reads to say when a policy trained with a shield runs without.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from common.outputs import OutputKind
from envs.config import is_lifelong
from srmt.checkpoint import CheckpointError, read_policy_file, save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.bridge.checkpoints import read_checkpoint

POLICY_FILE = "policy.pt"
POLICY_PREFIX = "policy."
NOT_POLICY_PREFIXES = ("obs_normalizer.", "returns_normalizer.")
"""sample-factory's own state in the actor-critic: not part of the exported policy."""
INHERITED = ("decoding",)
"""meta entries an exported policy takes over from its warm-start file."""


def is_policy_file(path: Path) -> bool:
    """Whether `path` reads as a srmt policy file (so a new policy may replace it)."""
    try:
        read_policy_file(path)
    except CheckpointError:
        return False
    return True


POLICY_OUTPUT = OutputKind("srmt policy file (.pt)", (".pt",), recognises=is_policy_file, stem="policy")
"""A policy file as a command's output (common.outputs.check_output)."""


def recommendations(on_target: str, init_meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The decoding an exported policy recommends, given its training's on_target and the
    meta of the policy file it was warm-started from (None: trained from scratch).

    >>> recommendations("restart"), recommendations("finish")
    ({'decoding': 'sample'}, {'decoding': 'argmax'})
    >>> recommendations("finish", {"decoding": "sample", "shield": "pibt", "env_steps": 5})
    {'decoding': 'sample'}
    """
    own = {"decoding": "sample" if is_lifelong(on_target) else "argmax"}
    return {**own, **{key: value for key, value in (init_meta or {}).items() if key in INHERITED and value}}


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
    sf_checkpoint = read_checkpoint(checkpoint)
    policy = SRMTPolicy(model_config)
    policy.load_state_dict(policy_state_dict(sf_checkpoint["model"]), strict=True)
    meta = {**(meta or {}), "env_steps": int(sf_checkpoint["env_steps"]),
            "train_step": int(sf_checkpoint["train_step"]), "checkpoint": os.path.basename(checkpoint)}
    return save_policy(out_path, policy, model_config, env_config, meta)
