"""Warm start (`srmt train --init_policy FILE`): a fresh experiment's first checkpoint from a policy file.

sample-factory resumes from the newest checkpoint of an experiment, so starting
APPO from trained weights (e.g. `srmt imitate`'s behaviour-cloned policy) is
writing a step-0 checkpoint before the runner starts
(train/bridge/checkpoints.py `write_initial_checkpoint`). Only a fresh
experiment is warm-started: one that holds a checkpoint resumes from it and
`--init_policy` is refused (train/checks.py).

The memory mode may differ between the file and the run: every mode has the
same weights, and the run's mode applies from its first step (e.g. the shipped
lifelong policy, trained with memory 'stored', warm-starts the default
'learned' run of `lifelong-cpu`). Every other model field must match, and so must
the observation's guidance channel (`EnvConfig.guidance`: the weights read channel
0 as the file's env drew it).
"""
from __future__ import annotations

import sys
from pathlib import Path

from envs.config import EnvConfig
from srmt.checkpoint import CheckpointError, LoadedPolicy, load_policy
from srmt.config import ModelConfig
from train.bridge.checkpoints import write_initial_checkpoint
from train.config import TrainConfig
from train.managed import sf_config


def load_init_policy(policy_path: str | Path, model: ModelConfig, guidance: str) -> LoadedPolicy:
    """The policy file whose weights start a run of `model` (in any memory mode) observing with `guidance`.

    Raises:
        srmt.checkpoint.CheckpointError: missing, not a policy file, a model other than the run's, or
            weights trained on another guidance channel.
    """
    loaded = load_policy(policy_path, expect={k: v for k, v in model.to_dict().items() if k != "memory"})
    trained = loaded.env_config.get("guidance", EnvConfig.guidance)
    if trained != guidance:
        raise CheckpointError(f"--init_policy {policy_path} was trained with guidance={trained!r}, this run observes "
                              f"with guidance={guidance!r}; add --guidance {trained} (or start from a policy "
                              f"trained with {guidance!r})")
    return loaded


def warm_start(cfg: TrainConfig) -> Path:
    """Write the step-0 checkpoint of a fresh experiment from --init_policy and say so.

    Raises:
        srmt.checkpoint.CheckpointError: the file is not a policy file or its model is not the run's.
    """
    loaded = load_init_policy(cfg.run.init_policy, cfg.model, cfg.env.guidance)
    path = write_initial_checkpoint(sf_config(cfg), cfg.run.experiment_dir, loaded.model)
    memory = loaded.model_config.memory
    modes = f" (trained in memory mode {memory!r}; this run trains in {cfg.model.memory!r})" \
        if memory != cfg.model.memory else ""
    print(f"Warm start: {path.name} holds the weights of {cfg.run.init_policy}{modes}", file=sys.stderr)
    return path
